"""`PortSet` behaves as the set of (protocol, port) pairs it stands for."""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from vfpnet.policy.portset import PROTOCOLS, PortSet

# A small window of ports (plus the edges) keeps the reference sets small.
PORTS = st.sampled_from((1, 2, 3, 5, 8, 9, 10, 65534, 65535))
ranges = st.tuples(st.sampled_from(PROTOCOLS), PORTS, PORTS).map(
    lambda t: (t[0], min(t[1], t[2]), max(t[1], t[2]))
)
portsets = st.lists(ranges, max_size=4).map(
    lambda rs: PortSet.from_mapping(
        {p: [(a, b) for q, a, b in rs if q == p] for p in PROTOCOLS}
    )
)
PROBES = [(p, n) for p in PROTOCOLS for n in (1, 2, 3, 4, 5, 6, 8, 9, 10, 11, 65534, 65535)]


def _members(ps: PortSet) -> set[tuple[str, int]]:
    return {(p, n) for p, n in PROBES if ps.contains(p, n)}


@settings(max_examples=300, deadline=None)
@given(portsets, portsets)
def test_union_intersection_difference_match_set_algebra(a: PortSet, b: PortSet) -> None:
    assert _members(a | b) == _members(a) | _members(b)
    assert _members(a & b) == _members(a) & _members(b)
    assert _members(a - b) == _members(a) - _members(b)


@settings(max_examples=300, deadline=None)
@given(portsets)
def test_ranges_are_sorted_merged_and_within_bounds(a: PortSet) -> None:
    for _proto, rs in a.items:
        assert rs
        for (_s1, e1), (s2, _e2) in itertools.pairwise(rs):
            assert e1 + 1 < s2
        assert all(1 <= s <= e <= 65535 for s, e in rs)
    assert (a | a) == a and (a - a).is_empty()
