"""Reading one manifest file into the objects of the kinds the agent uses.

YAML (multi-document) or JSON; `kind: List` and typed lists (`PodList`, ...) are opened,
their items inheriting the list's apiVersion and kind as the API's own lists imply.
Kinds the agent does not use are skipped; namespaced objects without a namespace are in
`default`, as `kubectl apply` would put them. Any error makes the whole file unreadable
(the caller keeps what it had from it): a file is applied whole or not at all.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import yaml

from vfpnet.agent.datastore.errors import BadDataError
from vfpnet.agent.datastore.kinds import (
    KIND_BY_NAME,
    ObjectKey,
    RawObject,
    check_api_version,
    object_key,
)

MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")
DEFAULT_NAMESPACE = "default"

_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def read_manifest(path: Path, text: str) -> dict[ObjectKey, RawObject]:
    """The objects in `text` (the content of `path`), keyed; raises `BadDataError`."""
    objects: dict[ObjectKey, RawObject] = {}
    for line, document in _documents(path, text):
        if document is None:
            continue
        source = f"{path}:{line}"
        for obj in _expand_lists(document, source):
            kept = _keep(obj, source)
            if kept is None:
                continue
            key, value = kept
            if key in objects:
                raise BadDataError(source, "metadata.name", f"{key} is defined twice in the file")
            objects[key] = value
    return objects


def _documents(path: Path, text: str) -> Iterator[tuple[int, Any]]:
    if path.suffix == ".json":
        try:
            yield 1, json.loads(text)
        except json.JSONDecodeError as exc:
            raise BadDataError(f"{path}:{exc.lineno}", "", f"invalid JSON: {exc.msg}") from None
        return
    loader = _Loader(text)
    try:
        while loader.check_node():
            node = loader.get_node()
            line = node.start_mark.line + 1 if node is not None else 1
            yield line, loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        problem = exc.problem or exc.context or "syntax error"
        raise BadDataError(f"{path}:{line}", "", f"invalid YAML: {problem}") from None
    except yaml.YAMLError as exc:
        raise BadDataError(str(path), "", f"invalid YAML: {exc}") from None
    finally:
        loader.dispose()


def _expand_lists(document: Any, source: str) -> Iterator[Mapping[str, Any]]:
    if not isinstance(document, Mapping):
        raise BadDataError(source, "", f"a document must be a mapping, not {_type_name(document)}")
    kind = document.get("kind")
    if not (isinstance(kind, str) and kind.endswith("List") and "items" in document):
        yield document
        return
    items = document.get("items") or []
    if not isinstance(items, list):
        raise BadDataError(source, "items", f"{kind}: must be a list")
    item_kind = kind[: -len("List")] if kind != "List" else None
    for index, item in enumerate(items):
        if not isinstance(item, Mapping):
            raise BadDataError(source, f"items[{index}]", f"{kind}: must be a mapping")
        if item_kind and "kind" not in item:
            item = {"kind": item_kind, "apiVersion": document.get("apiVersion"), **item}
        yield item


def _keep(obj: Mapping[str, Any], source: str) -> tuple[ObjectKey, RawObject] | None:
    kind_name = obj.get("kind")
    if not isinstance(kind_name, str) or not kind_name:
        raise BadDataError(source, "kind", "must be a non-empty string")
    kind = KIND_BY_NAME.get(kind_name)
    if kind is None:
        return None
    check_api_version(obj, kind, source)
    metadata = obj.get("metadata")
    if kind.namespaced and isinstance(metadata, Mapping) and not metadata.get("namespace"):
        obj = {**obj, "metadata": {**metadata, "namespace": DEFAULT_NAMESPACE}}
    return object_key(obj, kind, source), obj


def _type_name(value: Any) -> str:
    return {list: "a list", str: "a string", int: "a number", float: "a number"}.get(
        type(value), type(value).__name__
    )
