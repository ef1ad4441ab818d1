"""Decoding multi-document YAML into plain Python values, quickly.

PyYAML's safe loader parses in C (libyaml) when it can, but builds the Python values in
Python, and resolves the implicit type of every plain scalar with regular expressions;
for manifests of thousands of objects that dominates loading. This decoder keeps PyYAML's
semantics (YAML 1.1 safe types) and its errors, and takes two shortcuts:

- the implicit tag of a plain scalar depends only on its text, so it is cached;
- strings, lists and plain mappings (the bulk of a manifest) are built directly from the
  composed node tree; everything else (ints, bools, nulls, floats, timestamps, merge keys
  `<<`, explicit tags) goes through PyYAML's own SafeConstructor.

Errors are PyYAML's `MarkedYAMLError`s (with the line and column of the problem).
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.nodes import Node, ScalarNode, SequenceNode

_STR = "tag:yaml.org,2002:str"
_SEQ = "tag:yaml.org,2002:seq"
_MAP = "tag:yaml.org,2002:map"
_MERGE = "tag:yaml.org,2002:merge"

_BaseLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_plain_tags: dict[str, str] = {}


class _Loader(_BaseLoader):  # type: ignore[misc]
    """The safe loader with the implicit tag of plain scalars cached by text."""

    def resolve(self, kind: type[Node], value: Any, implicit: tuple[bool, bool]) -> str:
        if kind is ScalarNode and implicit[0]:
            tag = _plain_tags.get(value)
            if tag is None:
                tag = super().resolve(kind, value, implicit)
                _plain_tags[value] = tag
            return tag
        result: str = super().resolve(kind, value, implicit)
        return result

    # Path resolvers are not used by the safe loader; libyaml calls these per node.
    def descend_resolver(self, current_node: Any, current_index: Any) -> None:
        return None

    def ascend_resolver(self) -> None:
        return None


class _Builder:
    """Builds values from one document's node tree (aliases share their node; an alias to
    an ancestor, a recursive structure no manifest needs, is refused)."""

    def __init__(self, loader: Any) -> None:
        self.loader = loader
        self.open: set[int] = set()

    def build(self, node: Node) -> Any:
        cls = node.__class__
        if cls is ScalarNode:
            if node.tag == _STR:
                return node.value
            return self.loader.construct_object(node, deep=True)
        if node.tag != (_SEQ if cls is SequenceNode else _MAP):
            return self.loader.construct_object(node, deep=True)
        key = id(node)
        if key in self.open:
            raise yaml.constructor.ConstructorError(
                None, None, "found a recursive alias", node.start_mark
            )
        self.open.add(key)
        try:
            if cls is SequenceNode:
                return [self.build(item) for item in node.value]
            return self._mapping(node)
        finally:
            self.open.discard(key)

    def _mapping(self, node: Node) -> Any:
        build = self.build
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE:
                return self.loader.construct_object(node, deep=True)
            key = build(key_node)
            value = build(value_node)
            try:
                out[key] = value
            except TypeError:
                raise yaml.constructor.ConstructorError(
                    "while constructing a mapping", node.start_mark,
                    "found unhashable key", key_node.start_mark,
                ) from None
        return out


def load_all(text: str) -> list[Any]:
    """Every document of `text`, as PyYAML's `safe_load_all` would return them."""
    loader = _Loader(text)
    try:
        documents: list[Any] = []
        while loader.check_node():
            node = loader.get_node()
            documents.append(_Builder(loader).build(node))
        return documents
    finally:
        loader.dispose()
