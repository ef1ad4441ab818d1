"""The cloud NSG as nftables rules in the fabric, where it meets every packet leaving a node.

A packet crossing the fabric leaves one node's NIC (the NSG's Outbound rules) and enters
another's, or the same one's on a hairpin (Inbound rules), so the forward hook runs the
Outbound chain and then the Inbound chain. Each chain lists the user's rules and Azure's
defaults in priority order: the first that matches decides (Allow returns to the caller,
Deny drops). The NSG is stateful, as Azure's is: a packet of a known connection passes.

Pod references (`pod:NS/NAME`) in address prefixes are resolved before this module sees
the NSG: it gets plain CIDRs and Azure's tags.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any

from vfpnet.errors import InputError
from vfpnet.vfp.nsg import AZURE_LOAD_BALANCER, Nsg, NsgRule, effective_rules

POD_REF = "pod:"


def resolve_pod_refs(doc: Any, addresses: Mapping[str, str], source: str) -> Any:
    """The NSG document with every `pod:NS/NAME` prefix replaced by the pod's /32."""
    if isinstance(doc, list):
        return [resolve_pod_refs(item, addresses, source) for item in doc]
    if isinstance(doc, dict):
        return {k: resolve_pod_refs(v, addresses, source) for k, v in doc.items()}
    if isinstance(doc, str) and doc.startswith(POD_REF):
        pod = doc[len(POD_REF):]
        if pod not in addresses:
            raise InputError(f"{source}: nsg: {doc!r} names no pod of the lab's manifests")
        return f"{addresses[pod]}/32"
    return doc


def nsg_ruleset(table: str, nsg: Nsg, vnet: tuple[str, ...]) -> list[dict[str, Any]]:
    """nftables JSON commands that create `table` (family ip) enforcing the NSG."""
    fam = {"family": "ip", "table": table}
    cmds: list[dict[str, Any]] = [
        {"add": {"table": {"family": "ip", "name": table}}},
        {"add": {"chain": {**fam, "name": "nsg_out"}}},
        {"add": {"chain": {**fam, "name": "nsg_in"}}},
        {"add": {"chain": {**fam, "name": "forward", "type": "filter", "hook": "forward",
                           "prio": 0, "policy": "accept"}}},
    ]

    def rule(chain: str, expr: list[dict[str, Any]]) -> None:
        cmds.append({"add": {"rule": {**fam, "chain": chain, "expr": expr}}})

    rule("forward", [_match({"ct": {"key": "state"}}, {"set": ["established", "related"]},
                            "in"), {"accept": None}])
    rule("forward", [{"jump": {"target": "nsg_out"}}])
    rule("forward", [{"jump": {"target": "nsg_in"}}])
    for direction, chain in (("Outbound", "nsg_out"), ("Inbound", "nsg_in")):
        for nsg_rule in effective_rules(nsg, direction):  # type: ignore[arg-type]
            for expr in _rule_exprs(nsg_rule, vnet):
                verdict = {"return": None} if nsg_rule.access == "Allow" else {"drop": None}
                rule(chain, [*expr, {"counter": None}, verdict])
    return cmds


def _match(left: dict[str, Any], right: Any, op: str = "==") -> dict[str, Any]:
    return {"match": {"op": op, "left": left, "right": right}}


def _rule_exprs(rule: NsgRule, vnet: tuple[str, ...]) -> list[list[dict[str, Any]]]:
    """One nftables expression list per (source prefix, destination prefix) of the rule:
    consecutive rules with the same verdict are the rule's OR over its prefixes."""
    base: list[dict[str, Any]] = []
    if rule.protocol != "*":
        proto = {"Tcp": "tcp", "Udp": "udp", "Icmp": "icmp", "Esp": "esp", "Ah": "ah"}
        base.append(_match({"meta": {"key": "l4proto"}}, proto[rule.protocol]))
    for field, ranges in (("sport", rule.source_ports), ("dport", rule.destination_ports)):
        if ranges:
            items: list[Any] = [lo if lo == hi else {"range": [lo, hi]} for lo, hi in ranges]
            base.append(_match({"payload": {"protocol": "th", "field": field}}, {"set": items}))
    out: list[list[dict[str, Any]]] = []
    for src in rule.source_prefixes:
        src_m = _prefix_match("saddr", src, vnet)
        if src_m is False:
            continue
        for dst in rule.destination_prefixes:
            dst_m = _prefix_match("daddr", dst, vnet)
            if dst_m is False:
                continue
            expr = list(base)
            for m in (src_m, dst_m):
                if isinstance(m, dict):
                    expr.insert(0, m)
            out.append(expr)
    return out


def _prefix_match(field: str, prefix: str, vnet: tuple[str, ...]) -> dict[str, Any] | bool:
    """A match expression, True (matches every address) or False (matches none)."""
    left = {"payload": {"protocol": "ip", "field": field}}
    if prefix == "*":
        return True
    if prefix in ("VirtualNetwork", "Internet"):
        nets = [n for n in vnet if ipaddress.ip_network(n).version == 4]
        if not nets:
            return prefix == "Internet"
        op = "==" if prefix == "VirtualNetwork" else "!="
        return _match(left, {"set": [_cidr(n) for n in nets]}, op)
    cidr = AZURE_LOAD_BALANCER if prefix == "AzureLoadBalancer" else prefix
    if ipaddress.ip_network(cidr).version != 4:
        return False
    return _match(left, {"set": [_cidr(cidr)]})


def _cidr(text: str) -> dict[str, Any]:
    net = ipaddress.ip_network(text)
    return {"prefix": {"addr": str(net.network_address), "len": net.prefixlen}}
