"""Types every HCN resource shares (hcsshim's hcn.go): SchemaVersion, Health, queries."""

# jfield() is dataclasses.field() with the JSON name in its metadata; ruff cannot tell.
# ruff: noqa: RUF009

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from vfpnet.hns.schema.codec import extra_field, jfield

# RequestType of every Modify*SettingRequest.
REQUEST_TYPES = ("Add", "Remove", "Update", "Refresh")


@dataclass(frozen=True)
class SchemaVersion:
    major: int | None = jfield("Major", lo=0)
    minor: int | None = jfield("Minor", lo=0)
    extra: Mapping[str, Any] = extra_field()


V2_SCHEMA = SchemaVersion(2, 0)


@dataclass(frozen=True)
class ExtraParams:
    resources: Any = jfield("Resources")
    shared_containers: Any = jfield("SharedContainers")
    layered_on: str | None = jfield("LayeredOn")
    switch_guid: str | None = jfield("SwitchGuid")
    utility_vm: str | None = jfield("UtilityVM")
    virtual_machine: str | None = jfield("VirtualMachine")
    extra: Mapping[str, Any] = extra_field()


@dataclass(frozen=True)
class Health:
    data: Any = jfield("Data")
    extra_params: ExtraParams | None = jfield("Extra")
    extra: Mapping[str, Any] = extra_field()


@dataclass(frozen=True)
class HostComputeQuery:
    """The query string of HcnEnumerate*/HcnQuery*Properties.

    `Filter` is itself a JSON string: an object whose members must all equal the
    resource's (e.g. `{"Name":"azure"}`; hcsshim also filters endpoints by the v1 name
    `{"VirtualNetwork": ID}`).
    """

    schema_version: SchemaVersion | None = jfield("SchemaVersion")
    flags: int | None = jfield("Flags", lo=0, hi=0xFFFFFFFF)
    filter: str | None = jfield("Filter")
    extra: Mapping[str, Any] = extra_field()
