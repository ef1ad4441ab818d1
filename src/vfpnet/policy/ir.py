"""The rule IR: per endpoint and direction, the ordered rules every dataplane renders.

`policy.compile` reads the API objects once and produces, for each endpoint (a workload or
pod) and each direction, an `EndpointRules`: the rules that can decide that endpoint's
traffic in that direction, in the order they are checked. Renderers (HNS ACLs, VFP rules,
nftables) consume it and never look at the API objects; the reach analysis evaluates it.

Reading an `EndpointRules` (see `policy.decide` for the reference implementation):

- Rules are grouped into stages, in this order: `Stage.ADMIN` (Admin-tier
  ClusterNetworkPolicy and AdminNetworkPolicy rules, lowest priority number first, rule
  order inside a policy), `Stage.NETWORK_POLICY` (NetworkPolicy allows, then one final
  deny-everything rule when the endpoint is isolated in this direction), `Stage.BASELINE`
  (Baseline-tier ClusterNetworkPolicy rules, then BaselineAdminNetworkPolicy rules).
- The first rule that matches the traffic decides: `Action.ALLOW` and `Action.DENY` end
  the evaluation; `Action.PASS` skips the remaining rules of its stage and continues with
  the first rule of the next stage. When nothing decides, `default` applies (allow).
- A rule matches when the peer (the source for ingress, the destination for egress) is
  in `peers` and the (protocol, destination port) is in `ports`.

Rendering: give rules decreasing priority in tuple order; an ALLOW/DENY rule is one ACL.
A PASS rule is a jump to the next stage: with chains (nftables) make one chain per stage
and render PASS as `goto` the next stage's chain; for first-match allow/block lists
without jumps (HNS ACLs, one VFP layer) use `policy.flatten.flatten`, which expands each
PASS into the later rules restricted to its match. Named ports are already resolved to
numbers and label selectors to concrete endpoints (`CompiledCluster.endpoints` maps each
`EndpointKey` to its workload and IPs), so every rule is plain addresses and ports.

Public names: `Direction`, `Action`, `Stage`, `DEFAULT_TIER`, `CidrBlock`, `PeerSet`,
`ANY_PEER`, `Provenance`, `Rule`, `EndpointRules`, `ISOLATION_DENY`, `EndpointKey`; the
port sets are `policy.portset.PortSet`.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from enum import IntEnum, StrEnum

from vfpnet.policy.portset import ALL_PORTS, PortSet

EndpointKey = str
"""The stable id of an endpoint in a compiled cluster: `NAMESPACE/KIND/NAME`."""


class Direction(StrEnum):
    INGRESS = "Ingress"
    EGRESS = "Egress"


class Action(StrEnum):
    ALLOW = "Allow"
    DENY = "Deny"
    PASS = "Pass"


class Stage(IntEnum):
    """Evaluation stages in precedence order; `tier` is how provenance names each."""

    ADMIN = 0
    NETWORK_POLICY = 1
    BASELINE = 2

    @property
    def tier(self) -> str:
        return _TIER_NAMES[self]


_TIER_NAMES = {
    Stage.ADMIN: "Admin",
    Stage.NETWORK_POLICY: "NetworkPolicy",
    Stage.BASELINE: "Baseline",
}

DEFAULT_TIER = "Default"
"""The tier name provenance uses for the default that applies when no rule decides."""


@dataclass(frozen=True)
class CidrBlock:
    """Addresses in `cidr` but in none of `excepts` (NetworkPolicy ipBlock, CNP networks)."""

    cidr: str
    excepts: tuple[str, ...] = ()

    def contains(self, ip: str) -> bool:
        addr = ipaddress.ip_address(ip)
        net = ipaddress.ip_network(self.cidr, strict=False)
        if addr.version != net.version or addr not in net:
            return False
        return not any(
            addr in ipaddress.ip_network(ex, strict=False)
            for ex in self.excepts
            if ipaddress.ip_network(ex, strict=False).version == addr.version
        )


@dataclass(frozen=True)
class PeerSet:
    """The peers a rule matches.

    `any_peer`: every source/destination, in the cluster or not. Otherwise a peer matches
    when it is one of `endpoints` (selectors already resolved to concrete endpoints,
    including endpoints matched through one of their known IPs by a CIDR), or when it is
    an address outside the cluster's known endpoints that lies in one of `cidrs`.
    """

    any_peer: bool = False
    endpoints: frozenset[EndpointKey] = frozenset()
    cidrs: tuple[CidrBlock, ...] = ()

    def is_empty(self) -> bool:
        return not self.any_peer and not self.endpoints and not self.cidrs

    def matches_endpoint(self, key: EndpointKey) -> bool:
        return self.any_peer or key in self.endpoints

    def matches_address(self, ip: str) -> bool:
        """For an address that belongs to no known endpoint."""
        return self.any_peer or any(c.contains(ip) for c in self.cidrs)


ANY_PEER = PeerSet(any_peer=True)


@dataclass(frozen=True)
class Provenance:
    """Where a rule comes from.

    `tier`: "Admin", "NetworkPolicy", "Baseline" (or `DEFAULT_TIER` for a default);
    `kind`: the API kind ("ClusterNetworkPolicy", "AdminNetworkPolicy",
    "BaselineAdminNetworkPolicy", "NetworkPolicy", or "" for a default);
    `policy`: the policy's name (`NAMESPACE/NAME` for a NetworkPolicy), None for a default;
    `rule`: the rule's 0-based index in the policy's list for this direction, None for a
    default; `rule_name`: the rule's `name` field when it has one.
    """

    tier: str
    kind: str
    policy: str | None
    rule: int | None
    rule_name: str | None = None


@dataclass(frozen=True)
class Rule:
    """One IR rule: match `peers` x `ports`, then `action`."""

    stage: Stage
    action: Action
    peers: PeerSet
    ports: PortSet
    provenance: Provenance


@dataclass(frozen=True)
class EndpointRules:
    """The ordered rules of one endpoint in one direction, and the default after them.

    `isolated_by` names the NetworkPolicies (`NAMESPACE/NAME`) that select the endpoint
    for this direction; when it is non-empty the NETWORK_POLICY stage ends with a
    deny-everything rule whose provenance has `policy=None` and `rule=None`.
    """

    endpoint: EndpointKey
    direction: Direction
    rules: tuple[Rule, ...]
    isolated_by: tuple[str, ...] = ()
    default: Action = Action.ALLOW
    default_provenance: Provenance = field(
        default=Provenance(tier=DEFAULT_TIER, kind="", policy=None, rule=None)
    )

    def stage_rules(self, stage: Stage) -> tuple[Rule, ...]:
        return tuple(r for r in self.rules if r.stage == stage)


ISOLATION_DENY = Rule(
    stage=Stage.NETWORK_POLICY,
    action=Action.DENY,
    peers=ANY_PEER,
    ports=ALL_PORTS,
    provenance=Provenance(
        tier=Stage.NETWORK_POLICY.tier, kind="NetworkPolicy", policy=None, rule=None
    ),
)
"""The deny-everything rule that closes the NETWORK_POLICY stage of an isolated endpoint
(one shared object: renderers and the analysis may key caches on rule identity)."""
