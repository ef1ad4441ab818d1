"""Ports, verdicts, path traces and the NSG as JSON-ready dicts and as text.

The text of `list-rules` follows vfpctrl's /list-rule layout: port, then each layer,
its groups and their rules, indented.
"""

from __future__ import annotations

from typing import Any

from vfpnet.vfp.nsg import Nsg, NsgRule, effective_rules
from vfpnet.vfp.packet import protocol_name
from vfpnet.vfp.path import PathTrace
from vfpnet.vfp.port import Port
from vfpnet.vfp.rules import Range, Rule
from vfpnet.vfp.verdict import Verdict, verdict_as_dict


def port_as_dict(port: Port) -> dict[str, Any]:
    return {
        "endpoint": port.endpoint,
        "addresses": list(port.addresses),
        "layers": [
            {
                "layer": layer.name,
                "rule_type": layer.rule_type,
                "default": "block" if layer.has_rules else "allow",
                "groups": [
                    {
                        "group": group.name,
                        "direction": group.direction,
                        "family": f"IPv{group.family}",
                        "rules": [_rule_as_dict(r) for r in group.rules],
                    }
                    for group in layer.groups
                ],
            }
            for layer in port.layers
        ],
    }


def port_text(port: Port) -> str:
    lines = [
        "ITEM LIST",
        "===========",
        "",
        f"Port : {port.endpoint}",
        f"  Addresses : {', '.join(port.addresses) or '-'}",
    ]
    for layer in port.layers:
        lines += [
            "",
            f"  LAYER : {layer.name}",
            f"    Rule type : {layer.rule_type}",
            f"    Default : {'block (the endpoint has ACLs here)' if layer.has_rules else 'allow'}",
        ]
        for group in layer.groups:
            lines += [
                "",
                f"    GROUP : {group.name}",
                f"      Direction : {group.direction.upper()}",
                f"      Family : IPv{group.family}",
                f"      Rules : {len(group.rules)}",
            ]
            for rule in group.rules:
                lines += [
                    f"        RULE : {rule.id}",
                    f"          Priority : {rule.priority}",
                    f"          Type : {rule.action.lower()}",
                    f"          Protocol : {_protocols_text(rule)}",
                    f"          Local IP : {', '.join(rule.local_addresses) or '*'}",
                    f"          Remote IP : {', '.join(rule.remote_addresses) or '*'}",
                    f"          Local ports : {_ports_text(rule.local_ports)}",
                    f"          Remote ports : {_ports_text(rule.remote_ports)}",
                    "          Flags : stateful",
                ]
    return "\n".join(lines)


def verdict_text(verdict: Verdict) -> str:
    lines = [
        f"verdict: {verdict.verdict}",
        f"endpoint: {verdict.endpoint} ({verdict.direction})",
        f"reason: {verdict.reason}",
    ]
    for d in verdict.layers:
        where = f" {d.group}" if d.group else ""
        rule = f" rule {d.rule} (priority {d.priority})" if d.rule else ""
        lines.append(f"  {d.layer}:{where}{rule} -> {d.action}")
    return "\n".join(lines)


def verdict_dict(verdict: Verdict) -> dict[str, Any]:
    return verdict_as_dict(verdict)


def path_as_dict(trace: PathTrace) -> dict[str, Any]:
    p = trace.packet
    return {
        "verdict": trace.verdict,
        "from_endpoint": trace.from_endpoint,
        "to_endpoint": trace.to_endpoint,
        "protocol": protocol_name(p.protocol),
        "src": f"{_host(p.src)}:{p.src_port}",
        "dst": f"{_host(p.dst)}:{p.dst_port}",
        "crosses_uplink": trace.crosses_uplink,
        "hops": [
            {
                "hop": h.hop,
                "verdict": h.verdict,
                "endpoint": h.endpoint,
                "layer": h.layer,
                "group": h.group,
                "rule": h.rule,
                "priority": h.priority,
                "next_hop": h.next_hop,
                "detail": h.detail,
            }
            for h in trace.hops
        ],
    }


def path_text(trace: PathTrace) -> str:
    d = path_as_dict(trace)
    lines = [
        f"verdict: {d['verdict']}",
        f"{d['protocol']} {d['src']} ({d['from_endpoint']}) -> {d['dst']} "
        f"({d['to_endpoint'] or 'not an endpoint of this node'})",
        f"crosses the uplink NSG: {'yes' if trace.crosses_uplink else 'no'}",
    ]
    for i, h in enumerate(trace.hops, 1):
        lines.append(f"  {i}. {h.hop:<16} {h.verdict:<5}  {h.detail}")
    return "\n".join(lines)


def nsg_text(nsg: Nsg) -> str:
    lines = [f"{'PRIORITY':<9}{'NAME':<32}{'DIRECTION':<10}{'ACCESS':<7}{'PROTO':<6}SOURCE -> DEST"]
    for direction in ("Inbound", "Outbound"):
        for r in effective_rules(nsg, direction):
            lines.append(
                f"{r.priority:<9}{r.name:<32}{r.direction:<10}{r.access:<7}{r.protocol:<6}"
                f"{_side(r, 'source')} -> {_side(r, 'destination')}"
            )
    return "\n".join(lines)


def _side(rule: NsgRule, which: str) -> str:
    prefixes = rule.source_prefixes if which == "source" else rule.destination_prefixes
    ports = rule.source_ports if which == "source" else rule.destination_ports
    return f"{','.join(prefixes)}:{_ports_text(ports)}"


def _rule_as_dict(rule: Rule) -> dict[str, Any]:
    return {
        "id": rule.id,
        "priority": rule.priority,
        "action": rule.action,
        "rule_type": rule.rule_type,
        "protocols": _protocols_text(rule),
        "local_addresses": list(rule.local_addresses),
        "remote_addresses": list(rule.remote_addresses),
        "local_ports": _ports_text(rule.local_ports),
        "remote_ports": _ports_text(rule.remote_ports),
        "policy_index": rule.policy_index,
    }


def _protocols_text(rule: Rule) -> str:
    if rule.protocols is None:
        return "ANY"
    return ",".join(protocol_name(p) for p in sorted(rule.protocols))


def _ports_text(ranges: tuple[Range, ...]) -> str:
    if not ranges:
        return "*"
    return ",".join(str(lo) if lo == hi else f"{lo}-{hi}" for lo, hi in ranges)


def _host(address: str) -> str:
    return f"[{address}]" if ":" in address else address
