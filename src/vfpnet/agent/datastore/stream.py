"""A `Watch` fed by a producer function running in a background thread.

The producer gets a `WatchContext`: it emits events, sleeps interruptibly, and registers a
closer for whatever blocking I/O it is in (a streaming HTTP response), so that `stop()`
from another thread ends a read that would otherwise block until the server speaks.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
from collections.abc import Callable, Iterator

from vfpnet.agent.datastore.errors import DatastoreError
from vfpnet.agent.datastore.events import ErrorEvent, Event

log = logging.getLogger(__name__)

Closer = Callable[[], None]


class WatchContext:
    """The producer's side of a `ThreadedWatch`."""

    def __init__(self, stop_flag: threading.Event, out: queue.Queue[Event | None]) -> None:
        self._stop_flag = stop_flag
        self._out = out
        self._lock = threading.Lock()
        self._closers: set[Closer] = set()

    @property
    def stopping(self) -> bool:
        return self._stop_flag.is_set()

    def emit(self, event: Event) -> None:
        if not self._stop_flag.is_set():
            self._out.put(event)

    def sleep(self, seconds: float) -> bool:
        """Wait `seconds`; True if the watch is being stopped (the caller should return)."""
        return self._stop_flag.wait(seconds)

    def add_closer(self, closer: Closer) -> None:
        with self._lock:
            self._closers.add(closer)
        if self._stop_flag.is_set():
            closer()

    def remove_closer(self, closer: Closer) -> None:
        with self._lock:
            self._closers.discard(closer)

    def close_all(self) -> None:
        with self._lock:
            closers = list(self._closers)
        for closer in closers:
            with contextlib.suppress(OSError):
                closer()


class ThreadedWatch:
    """Runs `producer(context)` in a daemon thread; its events come out of `next_event`."""

    def __init__(self, name: str, producer: Callable[[WatchContext], None]) -> None:
        self._queue: queue.Queue[Event | None] = queue.Queue()
        self._stop_flag = threading.Event()
        self._ended = threading.Event()
        self._context = WatchContext(self._stop_flag, self._queue)
        self._producer = producer
        self._thread = threading.Thread(target=self._run, name=f"watch {name}", daemon=True)
        self._name = name
        self._thread.start()

    def _run(self) -> None:
        try:
            self._producer(self._context)
        except DatastoreError as exc:
            self._queue.put(ErrorEvent(exc))
        except Exception as exc:  # a bug must end the stream visibly, not kill it silently
            log.exception("watch %s: producer failed", self._name)
            message = f"{self._name}: watch ended: {type(exc).__name__}: {exc}"
            self._queue.put(ErrorEvent(DatastoreError(message)))
        finally:
            self._ended.set()
            self._queue.put(None)

    def next_event(self, timeout: float | None = None) -> Event | None:
        if self._stop_flag.is_set():
            return None
        try:
            item = self._queue.get(timeout=timeout)
        except queue.Empty:
            return None
        if item is None:
            self._queue.put(None)  # keep later callers from blocking on an ended stream
            return None
        return item

    def stop(self) -> None:
        self._stop_flag.set()
        self._context.close_all()
        self._queue.put(None)
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout=5)

    @property
    def stopped(self) -> bool:
        # Events the producer emitted before it ended are still returned by next_event.
        return self._stop_flag.is_set() or self._ended.is_set()

    def __iter__(self) -> Iterator[Event]:
        while True:
            event = self.next_event()
            if event is None:
                return
            yield event

    def __enter__(self) -> ThreadedWatch:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
