"""Desired endpoint rules -> nftables objects (libnftables JSON), one table of ours.

The table `inet vfpnet` (name configurable) holds:

- `forward`: the only hooked chain (forward hook, filter priority, policy accept).
  Established/related connections are accepted first (replies of allowed connections);
  then `ip saddr vmap @egress4` (and `ip6`/`egress6`) jumps to the source endpoint's
  egress chain, then `ip daddr vmap @ingress4` to the destination's ingress chain.
  Only forwarded traffic is filtered: traffic from the node itself to its pods (kubelet
  probes) goes through `output`, which we do not hook, so it is always allowed.
- per distinct rule list a chain (`i-<digest>`, `e-<digest>`, named for its content, so
  endpoints with the same rules, replicas typically, share one chain and a chain never
  changes in place): the flattened rules in order, ALLOW -> `return` (the next check
  decides: egress, then ingress, then accept), DENY -> `drop`; the final
  allow-everything is left out (falling off is `return`). An endpoint whose list is
  only that allow gets no chain and no dispatch entry in that direction.
- named sets for peer addresses, shared between rules with equal content: hash sets when
  every member is one address, interval sets otherwise (CIDRs); ports are anonymous
  sets/ranges on `tcp|udp|sctp dport`.

Expressions are written in the normal form `nft -j list` gives back, so a listing can be
compared with what was rendered (drift detection).
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from vfpnet.agent.calc import DesiredEndpoint
from vfpnet.agent.flatten import AddressRule, Network
from vfpnet.policy.ir import Action, Direction
from vfpnet.policy.portset import MAX_PORT, MIN_PORT, PROTOCOLS, PortSet

TABLE = "vfpnet"
FAMILY = "inet"
BASE_CHAIN = "forward"
Json = dict[str, Any]


@dataclass(frozen=True)
class AddressSetSpec:
    name: str
    family: int  # 4 or 6
    interval: bool
    elements: tuple[Any, ...]

    @property
    def type(self) -> str:
        return "ipv4_addr" if self.family == 4 else "ipv6_addr"


@dataclass(frozen=True)
class ChainSpec:
    name: str
    rules: tuple[tuple[str, tuple[Json, ...]], ...]  # (comment, expressions) in order


@dataclass(frozen=True)
class EndpointProgram:
    """Everything one endpoint needs in the table."""

    chains: tuple[ChainSpec, ...]
    sets: tuple[AddressSetSpec, ...]
    dispatch: tuple[tuple[str, str, str], ...]  # (map name, address, chain)


def _digest(text: str, size: int) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:size]


def chain_name(direction: Direction, rules: Sequence[tuple[str, tuple[Json, ...]]]) -> str:
    body = json.dumps(rules, sort_keys=True)
    return f"{'i' if direction is Direction.INGRESS else 'e'}-{_digest(body, 16)}"


def map_name(direction: Direction, family: int) -> str:
    return f"{'ingress' if direction is Direction.INGRESS else 'egress'}{family}"


def _element(net: Network) -> Any:
    if net.num_addresses == 1:
        return str(net.network_address)
    return {"prefix": {"addr": str(net.network_address), "len": net.prefixlen}}


def address_set(networks: Sequence[Network], family: int) -> AddressSetSpec:
    interval = any(n.num_addresses > 1 for n in networks)
    elements = tuple(_element(n) for n in networks)
    key = f"{family}|{interval}|{elements!r}"
    return AddressSetSpec(f"a{_digest(key, 16)}", family, interval, elements)


def _match(left: Json, right: Any, op: str = "==") -> Json:
    return {"match": {"op": op, "left": left, "right": right}}


def _port_matches(ports: PortSet | None) -> list[list[Json]]:
    """One expression list per protocol (an empty list: any protocol)."""
    if ports is None:
        return [[]]
    out: list[list[Json]] = []
    for protocol in PROTOCOLS:
        ranges = ports.ranges(protocol)
        if not ranges:
            continue
        name = protocol.lower()
        if ranges == ((MIN_PORT, MAX_PORT),):
            out.append([_match({"meta": {"key": "l4proto"}}, name)])
            continue
        items: list[Any] = [a if a == b else {"range": [a, b]} for a, b in ranges]
        right: Any = items[0] if len(items) == 1 and isinstance(items[0], int) else {"set": items}
        out.append([_match({"payload": {"protocol": name, "field": "dport"}}, right)])
    return out


def _verdict(action: Action) -> Json:
    return {"drop": None} if action is Action.DENY else {"return": None}


def render_rules(
    rules: Sequence[AddressRule], direction: Direction, sets: dict[str, AddressSetSpec]
) -> list[tuple[str, tuple[Json, ...]]]:
    field = "saddr" if direction is Direction.INGRESS else "daddr"
    body = list(rules)
    if body and body[-1].action is Action.ALLOW and body[-1].remote.any_address and (
        body[-1].ports is None
    ):
        body.pop()  # falling off the end of a jumped-to chain is `return` already
    out: list[tuple[str, tuple[Json, ...]]] = []
    for rule in body:
        comment = rule.origin[:120]
        address_matches: list[list[Json]] = []
        if rule.remote.any_address:
            address_matches.append([])
        else:
            for family, proto in ((4, "ip"), (6, "ip6")):
                nets = [n for n in rule.remote.networks if n.version == family]
                if not nets:
                    continue
                spec = address_set(nets, family)
                sets[spec.name] = spec
                address_matches.append(
                    [_match({"payload": {"protocol": proto, "field": field}}, f"@{spec.name}")]
                )
        for address_match in address_matches:
            for port_match in _port_matches(rule.ports):
                expr = (*address_match, *port_match, _verdict(rule.action))
                out.append((comment, expr))
    return out


@functools.lru_cache(maxsize=8192)
def render_chain(
    rules: tuple[AddressRule, ...], direction: Direction
) -> tuple[ChainSpec | None, tuple[AddressSetSpec, ...]]:
    """The chain for one flattened list (None when it allows everything) and its sets."""
    sets: dict[str, AddressSetSpec] = {}
    body = tuple(render_rules(rules, direction, sets))
    if not body:
        return None, ()
    return ChainSpec(chain_name(direction, body), body), tuple(sets[k] for k in sorted(sets))


def render_endpoint(desired: DesiredEndpoint) -> EndpointProgram:
    sets: dict[str, AddressSetSpec] = {}
    chains: list[ChainSpec] = []
    dispatch: list[tuple[str, str, str]] = []
    for direction in (Direction.INGRESS, Direction.EGRESS):
        chain, chain_sets = render_chain(desired.rules(direction), direction)
        if chain is None:
            continue
        chains.append(chain)
        sets.update((s.name, s) for s in chain_sets)
        for ip in desired.ips:
            family = 6 if ":" in ip else 4
            dispatch.append((map_name(direction, family), ip, chain.name))
    return EndpointProgram(tuple(chains), tuple(sets[k] for k in sorted(sets)), tuple(dispatch))


def base_rules() -> list[tuple[str, tuple[Json, ...]]]:
    ct = _match({"ct": {"key": "state"}}, ["established", "related"], op="in")
    out: list[tuple[str, tuple[Json, ...]]] = [("", (ct, {"accept": None}))]
    for direction, field in ((Direction.EGRESS, "saddr"), (Direction.INGRESS, "daddr")):
        for family, proto in ((4, "ip"), (6, "ip6")):
            vmap = {
                "vmap": {
                    "key": {"payload": {"protocol": proto, "field": field}},
                    "data": f"@{map_name(direction, family)}",
                }
            }
            out.append(("", (vmap,)))
    return out


# -- JSON commands ------------------------------------------------------------------------


def _obj(table: str, **fields: Any) -> Json:
    return {"family": FAMILY, "table": table, **fields}


def add_set(table: str, spec: AddressSetSpec) -> Json:
    body = _obj(table, name=spec.name, type=spec.type)
    if spec.interval:
        body["flags"] = ["interval"]
    if spec.elements:
        body["elem"] = list(spec.elements)
    return {"add": {"set": body}}


def add_rule(table: str, chain: str, comment: str, expr: Sequence[Json]) -> Json:
    body = _obj(table, chain=chain, expr=list(expr))
    if comment:
        body["comment"] = comment
    return {"add": {"rule": body}}


def add_chain(table: str, name: str) -> Json:
    return {"add": {"chain": _obj(table, name=name)}}


def map_elements(verb: str, table: str, name: str, pairs: Sequence[tuple[str, str]]) -> Json:
    elem = [[ip, {"jump": {"target": chain}}] for ip, chain in pairs]
    return {verb: {"element": _obj(table, name=name, elem=elem)}}


def skeleton(table: str) -> list[Json]:
    """The table, its maps and the hooked chain (for a full replacement)."""
    cmds: list[Json] = [{"add": {"table": {"family": FAMILY, "name": table}}}]
    for direction in (Direction.INGRESS, Direction.EGRESS):
        for family in (4, 6):
            cmds.append({"add": {"map": _obj(
                table, name=map_name(direction, family),
                type="ipv4_addr" if family == 4 else "ipv6_addr", map="verdict",
            )}})
    cmds.append({"add": {"chain": _obj(
        table, name=BASE_CHAIN, type="filter", hook="forward", prio=0, policy="accept",
    )}})
    cmds.extend(add_rule(table, BASE_CHAIN, c, e) for c, e in base_rules())
    return cmds


def full_ruleset(table: str, programs: Mapping[str, EndpointProgram]) -> list[Json]:
    """Commands that replace the whole table with `programs`, atomically (one batch)."""
    cmds: list[Json] = [{"add": {"table": {"family": FAMILY, "name": table}}}]
    cmds.append({"delete": {"table": {"family": FAMILY, "name": table}}})
    cmds.extend(skeleton(table))
    sets: dict[str, AddressSetSpec] = {}
    dispatch: dict[str, list[tuple[str, str]]] = {}
    for program in programs.values():
        for s in program.sets:
            sets[s.name] = s
        for m, ip, target in program.dispatch:
            dispatch.setdefault(m, []).append((ip, target))
    cmds.extend(add_set(table, s) for s in sets.values())
    chains = {c.name: c for program in programs.values() for c in program.chains}
    for chain in chains.values():
        cmds.append(add_chain(table, chain.name))
        cmds.extend(add_rule(table, chain.name, c, e) for c, e in chain.rules)
    cmds.extend(map_elements("add", table, m, pairs) for m, pairs in sorted(dispatch.items()))
    return cmds
