"""Flattening the rule IR into a plain first-match list of ALLOW and DENY rules.

For dataplanes without a "jump to the next stage" (HNS ACLs, VFP rules in one layer:
priority-ordered allow/block, highest priority wins), a PASS rule is replaced in place by
the rules of the later stages intersected with the PASS rule's match, followed by the
default restricted to that match. The result, read first-match with `default` after it,
decides every flow exactly as `policy.decide.decide` decides the original.

Provenance is kept: a rule copied under a PASS keeps the provenance of the later-stage
rule it came from (that rule decides the flow), and the default copied under a PASS keeps
the default's provenance.

A rule that matches all of its region (everything at the top, the PASS rule's match under
a PASS) ends that region: what follows it there could never match first, so it is left out.
"""

from __future__ import annotations

import ipaddress

from vfpnet.policy.ir import Action, CidrBlock, EndpointRules, PeerSet, Rule, Stage
from vfpnet.policy.portset import ALL_PORTS


def _block_intersection(a: CidrBlock, b: CidrBlock) -> CidrBlock | None:
    na = ipaddress.ip_network(a.cidr)
    nb = ipaddress.ip_network(b.cidr)
    if na.version != nb.version:
        return None
    if na.subnet_of(nb):  # type: ignore[arg-type]
        inner, outer = a, b
    elif nb.subnet_of(na):  # type: ignore[arg-type]
        inner, outer = b, a
    else:
        return None
    net = ipaddress.ip_network(inner.cidr)
    excepts = list(inner.excepts)
    for ex in outer.excepts:
        exn = ipaddress.ip_network(ex)
        if exn.version != net.version:
            continue
        if net.subnet_of(exn):  # type: ignore[arg-type]
            return None  # the outer block excludes all of the inner one
        if exn.subnet_of(net):  # type: ignore[arg-type]
            excepts.append(ex)
    return CidrBlock(inner.cidr, tuple(sorted(set(excepts))))


def peers_intersection(a: PeerSet, b: PeerSet) -> PeerSet:
    """The peers matched by both `a` and `b` (endpoints by key, addresses by CIDR)."""
    if a.any_peer:
        return b
    if b.any_peer:
        return a
    cidrs = []
    for x in a.cidrs:
        for y in b.cidrs:
            both = _block_intersection(x, y)
            if both is not None:
                cidrs.append(both)
    return PeerSet(endpoints=a.endpoints & b.endpoints, cidrs=tuple(dict.fromkeys(cidrs)))


def _restrict(rule: Rule, to: Rule) -> Rule | None:
    peers = peers_intersection(rule.peers, to.peers)
    ports = rule.ports & to.ports
    if peers.is_empty() or ports.is_empty():
        return None
    return Rule(rule.stage, rule.action, peers, ports, rule.provenance)


def _covers(rule: Rule, within: Rule | None) -> bool:
    """`rule` (already restricted to `within`) matches all of `within`'s region."""
    if within is None:
        return rule.peers.any_peer and rule.ports.is_all()
    return rule.peers == within.peers and rule.ports == within.ports


def _flatten_from(rules: tuple[Rule, ...], start: int, after_stage: int, within: Rule | None,
                  default: Rule) -> list[Rule]:
    """Rules from index `start` on, skipping stages <= `after_stage`, each restricted to
    `within` (None: no restriction), PASS rules expanded, then the default (unless a rule
    covering the whole region came first)."""
    out: list[Rule] = []
    for i in range(start, len(rules)):
        rule = rules[i]
        if rule.stage <= after_stage:
            continue
        restricted = rule if within is None else _restrict(rule, within)
        if restricted is None:
            continue
        if rule.action is Action.PASS:
            out.extend(_flatten_from(rules, i + 1, rule.stage, restricted, default))
        else:
            out.append(restricted)
        if _covers(restricted, within):
            return out
    tail = default if within is None else _restrict(default, within)
    if tail is not None:
        out.append(tail)
    return out


def flatten(rules: EndpointRules) -> tuple[Rule, ...]:
    """An equivalent list with only ALLOW and DENY rules, to be read first-match.

    Its last rule matches everything (any peer, every port): the default, with the
    default's action and provenance, unless a rule matching everything decides first; so
    no separate default is needed. `stage` of copied rules is the stage they came from.
    """
    default = Rule(
        Stage.BASELINE, rules.default, PeerSet(any_peer=True), ALL_PORTS,
        rules.default_provenance,
    )
    return tuple(_flatten_from(rules.rules, 0, -1, None, default))
