"""Reading the rule IR: the verdict for one flow, and the allowed ports towards one peer.

This is the reference meaning of `policy.ir` (first match decides, PASS jumps to the next
stage, then the default); renderers must produce dataplanes that agree with it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from vfpnet.policy.ir import Action, EndpointRules, PeerSet, Provenance, Rule
from vfpnet.policy.portset import ALL_PORTS, EMPTY_PORTS, PortSet


@dataclass(frozen=True)
class Decision:
    """The outcome of one direction for one flow.

    `rule` is the rule that decided, None when the default applied; `passed` are the PASS
    rules the flow went through before that.
    """

    allowed: bool
    rule: Rule | None
    passed: tuple[Rule, ...]
    provenance: Provenance


def decide(
    rules: EndpointRules, peer_matches: Callable[[PeerSet], bool], protocol: str, port: int
) -> Decision:
    """The verdict of `rules` for a flow whose peer satisfies `peer_matches`."""
    skip_stage: int | None = None
    passed: list[Rule] = []
    for rule in rules.rules:
        if skip_stage is not None and rule.stage <= skip_stage:
            continue
        if not rule.ports.contains(protocol, port) or not peer_matches(rule.peers):
            continue
        if rule.action is Action.PASS:
            passed.append(rule)
            skip_stage = rule.stage
            continue
        return Decision(rule.action is Action.ALLOW, rule, tuple(passed), rule.provenance)
    return Decision(
        rules.default is Action.ALLOW, None, tuple(passed), rules.default_provenance
    )


def allowed_ports(matching: Iterable[Rule], default: Action = Action.ALLOW) -> PortSet:
    """The ports allowed by an ordered rule list whose rules all match the peer.

    `matching` must be the rules of one `EndpointRules` that match a given peer, in their
    order; the result is every (protocol, port) whose first deciding rule allows it.
    """
    undecided = ALL_PORTS
    allowed = EMPTY_PORTS
    passed = EMPTY_PORTS
    stage: int | None = None
    for rule in matching:
        if rule.stage != stage:
            # Ports passed by the previous stage are undecided again in this one.
            undecided = undecided | passed
            passed = EMPTY_PORTS
            stage = rule.stage
        hit = rule.ports & undecided
        if not hit:
            continue
        undecided = undecided - hit
        if rule.action is Action.ALLOW:
            allowed = allowed | hit
        elif rule.action is Action.PASS:
            passed = passed | hit
        if not undecided and not passed:
            break
    undecided = undecided | passed
    if default is Action.ALLOW:
        allowed = allowed | undecided
    return allowed
