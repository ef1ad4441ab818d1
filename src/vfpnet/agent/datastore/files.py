"""The files datastore: a directory of manifests, watched with inotify (or by polling).

Every `*.yaml`, `*.yml` and `*.json` under the directory (recursively; names starting with
a dot are skipped, so a ConfigMap volume's `..data` twin is read once, through its
symlinks) is read with `manifests.read_manifest`. A poll compares each file's
(ctime, mtime, size, inode); a changed file is read again and the union of all files' objects is
diffed against the previous union, so a change comes out as per-object events.

A file that cannot be read (a syntax error, a malformed object) keeps the objects it had
before and yields one `ErrorEvent` naming the file and line: a broken edit never removes
policies. The same object defined in two files is taken from the first file (by path).
"""

from __future__ import annotations

import logging
import os
import secrets
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from vfpnet.agent.datastore.errors import BadDataError, DatastoreError, DatastoreUnavailable
from vfpnet.agent.datastore.events import (
    ErrorEvent,
    EventType,
    ObjectEvent,
    ResyncEvent,
    Snapshot,
)
from vfpnet.agent.datastore.inotify import DirectoryNotifier
from vfpnet.agent.datastore.kinds import ObjectKey, RawObject
from vfpnet.agent.datastore.manifests import MANIFEST_SUFFIXES, read_manifest
from vfpnet.agent.datastore.stream import ThreadedWatch, WatchContext

log = logging.getLogger(__name__)

Signature = tuple[int, int, int, int, int]  # ctime, mtime, size, inode, device
SETTLE = 0.05  # seconds a changed file must stay unchanged before it is read
INOTIFY_POLL_FACTOR = 10  # with inotify, the safety poll runs this many intervals apart


@dataclass(frozen=True)
class _FileState:
    signature: Signature
    objects: Mapping[ObjectKey, RawObject]  # the last objects read without error
    error: BadDataError | None = None


@dataclass(frozen=True)
class _Tree:
    """One poll's view of the directory."""

    revision: str
    files: Mapping[Path, _FileState]
    objects: Mapping[ObjectKey, RawObject]
    duplicates: frozenset[str] = frozenset()
    missing: bool = False


@dataclass
class _Scan:
    files: dict[Path, _FileState] = field(default_factory=dict)
    errors: list[DatastoreError] = field(default_factory=list)


class FilesDatastore:
    """`files:DIR`."""

    def __init__(
        self, directory: Path, poll_interval: float = 0.2, use_inotify: bool = True
    ) -> None:
        self.directory = directory
        self.poll_interval = poll_interval
        self.use_inotify = use_inotify
        self._token = secrets.token_hex(4)
        self._counter = 0
        self._lock = threading.Lock()
        self._latest = _Tree(self._next_revision(), {}, {})

    @property
    def description(self) -> str:
        return f"files:{self.directory}"

    def snapshot(self) -> Snapshot:
        with self._lock:
            previous = self._latest
        if not self.directory.is_dir():
            raise DatastoreUnavailable(f"{self.description}: not a directory")
        scan = _scan(self.directory, previous.files)
        # Every current problem, not only the new ones: a snapshot stands on its own.
        tree, _ = self._merge(scan.files, _Tree(previous.revision, {}, {}))
        self._publish(tree)
        errors: list[DatastoreError] = []
        for path in sorted(tree.files):
            error = tree.files[path].error
            if error is not None:
                errors.append(error)
        errors += [DatastoreError(msg) for msg in sorted(tree.duplicates)]
        return Snapshot(dict(tree.objects), tree.revision, tuple(errors))

    def watch(self, since: str) -> ThreadedWatch:
        return ThreadedWatch(self.description, lambda ctx: self._produce(ctx, since))

    def _produce(self, ctx: WatchContext, since: str) -> None:
        with self._lock:
            tree = self._latest
        if tree.revision != since:
            try:
                snapshot = self.snapshot()
            except DatastoreError as exc:
                ctx.emit(ErrorEvent(exc))
            else:
                ctx.emit(ResyncEvent(snapshot, f"revision {since!r} is not this store's latest"))
            with self._lock:
                tree = self._latest
        notifier = DirectoryNotifier.create() if self.use_inotify else None
        if notifier is None:
            while not ctx.sleep(self.poll_interval):
                tree = self._poll(ctx, tree)
            return
        # inotify wakes us when a file is written; a slow poll stays as the safety net
        # (events lost to a queue overflow, file systems that do not report).
        try:
            notifier.watch_tree(self.directory)
            last_poll = time.monotonic()
            while not ctx.stopping:
                changes = notifier.wait(min(self.poll_interval, 0.1))
                due = time.monotonic() - last_poll >= self.poll_interval * INOTIFY_POLL_FACTOR
                if changes.anything or due:
                    if not self.directory.is_dir() or due:
                        notifier.watch_tree(self.directory)
                    # A file still open for writing waits for its close (or the safety poll).
                    postpone = frozenset() if due else changes.writing
                    tree = self._poll(ctx, tree, frozenset(changes.complete), postpone)
                    last_poll = time.monotonic()
        finally:
            notifier.close()

    def _poll(
        self,
        ctx: WatchContext,
        tree: _Tree,
        complete: frozenset[Path] = frozenset(),
        postpone: frozenset[Path] = frozenset(),
    ) -> _Tree:
        if not self.directory.is_dir():
            if not tree.missing:
                ctx.emit(
                    ErrorEvent(
                        DatastoreUnavailable(
                            f"{self.description}: not a directory (keeping the objects read)"
                        )
                    )
                )
            return _Tree(tree.revision, tree.files, tree.objects, tree.duplicates, missing=True)
        scan = _scan(self.directory, tree.files, complete, postpone)
        if scan.files == tree.files and not tree.missing:
            return tree
        new_tree, duplicate_errors = self._merge(scan.files, tree)
        for error in scan.errors + duplicate_errors:
            log.warning("%s", error)
            ctx.emit(ErrorEvent(error))
        for event in _diff(tree.objects, new_tree.objects, new_tree.revision):
            ctx.emit(event)
        self._publish(new_tree)
        return new_tree

    def _merge(
        self, files: Mapping[Path, _FileState], previous: _Tree
    ) -> tuple[_Tree, list[DatastoreError]]:
        """The union of the files' objects, and the duplicates not reported before."""
        objects: dict[ObjectKey, RawObject] = {}
        origin: dict[ObjectKey, Path] = {}
        duplicates: dict[str, BadDataError] = {}
        for path in sorted(files):
            for key, obj in files[path].objects.items():
                if key in objects:
                    error = BadDataError(
                        str(path), "metadata.name",
                        f"{key} is also defined in {origin[key]}; that one is used",
                    )
                    duplicates[str(error)] = error
                    continue
                objects[key] = obj
                origin[key] = path
        new: list[DatastoreError] = [
            e for msg, e in sorted(duplicates.items()) if msg not in previous.duplicates
        ]
        tree = _Tree(self._next_revision(), dict(files), objects, frozenset(duplicates))
        return tree, new

    def _next_revision(self) -> str:
        self._counter += 1
        return f"{self._counter}@{self._token}"

    def _publish(self, tree: _Tree) -> None:
        with self._lock:
            self._latest = tree


def _diff(
    old: Mapping[ObjectKey, RawObject], new: Mapping[ObjectKey, RawObject], revision: str
) -> Iterator[ObjectEvent]:
    for key in sorted(old.keys() - new.keys()):
        yield ObjectEvent(EventType.DELETED, key, old[key], revision)
    for key in sorted(new):
        if key not in old:
            yield ObjectEvent(EventType.ADDED, key, new[key], revision)
        elif old[key] != new[key]:
            yield ObjectEvent(EventType.MODIFIED, key, new[key], revision)


def _scan(
    directory: Path,
    previous: Mapping[Path, _FileState],
    complete: frozenset[Path] = frozenset(),
    postpone: frozenset[Path] = frozenset(),
) -> _Scan:
    """Read what changed since `previous`.

    A changed file is read only once its signature has stayed the same for SETTLE
    seconds: a writer that truncates and rewrites in place is otherwise caught half-way
    (and the kernel may show the new size before the new ctime). One still moving is
    read at the next poll. Files in `complete` (inotify saw them closed after writing or
    renamed into place) are read at once; those in `postpone` (still open for writing)
    keep their previous state.
    """
    scan = _Scan()
    changed: dict[Path, Signature] = {}
    for path in _manifest_paths(directory):
        try:
            signature = _signature(path)
        except FileNotFoundError:
            continue
        before = previous.get(path)
        if before is not None and (before.signature == signature or path in postpone):
            scan.files[path] = before
        elif path not in postpone:
            changed[path] = signature
    if changed.keys() - complete:
        time.sleep(SETTLE)
    for path, signature in changed.items():
        before = previous.get(path)
        state = _read(path, signature, before)
        if state is None:  # still changing: pick it up at the next poll
            if before is not None:
                scan.files[path] = before
            continue
        scan.files[path] = state
        if state.error is not None:
            scan.errors.append(state.error)
    return scan


def _read(path: Path, signature: Signature, before: _FileState | None) -> _FileState | None:
    kept: Mapping[ObjectKey, RawObject] = before.objects if before else {}
    try:
        if _signature(path) != signature:
            return None
        text = path.read_text(encoding="utf-8")
        if _signature(path) != signature:
            return None
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        return _FileState(signature, kept, BadDataError(str(path), "", f"cannot read: {reason}"))
    try:
        return _FileState(signature, read_manifest(path, text))
    except BadDataError as exc:
        problem = exc.problem
        if kept:
            problem += f" (keeping the {len(kept)} objects read from it before)"
        return _FileState(signature, kept, BadDataError(exc.source, exc.field, problem))


def _signature(path: Path) -> Signature:
    st = path.stat()
    return (st.st_ctime_ns, st.st_mtime_ns, st.st_size, st.st_ino, st.st_dev)


def _manifest_paths(directory: Path) -> list[Path]:
    found: list[Path] = []
    for root, dirs, names in os.walk(directory, followlinks=True):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        found.extend(
            Path(root, n) for n in names if not n.startswith(".") and n.endswith(MANIFEST_SUFFIXES)
        )
    return sorted(found)
