"""The flow table: connections a port has allowed, so their packets and replies pass.

VFP's rules are stateful: once a rule lets a connection's first packet through, later
packets of it and its replies match the flow, not the rules. A flow lives for an idle TTL
that every packet renews. The TTLs are this model's choice (TCP 240 s like Azure's default
idle timeout, 60 s for the rest); TCP FIN/RST do not end a flow early here.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

from vfpnet.vfp.packet import TCP
from vfpnet.vfp.verdict import Verdict

FlowKey = tuple[str, int, str, int, str, int]  # direction, protocol, src, sport, dst, dport

DEFAULT_TTLS: Mapping[int, float] = {TCP: 240.0}
DEFAULT_TTL = 60.0


class _Flow:
    __slots__ = ("expires", "ttl")

    def __init__(self, expires: float, ttl: float) -> None:
        self.expires = expires
        self.ttl = ttl


class FlowTable:
    """Flows of one port, keyed by direction and 5-tuple, each with an idle TTL."""

    _SWEEP_EVERY = 4096

    def __init__(
        self,
        ttls: Mapping[int, float] | None = None,
        default_ttl: float = DEFAULT_TTL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._ttls = dict(DEFAULT_TTLS if ttls is None else ttls)
        self._default_ttl = default_ttl
        self._clock = clock
        self._entries: dict[FlowKey, tuple[_Flow, Verdict]] = {}
        self._adds = 0

    def __len__(self) -> int:
        now = self._clock()
        return sum(1 for flow, _ in self._entries.values() if flow.expires > now) // 2

    def lookup(self, key: FlowKey) -> Verdict | None:
        """The cached verdict of a live flow (renewing its TTL), or None."""
        hit = self._entries.get(key)
        if hit is None:
            return None
        flow, verdict = hit
        now = self._clock()
        if flow.expires <= now:
            del self._entries[key]
            return None
        flow.expires = now + flow.ttl
        return verdict

    def add(self, key: FlowKey, forward: Verdict, reply_key: FlowKey, reply: Verdict) -> None:
        """Record a connection: `key` for its own direction, `reply_key` for its replies."""
        ttl = self._ttls.get(key[1], self._default_ttl)
        flow = _Flow(self._clock() + ttl, ttl)
        self._entries[key] = (flow, forward)
        self._entries[reply_key] = (flow, reply)
        self._adds += 1
        if self._adds % self._SWEEP_EVERY == 0:
            self.sweep()

    def sweep(self) -> int:
        """Drop expired flows; returns how many keys went."""
        now = self._clock()
        dead = [k for k, (flow, _) in self._entries.items() if flow.expires <= now]
        for k in dead:
            del self._entries[k]
        return len(dead)

    def clear(self) -> None:
        self._entries.clear()
