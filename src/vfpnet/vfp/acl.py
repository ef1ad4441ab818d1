"""HNS ACL policies of an endpoint, translated into the rules VFP applies.

Input is the endpoint as HCN v2 JSON (`Policies: [{"Type": "ACL", "Settings": {...}}]`);
an HNS v1 endpoint's flat ACL policies (`{"Type": "ACL", "Protocol": 6, "Action": ...}`)
are read too. Values keep HNS's formats: comma-separated address and port lists, the
protocol as a decimal string, "256" or nothing for any protocol.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from typing import Any, cast

from vfpnet.errors import InputError
from vfpnet.vfp.packet import ANY_PROTOCOL, Direction
from vfpnet.vfp.rules import (
    ACL_ENDPOINT_LAYER,
    HOST_FIREWALL_LAYER,
    Action,
    Group,
    Layer,
    Range,
    Rule,
    RuleType,
    group_name,
    precedence,
)

_ACTIONS: dict[str, Action] = {"allow": "Allow", "block": "Block", "pass": "Pass"}
_DIRECTIONS: dict[str, Direction] = {"in": "in", "out": "out"}
_RULE_TYPES: dict[str, RuleType] = {"host": "Host", "switch": "Switch"}
_LAYER_OF: dict[RuleType, str] = {"Switch": ACL_ENDPOINT_LAYER, "Host": HOST_FIREWALL_LAYER}


def endpoint_id(endpoint: Mapping[str, Any]) -> str:
    return str(endpoint.get("ID") or endpoint.get("Id") or endpoint.get("Name") or "?")


def endpoint_addresses(endpoint: Mapping[str, Any]) -> tuple[str, ...]:
    """The endpoint's IP addresses (v2 IpConfigurations, or v1 IPAddress/IPv6Address)."""
    found: list[str] = []
    for conf in endpoint.get("IpConfigurations") or ():
        if isinstance(conf, Mapping) and conf.get("IpAddress"):
            found.append(str(conf["IpAddress"]))
    for key in ("IPAddress", "IPv6Address"):
        if endpoint.get(key):
            found.append(str(endpoint[key]))
    out: list[str] = []
    for text in found:
        try:
            canonical = str(ipaddress.ip_address(text))
        except ValueError:
            continue
        if canonical not in out:
            out.append(canonical)
    return tuple(out)


def acl_rules(endpoint: Mapping[str, Any]) -> list[Rule]:
    """Every rule of the endpoint's ACL policies, in policy order (not yet grouped)."""
    ep = endpoint_id(endpoint)
    policies = endpoint.get("Policies") or []
    if not isinstance(policies, Sequence) or isinstance(policies, str):
        raise InputError(f"endpoint {ep}: field 'Policies': expected a list")
    rules: list[Rule] = []
    for index, policy in enumerate(policies):
        if not isinstance(policy, Mapping) or str(policy.get("Type", "")).upper() != "ACL":
            continue
        where = f"endpoint {ep}: Policies[{index}] (ACL)"
        settings = policy.get("Settings", policy)
        if isinstance(settings, str):
            raise InputError(f"{where}: field 'Settings': expected an object, got a string")
        if not isinstance(settings, Mapping):
            raise InputError(f"{where}: field 'Settings': expected an object")
        rules.extend(_policy_rules(settings, index, where))
    return rules


def build_layers(rules: Sequence[Rule]) -> tuple[Layer, ...]:
    """Layers in the order an inbound packet meets them (outbound walks them backwards)."""
    layers: list[Layer] = []
    for rule_type in ("Switch", "Host"):
        layer = _LAYER_OF[rule_type]
        groups: list[Group] = []
        for family in (4, 6):
            for direction in ("in", "out"):
                members = sorted(
                    (
                        r
                        for r in rules
                        if r.rule_type == rule_type
                        and r.family == family
                        and r.direction == direction
                    ),
                    key=precedence,
                )
                name = group_name(layer, family, direction)
                groups.append(Group(name, direction, family, tuple(members)))
        layers.append(Layer(layer, rule_type, tuple(groups)))
    return tuple(layers)


def _policy_rules(settings: Mapping[str, Any], index: int, where: str) -> list[Rule]:
    action = _choice(settings, "Action", _ACTIONS, where, required=True)
    direction = _choice(settings, "Direction", _DIRECTIONS, where, required=True)
    rule_type = _choice(settings, "RuleType", _RULE_TYPES, where, required=False) or "Switch"
    protocols = _protocols(settings, where)
    local = _addresses(settings, "LocalAddresses", where)
    remote = _addresses(settings, "RemoteAddresses", where)
    local_ports = _ports(settings, "LocalPorts", where)
    remote_ports = _ports(settings, "RemotePorts", where)
    priority = _priority(settings, where)
    rule_id = str(settings.get("Id") or settings.get("ID") or f"policy-{index}")

    rules: list[Rule] = []
    for family in (4, 6):
        if local and family not in local:
            continue
        if remote and family not in remote:
            continue
        loc = local.get(family, ())
        rem = remote.get(family, ())
        rules.append(
            Rule(
                id=rule_id,
                priority=priority,
                action=cast(Action, action),
                direction=cast(Direction, direction),
                rule_type=cast(RuleType, rule_type),
                family=family,
                protocols=protocols,
                local_addresses=tuple(t for t, _ in loc),
                remote_addresses=tuple(t for t, _ in rem),
                local_ports=local_ports,
                remote_ports=remote_ports,
                local_ranges=tuple(r for _, r in loc),
                remote_ranges=tuple(r for _, r in rem),
                policy_index=index,
            )
        )
    return rules


def _choice(
    settings: Mapping[str, Any],
    field: str,
    allowed: Mapping[str, str],
    where: str,
    *,
    required: bool,
) -> str | None:
    value = settings.get(field)
    if value is None or value == "":
        if required:
            raise InputError(f"{where}: field '{field}': missing")
        return None
    if not isinstance(value, str) or value.lower() not in allowed:
        names = "/".join(v if len(v) > 3 else v.capitalize() for v in allowed.values())
        raise InputError(f"{where}: field '{field}': {value!r} is not one of {names}")
    return allowed[value.lower()]


def _protocols(settings: Mapping[str, Any], where: str) -> frozenset[int] | None:
    field = "Protocols" if "Protocols" in settings else "Protocol"
    value = settings.get(field)
    if value is None or value == "":
        return None
    parts = [str(value)] if isinstance(value, int) else str(value).split(",")
    numbers: set[int] = set()
    for part in parts:
        part = part.strip()
        if not part.isdigit() or int(part) > ANY_PROTOCOL:
            raise InputError(f"{where}: field '{field}': {value!r} is not a protocol number 0-256")
        if int(part) == ANY_PROTOCOL:
            return None
        numbers.add(int(part))
    return frozenset(numbers)


def _addresses(
    settings: Mapping[str, Any], field: str, where: str
) -> dict[int, list[tuple[str, Range]]]:
    """Family -> [(CIDR as written canonically, integer range)]; {} means any address."""
    value = settings.get(field)
    if value is None or value == "":
        return {}
    if not isinstance(value, str):
        raise InputError(f"{where}: field '{field}': expected a comma-separated string")
    out: dict[int, list[tuple[str, Range]]] = {}
    for part in value.split(","):
        part = part.strip()
        if not part:
            continue
        try:
            net = ipaddress.ip_network(part, strict=False)
        except ValueError:
            raise InputError(
                f"{where}: field '{field}': {part!r} is not an IP address or CIDR"
            ) from None
        rng = (int(net.network_address), int(net.broadcast_address))
        out.setdefault(net.version, []).append((str(net), rng))
    return out


def _ports(settings: Mapping[str, Any], field: str, where: str) -> tuple[Range, ...]:
    value = settings.get(field)
    if value is None or value == "":
        return ()
    if isinstance(value, int):
        value = str(value)
    if not isinstance(value, str):
        raise InputError(f"{where}: field '{field}': expected a comma-separated string")
    ranges: list[Range] = []
    for part in value.split(","):
        part = part.strip()
        if not part:
            continue
        lo_text, _, hi_text = part.partition("-")
        lo_text, hi_text = lo_text.strip(), (hi_text.strip() or lo_text.strip())
        if not (lo_text.isdigit() and hi_text.isdigit()):
            raise InputError(f"{where}: field '{field}': {part!r} is not a port or port range")
        lo, hi = int(lo_text), int(hi_text)
        if not 0 <= lo <= hi <= 65535:
            raise InputError(f"{where}: field '{field}': {part!r} is outside 0-65535 or reversed")
        ranges.append((lo, hi))
    return tuple(ranges)


def _priority(settings: Mapping[str, Any], where: str) -> int:
    value = settings.get("Priority")
    if value is None or value == "":
        return 0  # hcsshim omits a zero Priority (`omitempty`): absent means 0
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise InputError(f"{where}: field 'Priority': expected a number 0-65535")
    text = str(value).strip()
    if not text.isdigit() or int(text) > 65535:
        raise InputError(f"{where}: field 'Priority': {value!r} is not a number 0-65535")
    return int(text)
