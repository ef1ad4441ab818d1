"""HostComputeNamespace (hcsshim's hcnnamespace.go) and ModifyNamespaceSettingRequest."""

# jfield() is dataclasses.field() with the JSON name in its metadata; ruff cannot tell.
# ruff: noqa: RUF009

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from vfpnet.hns.schema.codec import extra_field, jfield
from vfpnet.hns.schema.hcn import SchemaVersion

NAMESPACE_TYPES = ("Host", "HostDefault", "Guest", "GuestDefault")
NAMESPACE_RESOURCE_TYPES = ("Container", "Endpoint")


@dataclass(frozen=True)
class NamespaceResource:
    """`Data` is raw JSON: `{"ID": GUID}` for both Endpoint and Container resources."""

    type: str | None = jfield("Type")
    data: Any = jfield("Data")
    extra: Mapping[str, Any] = extra_field()


@dataclass(frozen=True)
class HostComputeNamespace:
    id: str | None = jfield("ID")
    namespace_id: int | None = jfield("NamespaceId", lo=0, hi=0xFFFFFFFF)
    type: str | None = jfield("Type")
    resources: tuple[NamespaceResource, ...] | None = jfield("Resources")
    schema_version: SchemaVersion | None = jfield("SchemaVersion")
    extra: Mapping[str, Any] = extra_field()


@dataclass(frozen=True)
class ModifyNamespaceSettingRequest:
    resource_type: str | None = jfield("ResourceType")
    request_type: str | None = jfield("RequestType")
    settings: Any = jfield("Settings")
    extra: Mapping[str, Any] = extra_field()
