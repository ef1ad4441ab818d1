"""A VFP port: one endpoint's layers of rules and its flow table, processing packets.

The first packet of a connection walks the layers (inbound: ACL_ENDPOINT_LAYER, then
HOST_FIREWALL_LAYER; outbound the other way round). In each layer the group of the
packet's direction and IP family is searched in precedence order and the first matching
rule decides for that layer: Allow and Block end the layer's say, Pass leaves it to the
next layer. A layer with rules and no match blocks (HNS's default block); a layer with no
rules lets the packet by. The packet is allowed when no layer blocks it; then its flow
is recorded, so the connection's later packets and its replies pass without the rules.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from vfpnet.vfp.acl import acl_rules, build_layers, endpoint_addresses, endpoint_id
from vfpnet.vfp.flows import FlowKey, FlowTable
from vfpnet.vfp.packet import PORTED_PROTOCOLS, Direction, Packet, address_key
from vfpnet.vfp.rules import Layer, Range, Rule
from vfpnet.vfp.verdict import LayerDecision, Verdict

# A rule compiled for matching: protocols, local/remote address ranges, local/remote
# port ranges (empty tuple = any), and the rule itself.
_Compiled = tuple[
    frozenset[int] | None,
    tuple[Range, ...],
    tuple[Range, ...],
    tuple[Range, ...],
    tuple[Range, ...],
    Rule,
]


class Port:
    """One endpoint's VFP port. Its rules are fixed; its flow table changes with traffic.

    Reprogramming an endpoint's ACLs means building a new Port (its flow table starts
    empty).
    """

    def __init__(
        self,
        endpoint: str,
        addresses: tuple[str, ...],
        layers: tuple[Layer, ...],
        flows: FlowTable | None = None,
    ) -> None:
        self.endpoint = endpoint
        self.addresses = addresses
        self.layers = layers
        self.flows = flows if flows is not None else FlowTable()
        self._compiled: dict[tuple[str, str, int], tuple[_Compiled, ...]] = {}
        for layer in layers:
            for group in layer.groups:
                self._compiled[(layer.name, group.direction, group.family)] = tuple(
                    (
                        r.protocols,
                        r.local_ranges,
                        r.remote_ranges,
                        r.local_ports,
                        r.remote_ports,
                        r,
                    )
                    for r in group.rules
                )
        self._group_names = {
            (layer.name, g.direction, g.family): g.name for layer in layers for g in layer.groups
        }
        self._active = tuple((layer.name, layer.has_rules) for layer in layers)

    def direction_of(self, packet: Packet) -> Direction:
        """`out` when the packet leaves this endpoint, `in` otherwise."""
        return "out" if packet.src in self.addresses else "in"

    def process(self, packet: Packet, direction: Direction | None = None) -> Verdict:
        """Verdict for a packet, through the flow table first (records allowed flows)."""
        d = direction or self.direction_of(packet)
        key: FlowKey = (
            d,
            packet.protocol,
            packet.src,
            packet.src_port,
            packet.dst,
            packet.dst_port,
        )
        cached = self.flows.lookup(key)
        if cached is not None:
            return cached
        verdict = self.evaluate(packet, d)
        if verdict.verdict == "allow":
            back: Direction = "in" if d == "out" else "out"
            reply_key: FlowKey = (
                back,
                packet.protocol,
                packet.dst,
                packet.dst_port,
                packet.src,
                packet.src_port,
            )
            self.flows.add(
                key,
                _with_flow(verdict, "established", d, "packet of an allowed connection: "),
                reply_key,
                _with_flow(verdict, "reply", back, "reply of a connection allowed by: "),
            )
        return verdict

    def evaluate(self, packet: Packet, direction: Direction) -> Verdict:
        """Verdict of the rules alone (no flow table), as for a connection's first packet."""
        family, src = address_key(packet.src)
        family2, dst = address_key(packet.dst)
        if family2 != family:
            raise ValueError(f"packet mixes IPv{family} and IPv{family2} addresses")
        local, remote = (src, dst) if direction == "out" else (dst, src)
        lport, rport = (
            (packet.src_port, packet.dst_port)
            if direction == "out"
            else (packet.dst_port, packet.src_port)
        )
        ported = packet.protocol in PORTED_PROTOCOLS
        order = self._active if direction == "in" else tuple(reversed(self._active))
        decisions: list[LayerDecision] = []
        deciding: LayerDecision | None = None
        for layer_name, has_rules in order:
            if not has_rules:
                decisions.append(LayerDecision(layer_name, "no-rules"))
                continue
            group = self._group_names[(layer_name, direction, family)]
            rule = _first_match(
                self._compiled[(layer_name, direction, family)],
                packet.protocol,
                local,
                remote,
                lport,
                rport,
                ported,
            )
            if rule is None:
                decision = LayerDecision(layer_name, "default-block", group)
            else:
                action = "allow" if rule.action == "Allow" else rule.action.lower()
                decision = LayerDecision(
                    layer_name,
                    "allow" if action == "allow" else ("block" if action == "block" else "pass"),
                    group,
                    rule.id,
                    rule.priority,
                )
            decisions.append(decision)
            if decision.action in ("block", "default-block"):
                return _block(self.endpoint, direction, decision, tuple(decisions))
            if decision.action == "allow":
                deciding = decision
        return _allow(self.endpoint, direction, deciding, tuple(decisions))


def build_port(endpoint: Mapping[str, Any], flows: FlowTable | None = None) -> Port:
    """The VFP port HNS would program for an endpoint given as HCN JSON."""
    rules = acl_rules(endpoint)
    return Port(endpoint_id(endpoint), endpoint_addresses(endpoint), build_layers(rules), flows)


def port_factory(clock: Callable[[], float]) -> Callable[[Mapping[str, Any]], Port]:
    """build_port with flow tables on a given clock (tests move time by hand)."""
    return lambda endpoint: build_port(endpoint, FlowTable(clock=clock))


def _in_ranges(ranges: tuple[Range, ...], value: int) -> bool:
    # A plain loop: any() over a generator costs several times more per rule.
    for lo, hi in ranges:  # noqa: SIM110
        if lo <= value <= hi:
            return True
    return False


def _first_match(
    compiled: tuple[_Compiled, ...],
    protocol: int,
    local: int,
    remote: int,
    lport: int,
    rport: int,
    ported: bool,
) -> Rule | None:
    for protos, lranges, rranges, lports, rports, rule in compiled:
        if protos is not None and protocol not in protos:
            continue
        if lranges and not _in_ranges(lranges, local):
            continue
        if rranges and not _in_ranges(rranges, remote):
            continue
        if lports or rports:
            # A rule with ports matches only protocols that carry ports.
            if not ported:
                continue
            if lports and not _in_ranges(lports, lport):
                continue
            if rports and not _in_ranges(rports, rport):
                continue
        return rule
    return None


def _block(
    endpoint: str,
    direction: Direction,
    decision: LayerDecision,
    decisions: tuple[LayerDecision, ...],
) -> Verdict:
    if decision.action == "default-block":
        reason = (
            f"no rule of {decision.group} matched: blocked by default "
            f"(the endpoint has ACLs in {decision.layer})"
        )
    else:
        reason = f"rule {decision.rule} (priority {decision.priority}) blocks"
    return Verdict(
        "block",
        endpoint,
        direction,
        reason,
        decision.layer,
        decision.group,
        decision.rule,
        decision.priority,
        None,
        decisions,
    )


def _allow(
    endpoint: str,
    direction: Direction,
    deciding: LayerDecision | None,
    decisions: tuple[LayerDecision, ...],
) -> Verdict:
    if deciding is None:
        passed = [d for d in decisions if d.action == "pass"]
        if not passed:
            reason = "the endpoint has no ACL policies: nothing filters it"
            return Verdict(
                "allow", endpoint, direction, reason, None, None, None, None, "new", decisions
            )
        deciding = passed[-1]
        reason = (
            f"rule {deciding.rule} (priority {deciding.priority}) passes "
            "and no later layer has rules"
        )
    else:
        reason = f"rule {deciding.rule} (priority {deciding.priority}) allows"
    return Verdict(
        "allow",
        endpoint,
        direction,
        reason,
        deciding.layer,
        deciding.group,
        deciding.rule,
        deciding.priority,
        "new",
        decisions,
    )


def _with_flow(verdict: Verdict, flow: str, direction: Direction, prefix: str) -> Verdict:
    return Verdict(
        verdict.verdict,
        verdict.endpoint,
        direction,
        prefix + verdict.reason,
        verdict.layer,
        verdict.group,
        verdict.rule,
        verdict.priority,
        "established" if flow == "established" else "reply",
        verdict.layers,
    )
