"""Layers, groups and rules of a VFP port, as plain data.

A port holds layers; a layer holds groups, one per direction and IP family; a group holds
rules ordered by precedence. Addresses and ports are kept both as written (for listing)
and as integer ranges (for matching).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from vfpnet.vfp.packet import Direction

Action = Literal["Allow", "Block", "Pass"]
RuleType = Literal["Host", "Switch"]
Range = tuple[int, int]

# Layer names: the VFP layer HNS programs for Switch ACLs, and the host firewall (WFP)
# filter set where HNS puts Host ACLs.
ACL_ENDPOINT_LAYER = "ACL_ENDPOINT_LAYER"
HOST_FIREWALL_LAYER = "HOST_FIREWALL_LAYER"

# At equal Priority a Block rule goes first, then Pass, then Allow (see vfpnet.vfp).
ACTION_RANK: dict[str, int] = {"Block": 0, "Pass": 1, "Allow": 2}


@dataclass(frozen=True, slots=True)
class Rule:
    """One ACL rule in one group (an HNS ACL policy may give one rule per IP family)."""

    id: str
    priority: int
    action: Action
    direction: Direction
    rule_type: RuleType
    family: int
    protocols: frozenset[int] | None  # None: any protocol ("256")
    local_addresses: tuple[str, ...]  # () = any
    remote_addresses: tuple[str, ...]
    local_ports: tuple[Range, ...]  # () = any
    remote_ports: tuple[Range, ...]
    local_ranges: tuple[Range, ...]  # the addresses as integer ranges of `family`
    remote_ranges: tuple[Range, ...]
    policy_index: int  # position of the ACL policy in the endpoint's Policies


@dataclass(frozen=True, slots=True)
class Group:
    name: str
    direction: Direction
    family: int
    rules: tuple[Rule, ...]


@dataclass(frozen=True, slots=True)
class Layer:
    name: str
    rule_type: RuleType
    groups: tuple[Group, ...]

    @property
    def has_rules(self) -> bool:
        return any(g.rules for g in self.groups)


def group_name(layer: str, family: int, direction: Direction) -> str:
    stem = layer.removesuffix("_LAYER")
    return f"{stem}_GROUP_IPV{family}_{direction.upper()}"


def precedence(rule: Rule) -> tuple[int, int, int]:
    """Sort key: lower Priority first; at a tie Block, Pass, Allow; then policy order."""
    return rule.priority, ACTION_RANK[rule.action], rule.policy_index
