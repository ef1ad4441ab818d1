"""Linux inotify through ctypes: wake the files datastore as soon as a manifest is written.

Only what the files datastore needs: watch a directory tree, and wait for a batch of
events telling which files were completely written (closed after writing, or renamed into
place: those can be read at once) and whether anything else changed (a deletion, a new
directory, a file still being written). Where inotify is missing, `create()` returns None
and the datastore polls.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import select
import struct
from dataclasses import dataclass, field
from pathlib import Path

IN_MODIFY = 0x2
IN_ATTRIB = 0x4
IN_CLOSE_WRITE = 0x8
IN_MOVED_FROM = 0x40
IN_MOVED_TO = 0x80
IN_CREATE = 0x100
IN_DELETE = 0x200
IN_DELETE_SELF = 0x400
IN_MOVE_SELF = 0x800
IN_Q_OVERFLOW = 0x4000
IN_IGNORED = 0x8000
IN_ONLYDIR = 0x1000000
IN_ISDIR = 0x40000000
IN_NONBLOCK = 0o4000
IN_CLOEXEC = 0o2000000

_MASK = (
    IN_MODIFY | IN_ATTRIB | IN_CLOSE_WRITE | IN_MOVED_FROM | IN_MOVED_TO | IN_CREATE
    | IN_DELETE | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR
)
_HEADER = struct.Struct("iIII")  # wd, mask, cookie, len (struct inotify_event)


@dataclass
class Changes:
    """One batch: files complete on disk, files open for writing, and whether anything
    at all happened."""

    complete: set[Path] = field(default_factory=set)
    writing: frozenset[Path] = frozenset()
    anything: bool = False


class DirectoryNotifier:
    def __init__(self, libc: ctypes.CDLL, fd: int) -> None:
        self._libc = libc
        self._fd = fd
        self._dirs: dict[int, Path] = {}
        self._writing: set[Path] = set()  # modified and not closed yet

    @classmethod
    def create(cls) -> DirectoryNotifier | None:
        name = ctypes.util.find_library("c")
        if name is None:
            return None
        try:
            libc = ctypes.CDLL(name, use_errno=True)
            init = libc.inotify_init1
        except (OSError, AttributeError):
            return None
        init.argtypes = [ctypes.c_int]
        fd = init(IN_NONBLOCK | IN_CLOEXEC)
        if fd < 0:
            return None
        libc.inotify_add_watch.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_uint32]
        return cls(libc, fd)

    def watch_tree(self, root: Path) -> None:
        """Watch `root` and every directory below it (dot-directories skipped, as read)."""
        for directory, subdirs, _ in os.walk(root, followlinks=True):
            subdirs[:] = [d for d in subdirs if not d.startswith(".")]
            wd = self._libc.inotify_add_watch(self._fd, os.fsencode(directory), _MASK)
            if wd >= 0:
                self._dirs[wd] = Path(directory)

    def wait(self, timeout: float) -> Changes:
        """The events of the next `timeout` seconds (returns at the first batch)."""
        changes = Changes()
        ready, _, _ = select.select([self._fd], [], [], timeout)
        while ready:
            try:
                data = os.read(self._fd, 65536)
            except BlockingIOError:
                break
            self._parse(data, changes)
        changes.writing = frozenset(self._writing)
        return changes

    def _parse(self, data: bytes, changes: Changes) -> None:
        offset = 0
        while offset + _HEADER.size <= len(data):
            wd, mask, _, length = _HEADER.unpack_from(data, offset)
            raw = data[offset + _HEADER.size : offset + _HEADER.size + length]
            offset += _HEADER.size + length
            name = raw.rstrip(b"\0").decode(errors="surrogateescape")
            if mask & IN_IGNORED:
                self._dirs.pop(wd, None)
                continue
            changes.anything = True
            directory = self._dirs.get(wd)
            if directory is None or not name:
                continue
            path = directory / name
            if mask & IN_ISDIR and mask & (IN_CREATE | IN_MOVED_TO):
                self.watch_tree(path)
            elif mask & (IN_CLOSE_WRITE | IN_MOVED_TO):
                changes.complete.add(path)
                self._writing.discard(path)
            elif mask & IN_MODIFY:
                changes.complete.discard(path)  # written again since: not complete yet
                self._writing.add(path)
            elif mask & (IN_DELETE | IN_MOVED_FROM):
                self._writing.discard(path)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            os.close(self._fd)
