"""Desired endpoint rules -> HNS ACL policies (HCN v2 `ACL` endpoint policy settings).

Per endpoint and direction the flattened rules (see `flatten`) become ACLs in the same
order, with priorities that grow down the list (a lower number wins in VFP), so the
priority encodes the stage, then the policy, then the rule order:

- `HOST_PRIORITY`: Allow In from the node's own addresses (kubelet probes; always);
- from `FIRST_PRIORITY` on, one number per ACL in flattened order: Admin-tier rules,
  then NetworkPolicy allows, then the isolation Block, then Baseline-tier rules;
- the flattened list's last rule, the default, is the explicit lowest-precedence Allow
  (Protocols 256: any) in a direction that no policy isolates; in an isolated direction
  the list ends with the isolation Block instead.

`except` needs no Block of its own: the flattened address lists are the CIDR minus its
excepts, exactly. Named ports are numbers already. A TCP/UDP/SCTP rule is one ACL per
protocol; ingress ports are `LocalPorts`, egress ports `RemotePorts`.
A list longer than the priorities left cannot be expressed: `Unexpressible`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from vfpnet.agent.calc import DesiredEndpoint
from vfpnet.agent.flatten import AddressRule
from vfpnet.policy.ir import Action, Direction
from vfpnet.policy.portset import MAX_PORT, MIN_PORT, PROTOCOLS

ID_PREFIX = "vfpnet-"
HOST_PRIORITY = 100
FIRST_PRIORITY = 1000
LAST_PRIORITY = 65500
_PROTOCOL_NUMBERS = {"TCP": "6", "UDP": "17", "SCTP": "132"}
ANY_PROTOCOL = "256"


class Unexpressible(ValueError):
    """HNS cannot hold these rules exactly."""


def _acl(
    rule_id: str, action: str, direction: Direction, priority: int, **fields: str
) -> dict[str, Any]:
    settings: dict[str, Any] = {
        "Id": rule_id,
        "Action": action,
        "Direction": "In" if direction is Direction.INGRESS else "Out",
        "RuleType": "Switch",
        "Priority": priority,
    }
    settings.update({k: v for k, v in fields.items() if v})
    return {"Type": "ACL", "Settings": settings}


def render_direction(
    rules: Sequence[AddressRule], direction: Direction, tag: str
) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    priority = FIRST_PRIORITY
    ports_field = "LocalPorts" if direction is Direction.INGRESS else "RemotePorts"
    for index, rule in enumerate(rules):
        action = "Allow" if rule.action is Action.ALLOW else "Block"
        remote = "" if rule.remote.any_address else ",".join(str(n) for n in rule.remote.networks)
        variants: list[dict[str, str]] = []
        if rule.ports is None:
            variants.append({"Protocols": ANY_PROTOCOL})
        else:
            for protocol in PROTOCOLS:
                ranges = rule.ports.ranges(protocol)
                if not ranges:
                    continue
                text = ",".join(str(a) if a == b else f"{a}-{b}" for a, b in ranges)
                if ranges == ((MIN_PORT, MAX_PORT),):
                    text = ""
                variants.append({"Protocols": _PROTOCOL_NUMBERS[protocol], ports_field: text})
        for variant in variants:
            if priority > LAST_PRIORITY:
                raise Unexpressible(
                    f"{direction.value}: more than {LAST_PRIORITY - FIRST_PRIORITY + 1} ACLs"
                )
            out.append(_acl(
                f"{ID_PREFIX}{tag}-{index}-{len(out)}", action, direction, priority,
                RemoteAddresses=remote, **variant,
            ))
            priority += 1
    return out


def deny_all(direction: Direction, tag: str) -> list[dict[str, Any]]:
    """What an endpoint gets in a direction HNS cannot express: fail closed."""
    return [_acl(f"{ID_PREFIX}{tag}-closed", "Block", direction, FIRST_PRIORITY,
                 Protocols=ANY_PROTOCOL)]


def render_endpoint(
    desired: DesiredEndpoint, host_addresses: Sequence[str]
) -> tuple[list[dict[str, Any]], str | None]:
    """The endpoint's ACL policies, and an error when a direction had to fail closed."""
    policies: list[dict[str, Any]] = []
    if host_addresses:
        policies.append(_acl(
            f"{ID_PREFIX}host", "Allow", Direction.INGRESS, HOST_PRIORITY,
            Protocols=ANY_PROTOCOL, RemoteAddresses=",".join(host_addresses),
        ))
    error: str | None = None
    for direction, tag in ((Direction.INGRESS, "in"), (Direction.EGRESS, "out")):
        try:
            policies.extend(render_direction(desired.rules(direction), direction, tag))
        except Unexpressible as exc:
            error = f"HNS cannot express the rules: {exc}"
            policies.extend(deny_all(direction, tag))
    return policies, error
