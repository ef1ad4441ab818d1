"""What the model answers: a verdict, the layer/group/rule that decided, and how."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

LayerAction = Literal["allow", "block", "pass", "default-block", "no-rules"]
FlowState = Literal["new", "established", "reply"]


@dataclass(frozen=True, slots=True)
class LayerDecision:
    """How one layer of a port treated a packet (`rule` is None for a layer default)."""

    layer: str
    action: LayerAction
    group: str | None = None
    rule: str | None = None
    priority: int | None = None


@dataclass(frozen=True, slots=True)
class Verdict:
    """The port's answer for one packet in one direction.

    `layer`/`group`/`rule`/`priority` name what decided: the blocking layer's rule (or its
    default block), else the last layer whose rule allowed. `flow` says whether the packet
    opened a connection ("new") or rode an existing one ("established", "reply"); None when
    it was blocked.
    """

    verdict: Literal["allow", "block"]
    endpoint: str
    direction: Literal["in", "out"]
    reason: str
    layer: str | None = None
    group: str | None = None
    rule: str | None = None
    priority: int | None = None
    flow: FlowState | None = None
    layers: tuple[LayerDecision, ...] = ()

    @property
    def allowed(self) -> bool:
        return self.verdict == "allow"


def verdict_as_dict(verdict: Verdict) -> dict[str, Any]:
    return {
        "verdict": verdict.verdict,
        "endpoint": verdict.endpoint,
        "direction": verdict.direction,
        "layer": verdict.layer,
        "group": verdict.group,
        "rule": verdict.rule,
        "priority": verdict.priority,
        "flow": verdict.flow,
        "reason": verdict.reason,
        "layers": [
            {
                "layer": d.layer,
                "action": d.action,
                "group": d.group,
                "rule": d.rule,
                "priority": d.priority,
            }
            for d in verdict.layers
        ],
    }
