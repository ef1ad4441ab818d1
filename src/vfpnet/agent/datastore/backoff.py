"""Exponential backoff between reconnect attempts, reset once a connection has worked."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class BackoffPolicy:
    initial: float = 0.5
    maximum: float = 30.0
    factor: float = 2.0


class Backoff:
    def __init__(self, policy: BackoffPolicy) -> None:
        self._policy = policy
        self._next = policy.initial

    def next_delay(self) -> float:
        delay = self._next
        self._next = min(self._next * self._policy.factor, self._policy.maximum)
        return delay

    def reset(self) -> None:
        self._next = self._policy.initial


DEFAULT_BACKOFF = BackoffPolicy()
