"""A Windows-twin node's VFP ports as nftables chains, generated from the VFP model's ports.

Input is `vfpnet.vfp.Port` (built from the endpoint's HNS state by `build_port`), never
the policy: what packets meet is what HNS holds. Per port and direction one chain walks
the port's layers in the VFP order (inbound ACL_ENDPOINT_LAYER then HOST_FIREWALL_LAYER,
outbound the reverse); a layer with rules is its own chain whose rules are the group's
rules in precedence order: Allow and Pass return (the next layer has its say), Block
drops, and no match drops (HNS's default block). A layer without rules is skipped.

The node's forward hook sends a packet from an endpoint's address through that port's
out chain and a packet to an endpoint's address through its in chain; conntrack lets a
connection's later packets and replies pass, as the VFP flow table does. Only IPv4 is
realized (the lab's VNet is IPv4).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from typing import Any

from vfpnet.vfp.packet import ANY_PROTOCOL, PORTED_PROTOCOLS
from vfpnet.vfp.port import Port
from vfpnet.vfp.rules import Layer, Range, Rule

TABLE_SUFFIX = "_vfp"


def ports_ruleset(table: str, vswitch: str, ports: Sequence[Port]) -> list[dict[str, Any]]:
    """Commands that (re)create `table` in family ip with every port's chains."""
    fam = {"family": "ip", "table": table}
    cmds: list[dict[str, Any]] = [
        {"add": {"table": {"family": "ip", "name": table}}},
        {"delete": {"table": {"family": "ip", "name": table}}},
        {"add": {"table": {"family": "ip", "name": table}}},
        {"add": {"chain": {**fam, "name": "forward", "type": "filter", "hook": "forward",
                           "prio": 0, "policy": "accept"}}},
    ]

    def rule(chain: str, expr: list[dict[str, Any]]) -> None:
        cmds.append({"add": {"rule": {**fam, "chain": chain, "expr": expr}}})

    rule("forward", [_match({"ct": {"key": "state"}}, {"set": ["established", "related"]},
                            "in"), {"accept": None}])
    for index, port in enumerate(ports):
        addresses = [a for a in port.addresses if ipaddress.ip_address(a).version == 4]
        if not addresses:
            continue
        for direction, field, dev_key in (("out", "saddr", "iifname"),
                                          ("in", "daddr", "oifname")):
            chain = f"p{index}_{direction}"
            cmds.append({"add": {"chain": {**fam, "name": chain}}})
            order = port.layers if direction == "in" else tuple(reversed(port.layers))
            for layer in order:
                if not layer.has_rules:
                    continue
                layer_chain = f"p{index}_{direction}_{_short(layer)}"
                cmds.append({"add": {"chain": {**fam, "name": layer_chain}}})
                for r in _group_rules(layer, direction):
                    verdict = {"drop": None} if r.action == "Block" else {"return": None}
                    for expr in _rule_exprs(r, direction):
                        rule(layer_chain, [*expr, {"counter": None}, verdict])
                rule(layer_chain, [{"counter": None}, {"drop": None}])
                rule(chain, [{"jump": {"target": layer_chain}}])
            rule("forward", [
                _match({"meta": {"key": dev_key}}, vswitch),
                _match({"payload": {"protocol": "ip", "field": field}},
                       {"set": sorted(addresses)}),
                {"jump": {"target": chain}},
            ])
    return cmds


def _short(layer: Layer) -> str:
    return "acl" if layer.rule_type == "Switch" else "host"


def _group_rules(layer: Layer, direction: str) -> tuple[Rule, ...]:
    for group in layer.groups:
        if group.direction == direction and group.family == 4:
            return group.rules
    return ()


def _match(left: dict[str, Any], right: Any, op: str = "==") -> dict[str, Any]:
    return {"match": {"op": op, "left": left, "right": right}}


def _rule_exprs(rule: Rule, direction: str) -> list[list[dict[str, Any]]]:
    """The rule's matches (one list; a list of lists leaves room for rules that need an OR)."""
    expr: list[dict[str, Any]] = []
    local_field, remote_field = ("saddr", "daddr") if direction == "out" else ("daddr", "saddr")
    lport_field, rport_field = ("sport", "dport") if direction == "out" else ("dport", "sport")
    protocols = rule.protocols
    if protocols is not None and ANY_PROTOCOL not in protocols:
        expr.append(_match({"meta": {"key": "l4proto"}}, {"set": sorted(protocols)}))
    if rule.local_ports or rule.remote_ports:
        ported = PORTED_PROTOCOLS if protocols is None else protocols & PORTED_PROTOCOLS
        if not ported:
            return []
        expr.append(_match({"meta": {"key": "l4proto"}}, {"set": sorted(ported)}))
    for field, ranges in ((local_field, rule.local_ranges), (remote_field, rule.remote_ranges)):
        if ranges:
            expr.append(_match({"payload": {"protocol": "ip", "field": field}},
                               {"set": [_address_range(r) for r in merge_ranges(ranges)]}))
    for field, ports in ((lport_field, rule.local_ports), (rport_field, rule.remote_ports)):
        if ports:
            expr.append(_match({"payload": {"protocol": "th", "field": field}},
                               {"set": [lo if lo == hi else {"range": [lo, hi]}
                                        for lo, hi in merge_ranges(ports)]}))
    return [expr]


def merge_ranges(ranges: Sequence[Range]) -> list[Range]:
    """Sorted, with overlapping and adjacent ranges joined (nftables refuses overlaps)."""
    out: list[Range] = []
    for lo, hi in sorted(ranges):
        if out and lo <= out[-1][1] + 1:
            out[-1] = (out[-1][0], max(out[-1][1], hi))
        else:
            out.append((lo, hi))
    return out


def _address_range(r: Range) -> Any:
    lo, hi = (str(ipaddress.IPv4Address(v)) for v in r)
    return lo if lo == hi else {"range": [lo, hi]}
