"""The small protocol every dataplane driver implements.

A driver is handed desired rules (`calc.DesiredEndpoint`) and makes the dataplane hold
them; it never decides policy. `apply` takes a delta (only the endpoints whose rules
changed, and those that went away); `resync` is handed the whole desired state, compares
it with what the dataplane actually holds and repairs any difference (drift).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from vfpnet.agent.calc import Delta, DesiredEndpoint
from vfpnet.errors import VfpnetError


class DataplaneError(VfpnetError):
    """The dataplane refused or failed a change; what it held before stays."""


@dataclass(frozen=True)
class ApplyResult:
    """`programmed`: endpoints written; `repaired`: drift was found and undone;
    `errors`: per endpoint, a rule the dataplane cannot express (that endpoint's
    direction was made deny-all instead: fail closed)."""

    programmed: tuple[str, ...] = ()
    repaired: bool = False
    errors: Mapping[str, str] = field(default_factory=dict)


class Driver(Protocol):
    name: str

    def apply(self, delta: Delta) -> ApplyResult: ...

    def resync(self, desired: Mapping[str, DesiredEndpoint]) -> ApplyResult: ...

    def cleanup(self) -> None: ...
