"""Typed access to the fields of one manifest object, failing with the API server's kind of
message: `FILE: KIND NS/NAME: FIELD.PATH: what is wrong` (one line, `InputError`).

An `ObjectRef` names the object being read; the `want_*` functions read one field of a
decoded YAML/JSON value and check its JSON type, `ref.fail(path, message)` reports
anything else. Field paths are written as the API server writes them:
`spec.ingress[0].ports[1].endPort`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, NoReturn

from vfpnet.errors import InputError


@dataclass(frozen=True)
class ObjectRef:
    """Where an object came from: its file, kind, namespace (None if cluster-scoped) and
    name ("" while unknown); `warnings` collects what `warn` says about it."""

    file: str
    kind: str
    namespace: str | None
    name: str
    warnings: list[str] = field(default_factory=list, compare=False, repr=False)

    @property
    def label(self) -> str:
        name = self.name or "<unnamed>"
        return f"{self.kind} {self.namespace}/{name}" if self.namespace else f"{self.kind} {name}"

    def fail(self, path: str, message: str) -> NoReturn:
        """Raise the one-line InputError for field `path` of this object."""
        raise input_error(f"{self.file}: {self.label}: {path}: {message}")


    def warn(self, path: str, message: str) -> None:
        """Record a one-line warning about field `path` of this object."""
        self.warnings.append(one_line(f"{self.file}: {self.label}: {path}: {message}"))


def one_line(text: str) -> str:
    """`text` with every non-printable character (newlines included) escaped, so that
    names and values taken from a manifest cannot break a message over lines."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in text)


def input_error(message: str) -> InputError:
    """The InputError for `message`, kept on one line."""
    return InputError(one_line(message))


def child(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def index(path: str, i: int) -> str:
    return f"{path}[{i}]"


def type_name(value: object) -> str:
    """The JSON type of `value`, with its article ("a list", "an object")."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return f"a {type(value).__name__}"


def want_mapping(ref: ObjectRef, value: object, path: str) -> Mapping[str, Any]:
    """`value` as an object (a JSON object); null is read as an empty object, as the
    API server's decoder does for an omitted struct."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        ref.fail(path, f"must be an object, not {type_name(value)}")
    for key in value:
        if not isinstance(key, str):
            ref.fail(path, f"key {key!r} must be a string")
    return value


def want_list(ref: ObjectRef, value: object, path: str) -> list[Any]:
    """`value` as a list; null reads as an empty list."""
    if value is None:
        return []
    if not isinstance(value, list):
        ref.fail(path, f"must be a list, not {type_name(value)}")
    return value


def want_str(ref: ObjectRef, value: object, path: str) -> str:
    if not isinstance(value, str):
        ref.fail(path, f"must be a string, not {type_name(value)}")
    return value


def want_int(ref: ObjectRef, value: object, path: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, float) and value.is_integer():
            return int(value)
        ref.fail(path, f"must be an integer, not {type_name(value)}")
    return value


def want_bool(ref: ObjectRef, value: object, path: str) -> bool:
    if not isinstance(value, bool):
        ref.fail(path, f"must be a boolean, not {type_name(value)}")
    return value


def require(ref: ObjectRef, obj: Mapping[str, Any], key: str, path: str) -> Any:
    """The value of a required field; a missing or null field fails as `Required value`."""
    value = obj.get(key)
    if value is None:
        ref.fail(child(path, key), "Required value")
    return value


def want_str_map(ref: ObjectRef, value: object, path: str) -> dict[str, str]:
    """A map of string to string (labels, matchLabels). A null value reads as "", as Go's
    JSON decoder reads it into a string."""
    mapping = want_mapping(ref, value, path)
    out: dict[str, str] = {}
    for key, item in mapping.items():
        out[key] = "" if item is None else want_str(ref, item, child(path, key))
    return out
