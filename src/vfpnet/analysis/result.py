"""The values `reach` and `explain` produce, before any output format is applied."""

from __future__ import annotations

from dataclasses import dataclass

from vfpnet.policy.portset import PortSet


@dataclass(frozen=True)
class Node:
    """A workload (or an external IP block) as it appears in the output."""

    id: str
    kind: str
    namespace: str
    name: str


@dataclass(frozen=True)
class Connection:
    src: str
    dst: str
    allowed: PortSet


@dataclass(frozen=True)
class ReachResult:
    """Nodes sorted by id; connections sorted by (src, dst), none of them empty or a self pair."""

    nodes: tuple[Node, ...]
    connections: tuple[Connection, ...]
    warnings: tuple[str, ...]


@dataclass(frozen=True)
class DirectionVerdict:
    """How one direction was decided (the JSON object of CONTRACTS.md's `explain`)."""

    allowed: bool
    tier: str
    policy: str | None
    rule: int | None
    reason: str
    kind: str = ""


@dataclass(frozen=True)
class Explanation:
    src: Node
    dst: Node
    protocol: str
    port: int
    egress: DirectionVerdict
    ingress: DirectionVerdict
    warnings: tuple[str, ...] = ()

    @property
    def allowed(self) -> bool:
        return self.egress.allowed and self.ingress.allowed
