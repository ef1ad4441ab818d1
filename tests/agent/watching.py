"""Reading a watch in tests: until a condition holds, or for a quiet period."""

from __future__ import annotations

import time
from collections.abc import Callable

from vfpnet.agent.datastore.events import Event
from vfpnet.agent.datastore.protocol import Watch


def collect(
    watch: Watch, until: Callable[[list[Event]], bool], timeout: float = 10.0
) -> list[Event]:
    """Events from `watch` until `until(events)` holds; fails the test after `timeout` s."""
    events: list[Event] = []
    deadline = time.monotonic() + timeout
    while not until(events):
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"timed out; events so far: {events}")
        event = watch.next_event(timeout=min(left, 0.5))
        if event is not None:
            events.append(event)
    return events


def quiet_for(watch: Watch, seconds: float) -> list[Event]:
    """Every event that arrives within `seconds` (expected: none)."""
    events: list[Event] = []
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        event = watch.next_event(timeout=left)
        if event is not None:
            events.append(event)
    return events
