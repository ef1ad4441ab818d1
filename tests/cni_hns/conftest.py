from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from hnsnode import REFERENCE, HnsNode

if not (REFERENCE / "host-local").exists():
    pytest.skip(
        "Debian's reference IPAM plugins (containernetworking-plugins) are not installed",
        allow_module_level=True,
    )


@pytest.fixture
def node() -> Iterator[HnsNode]:
    n = HnsNode()
    try:
        yield n
    finally:
        n.close()


@pytest.fixture
def make_node() -> Iterator[Callable[[str], HnsNode]]:
    """A node whose HNS is of a given version (feature gates as hcsshim derives them)."""
    made: list[HnsNode] = []

    def make(version: str) -> HnsNode:
        n = HnsNode(version)
        made.append(n)
        return n

    try:
        yield make
    finally:
        for n in made:
            n.close()

