"""Decoding HCN JSON into frozen dataclasses and back, keeping what we do not know.

A schema type is a frozen dataclass whose fields carry their exact JSON name
(`jfield("ID")`) and one `extra` field (`extra_field()`) that holds every member the type
does not declare, so unknown fields round-trip untouched. A field left out of the JSON is
None and is left out again on encoding; a field that was present (even 0 or "") comes back.
Member names match exactly; like Go's encoding/json (which hcsshim uses), a member whose
name differs only in case is accepted too and written back under the schema's spelling.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from typing import Any, TypeVar, Union

T = TypeVar("T")


class SchemaError(ValueError):
    """JSON that does not fit the schema: `path` names the member at fault."""

    def __init__(self, path: str, reason: str) -> None:
        self.path = path or "(document)"
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


def jfield(name: str, *, lo: int | None = None, hi: int | None = None) -> Any:
    """A schema field named `name` in JSON; absent means None. lo/hi bound integers."""
    return dataclasses.field(default=None, metadata={"json": name, "lo": lo, "hi": hi})


def extra_field() -> Any:
    """The field that keeps members the schema does not declare."""
    return dataclasses.field(default_factory=dict, metadata={"extra": True}, compare=True)


class _FieldSpec(typing.NamedTuple):
    attr: str
    json: str
    kind: Any
    lo: int | None
    hi: int | None


_SPECS: dict[type, tuple[tuple[_FieldSpec, ...], str | None, dict[str, _FieldSpec]]] = {}


def _specs(cls: type) -> tuple[tuple[_FieldSpec, ...], str | None, dict[str, _FieldSpec]]:
    cached = _SPECS.get(cls)
    if cached is not None:
        return cached
    hints = typing.get_type_hints(cls)
    specs: list[_FieldSpec] = []
    extra: str | None = None
    for f in dataclasses.fields(cls):
        if f.metadata.get("extra"):
            extra = f.name
            continue
        specs.append(
            _FieldSpec(
                f.name,
                f.metadata["json"],
                _strip_none(hints[f.name]),
                f.metadata.get("lo"),
                f.metadata.get("hi"),
            )
        )
    lower = {s.json.lower(): s for s in specs}
    result = (tuple(specs), extra, lower)
    _SPECS[cls] = result
    return result


def _strip_none(tp: Any) -> Any:
    origin = typing.get_origin(tp)
    if origin in (Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return args[0] if len(args) == 1 else Any
    return tp


def decode(cls: type[T], data: object, path: str = "") -> T:
    """An instance of schema type `cls` from parsed JSON; SchemaError names what is wrong."""
    if not isinstance(data, Mapping):
        raise SchemaError(path, f"expected an object, got {_kind(data)}")
    specs, extra_attr, lower = _specs(cls)
    by_name = {s.json: s for s in specs}
    values: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    for key, value in data.items():
        spec = by_name.get(key) or lower.get(key.lower())
        if spec is None or spec.attr in values:
            extra[key] = value
            continue
        values[spec.attr] = _decode_value(spec, value, f"{path}.{spec.json}" if path else spec.json)
    if extra_attr is not None:
        values[extra_attr] = extra
    return cls(**values)


def _decode_value(spec: _FieldSpec, value: object, path: str) -> Any:
    if value is None:
        return None
    return _convert(spec.kind, value, path, spec.lo, spec.hi)


def _convert(kind: Any, value: object, path: str, lo: int | None, hi: int | None) -> Any:
    if kind is Any:
        return value
    if kind is str:
        if not isinstance(value, str):
            raise SchemaError(path, f"expected a string, got {_kind(value)}")
        return value
    if kind is bool:
        if not isinstance(value, bool):
            raise SchemaError(path, f"expected true or false, got {_kind(value)}")
        return value
    if kind is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise SchemaError(path, f"expected an integer, got {_kind(value)}")
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            raise SchemaError(path, f"{value} is out of range {lo}..{hi}")
        return value
    origin = typing.get_origin(kind)
    if origin is tuple:
        (item,) = typing.get_args(kind)[:1]
        if not isinstance(value, list):
            raise SchemaError(path, f"expected an array, got {_kind(value)}")
        return tuple(_convert(item, v, f"{path}[{i}]", lo, hi) for i, v in enumerate(value))
    if dataclasses.is_dataclass(kind) and isinstance(kind, type):
        return decode(kind, value, path)
    raise TypeError(f"unsupported schema kind {kind!r}")  # a bug in a schema declaration


def encode(obj: object) -> dict[str, Any]:
    """The JSON object for a schema instance (members in declaration order, extras last)."""
    specs, extra_attr, _ = _specs(type(obj))
    out: dict[str, Any] = {}
    for spec in specs:
        value = getattr(obj, spec.attr)
        if value is not None:
            out[spec.json] = _encode_value(value)
    if extra_attr is not None:
        for key, value in getattr(obj, extra_attr).items():
            out.setdefault(key, value)
    return out


def _encode_value(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_encode_value(v) for v in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return encode(value)
    return value


def _kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"
