"""The cloud's network security group (Azure NSG) on the node's uplink.

Rules have Azure's shape: name, priority 100-4096 (unique per direction), direction
Inbound/Outbound, access Allow/Deny, protocol Tcp/Udp/Icmp/Esp/Ah/*, source and
destination address prefixes ("*", an IP, a CIDR, or the tags VirtualNetwork,
AzureLoadBalancer, Internet) and port ranges ("*", "80", "1000-2000"). The lowest
priority number that matches decides; Azure's default rules (65000-65500) follow the
user's rules. The NSG is stateful, as Azure's is: a reply of an allowed flow is not
evaluated again, so only the packets that open a connection are traced here.

Tags: VirtualNetwork is the NSG file's `virtualNetwork` prefixes, or else the subnets of
the node's HNS networks; Internet is every address outside VirtualNetwork;
AzureLoadBalancer is 168.63.129.16. Other service tags are refused.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from vfpnet.errors import InputError
from vfpnet.vfp.packet import ICMP, ICMPV6, TCP, UDP, Packet, address_key
from vfpnet.vfp.rules import Range

NsgDirection = Literal["Inbound", "Outbound"]
NsgAccess = Literal["Allow", "Deny"]

_PROTOCOLS: dict[str, str] = {
    "tcp": "Tcp",
    "udp": "Udp",
    "icmp": "Icmp",
    "esp": "Esp",
    "ah": "Ah",
    "*": "*",
    "any": "*",
}
_PROTOCOL_NUMBERS: dict[str, frozenset[int]] = {
    "Tcp": frozenset({TCP}),
    "Udp": frozenset({UDP}),
    "Icmp": frozenset({ICMP, ICMPV6}),
    "Esp": frozenset({50}),
    "Ah": frozenset({51}),
}
TAGS = ("VirtualNetwork", "AzureLoadBalancer", "Internet")
AZURE_LOAD_BALANCER = "168.63.129.16/32"


@dataclass(frozen=True, slots=True)
class NsgRule:
    name: str
    priority: int
    direction: NsgDirection
    access: NsgAccess
    protocol: str  # Tcp, Udp, Icmp, Esp, Ah or *
    source_prefixes: tuple[str, ...]  # "*", CIDRs, tags
    source_ports: tuple[Range, ...]  # () = any
    destination_prefixes: tuple[str, ...]
    destination_ports: tuple[Range, ...]
    default: bool = False


@dataclass(frozen=True, slots=True)
class Nsg:
    rules: tuple[NsgRule, ...] = ()
    virtual_network: tuple[str, ...] = ()  # () = the node's HNS subnets


@dataclass(frozen=True, slots=True)
class NsgDecision:
    access: NsgAccess
    direction: NsgDirection
    rule: str
    priority: int
    default: bool


def _default(name: str, priority: int, direction: NsgDirection, access: NsgAccess,
             src: str, dst: str) -> NsgRule:  # fmt: skip
    return NsgRule(name, priority, direction, access, "*", (src,), (), (dst,), (), True)


DEFAULT_RULES: tuple[NsgRule, ...] = (
    _default("AllowVnetInBound", 65000, "Inbound", "Allow", "VirtualNetwork", "VirtualNetwork"),
    _default("AllowAzureLoadBalancerInBound", 65001, "Inbound", "Allow", "AzureLoadBalancer", "*"),
    _default("DenyAllInBound", 65500, "Inbound", "Deny", "*", "*"),
    _default("AllowVnetOutBound", 65000, "Outbound", "Allow", "VirtualNetwork", "VirtualNetwork"),
    _default("AllowInternetOutBound", 65001, "Outbound", "Allow", "*", "Internet"),
    _default("DenyAllOutBound", 65500, "Outbound", "Deny", "*", "*"),
)


def effective_rules(nsg: Nsg, direction: NsgDirection) -> list[NsgRule]:
    """The user's rules and Azure's defaults of one direction, in evaluation order."""
    rules = [r for r in (*nsg.rules, *DEFAULT_RULES) if r.direction == direction]
    return sorted(rules, key=lambda r: r.priority)


def evaluate_nsg(
    nsg: Nsg, packet: Packet, direction: NsgDirection, virtual_network: Sequence[str]
) -> NsgDecision:
    """The rule that decides a connection's first packet crossing the NSG."""
    vnet = nsg.virtual_network or tuple(virtual_network)
    vnet_ranges = [_cidr_range(c) for c in vnet]
    for rule in effective_rules(nsg, direction):
        if rule.protocol != "*" and packet.protocol not in _PROTOCOL_NUMBERS[rule.protocol]:
            continue
        if not _prefixes_match(rule.source_prefixes, packet.src, vnet_ranges):
            continue
        if not _prefixes_match(rule.destination_prefixes, packet.dst, vnet_ranges):
            continue
        if rule.source_ports and not _port_match(rule.source_ports, packet.src_port):
            continue
        if rule.destination_ports and not _port_match(rule.destination_ports, packet.dst_port):
            continue
        return NsgDecision(rule.access, direction, rule.name, rule.priority, rule.default)
    raise AssertionError("the default Deny rules match every packet")


def parse_nsg(document: Any, source: str) -> Nsg:
    """An NSG from its JSON/YAML document; InputError names file, rule and field."""
    rules_doc: Any = document
    vnet_doc: Any = None
    if isinstance(document, Mapping):
        props = document.get("properties")
        if isinstance(props, Mapping) and "securityRules" in props:
            rules_doc = props["securityRules"]
        elif "securityRules" in document:
            rules_doc = document["securityRules"]
        else:
            raise InputError(f"{source}: field 'securityRules': missing")
        vnet_doc = document.get("virtualNetwork")
    if not isinstance(rules_doc, list):
        raise InputError(f"{source}: field 'securityRules': expected a list of rules")
    vnet: tuple[str, ...] = ()
    if vnet_doc is not None:
        items = [vnet_doc] if isinstance(vnet_doc, str) else vnet_doc
        if not isinstance(items, list):
            raise InputError(f"{source}: field 'virtualNetwork': expected a list of CIDRs")
        for item in items:
            if not isinstance(item, str) or not _is_cidr(item):
                raise InputError(f"{source}: field 'virtualNetwork': {item!r} is not a CIDR")
        vnet = tuple(str(ipaddress.ip_network(i, strict=False)) for i in items)
    rules = [_parse_rule(r, i, source) for i, r in enumerate(rules_doc)]
    seen_names: set[str] = set()
    seen_priorities: dict[tuple[str, int], str] = {}
    for index, rule in enumerate(rules):
        where = f"{source}: securityRules[{index}] ({rule.name!r})"
        if rule.name in seen_names:
            raise InputError(f"{where}: field 'name': another rule has the same name")
        seen_names.add(rule.name)
        other = seen_priorities.get((rule.direction, rule.priority))
        if other is not None:
            raise InputError(
                f"{where}: field 'priority': {rule.priority} is already used by {other!r} "
                f"({rule.direction})"
            )
        seen_priorities[(rule.direction, rule.priority)] = rule.name
    return Nsg(tuple(rules), vnet)


def nsg_as_dict(nsg: Nsg) -> dict[str, Any]:
    """The NSG in the file format `parse_nsg` reads (defaults left out)."""
    return {
        "virtualNetwork": list(nsg.virtual_network),
        "securityRules": [rule_as_dict(r) for r in nsg.rules],
    }


def rule_as_dict(rule: NsgRule) -> dict[str, Any]:
    return {
        "name": rule.name,
        "properties": {
            "priority": rule.priority,
            "direction": rule.direction,
            "access": rule.access,
            "protocol": rule.protocol,
            "sourceAddressPrefixes": list(rule.source_prefixes),
            "sourcePortRanges": _ranges_text(rule.source_ports),
            "destinationAddressPrefixes": list(rule.destination_prefixes),
            "destinationPortRanges": _ranges_text(rule.destination_ports),
        },
    }


def _parse_rule(doc: Any, index: int, source: str) -> NsgRule:
    if not isinstance(doc, Mapping):
        raise InputError(f"{source}: securityRules[{index}]: expected an object")
    name = doc.get("name")
    where = f"{source}: securityRules[{index}] ({name!r})"
    if not isinstance(name, str) or not name.strip():
        raise InputError(f"{source}: securityRules[{index}]: field 'name': missing or empty")
    props = doc.get("properties", doc)
    if not isinstance(props, Mapping):
        raise InputError(f"{where}: field 'properties': expected an object")
    priority = props.get("priority")
    if isinstance(priority, bool) or not isinstance(priority, int) or not (100 <= priority <= 4096):
        raise InputError(f"{where}: field 'priority': {priority!r} is not an integer 100-4096")
    direction = _enum(props, "direction", ("Inbound", "Outbound"), where)
    access = _enum(props, "access", ("Allow", "Deny"), where)
    protocol_raw = props.get("protocol")
    if not isinstance(protocol_raw, str) or protocol_raw.lower() not in _PROTOCOLS:
        raise InputError(
            f"{where}: field 'protocol': {protocol_raw!r} is not one of Tcp, Udp, Icmp, Esp, Ah, *"
        )
    return NsgRule(
        name=name,
        priority=priority,
        direction=direction,  # type: ignore[arg-type]
        access=access,  # type: ignore[arg-type]
        protocol=_PROTOCOLS[protocol_raw.lower()],
        source_prefixes=_prefixes(props, "sourceAddressPrefix", where),
        source_ports=_port_ranges(props, "sourcePortRange", where),
        destination_prefixes=_prefixes(props, "destinationAddressPrefix", where),
        destination_ports=_port_ranges(props, "destinationPortRange", where),
    )


def _enum(props: Mapping[str, Any], field: str, allowed: tuple[str, ...], where: str) -> str:
    value = props.get(field)
    for choice in allowed:
        if isinstance(value, str) and value.lower() == choice.lower():
            return choice
    raise InputError(f"{where}: field '{field}': {value!r} is not one of {'/'.join(allowed)}")


def _both(props: Mapping[str, Any], field: str, where: str) -> tuple[str, list[Any]] | None:
    """Values of the singular field and its plural form (`...Prefix`, `...Prefixes`)."""
    plural = field + ("es" if field.endswith("Prefix") else "s")
    values: list[Any] = []
    if props.get(field) not in (None, ""):
        values.append(props[field])
    many = props.get(plural)
    if many not in (None, []):
        if not isinstance(many, list):
            raise InputError(f"{where}: field '{plural}': expected a list")
        values.extend(many)
    if not values:
        return None
    return (plural if many else field), values


def _prefixes(props: Mapping[str, Any], field: str, where: str) -> tuple[str, ...]:
    found = _both(props, field, where)
    if found is None:
        raise InputError(f"{where}: field '{field}': missing")
    name, values = found
    out: list[str] = []
    for value in values:
        if not isinstance(value, str):
            raise InputError(f"{where}: field '{name}': {value!r} is not a string")
        text = value.strip()
        if text in ("*", "Any", "any"):
            out.append("*")
        elif text in TAGS:
            out.append(text)
        elif _is_cidr(text):
            out.append(str(ipaddress.ip_network(text, strict=False)))
        else:
            raise InputError(
                f"{where}: field '{name}': {value!r} is not '*', an IP, a CIDR or one of the "
                f"tags {', '.join(TAGS)}"
            )
    return tuple(out)


def _port_ranges(props: Mapping[str, Any], field: str, where: str) -> tuple[Range, ...]:
    found = _both(props, field, where)
    if found is None:
        return ()  # Azure requires the field; an absent one reads as "*"
    name, values = found
    ranges: list[Range] = []
    for value in values:
        text = str(value).strip()
        if text == "*":
            return ()
        lo, _, hi = text.partition("-")
        hi = hi or lo
        if not (lo.strip().isdigit() and hi.strip().isdigit()):
            raise InputError(f"{where}: field '{name}': {value!r} is not '*', a port or a range")
        a, b = int(lo), int(hi)
        if not 0 <= a <= b <= 65535:
            raise InputError(f"{where}: field '{name}': {value!r} is outside 0-65535 or reversed")
        ranges.append((a, b))
    return tuple(ranges)


def _ranges_text(ranges: tuple[Range, ...]) -> list[str]:
    if not ranges:
        return ["*"]
    return [str(lo) if lo == hi else f"{lo}-{hi}" for lo, hi in ranges]


def _is_cidr(text: str) -> bool:
    try:
        ipaddress.ip_network(text, strict=False)
    except ValueError:
        return False
    return True


def _cidr_range(cidr: str) -> tuple[int, Range]:
    net = ipaddress.ip_network(cidr, strict=False)
    return net.version, (int(net.network_address), int(net.broadcast_address))


def _prefixes_match(
    prefixes: tuple[str, ...], address: str, vnet: Sequence[tuple[int, Range]]
) -> bool:
    family, value = address_key(address)
    in_vnet = any(f == family and lo <= value <= hi for f, (lo, hi) in vnet)
    for prefix in prefixes:
        if prefix == "*":
            return True
        if prefix == "VirtualNetwork":
            if in_vnet:
                return True
            continue
        if prefix == "Internet":
            if not in_vnet:
                return True
            continue
        f, (lo, hi) = _cidr_range(AZURE_LOAD_BALANCER if prefix == "AzureLoadBalancer" else prefix)
        if f == family and lo <= value <= hi:
            return True
    return False


def _port_match(ranges: tuple[Range, ...], port: int) -> bool:
    return any(lo <= port <= hi for lo, hi in ranges)
