"""Entering network namespaces (setns) for the calling thread.

Python 3.11 has no `os.setns`, so libc's is called through `_ctypes`, the C half of
ctypes, directly: the `ctypes` package itself costs about a millisecond more to import
on the CNI ADD path. A netlink socket keeps the namespace it was created in, so the usual
pattern is: enter, open a socket, come back.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

CLONE_NEWNET = 0x40000000

_setns: Callable[[int, int], int] | None = None


def _libc_setns() -> Callable[[int, int], int]:
    import _ctypes

    class CInt(_ctypes._SimpleCData):  # type: ignore[type-arg]
        _type_ = "i"

    class Function(_ctypes.CFuncPtr):
        _flags_ = _ctypes.FUNCFLAG_CDECL | _ctypes.FUNCFLAG_USE_ERRNO
        _restype_ = CInt

    class Libc:
        _handle = _ctypes.dlopen(None, os.RTLD_NOW)  # type: ignore[arg-type]

    function: Callable[[int, int], int] = Function(("setns", Libc()))  # type: ignore[arg-type]
    return function


def setns(fd: int) -> None:
    global _setns
    if _setns is None:
        _setns = _libc_setns()
    if _setns(fd, CLONE_NEWNET) != 0:
        import _ctypes

        err = _ctypes.get_errno()
        raise OSError(err, f"setns: {os.strerror(err)}")


class NetNS:
    """`with NetNS(path):` runs the block inside the namespace at `path`, then returns."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._home = -1

    def __enter__(self) -> NetNS:
        target = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            self._home = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
            setns(target)
        finally:
            os.close(target)
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            setns(self._home)
        finally:
            os.close(self._home)


def write_sysctl(key: str, value: str) -> None:
    """Write /proc/sys/<key> (dotted or slashed) in the caller's current namespace."""
    path = "/proc/sys/" + key.replace(".", "/") if "/" not in key else "/proc/sys/" + key
    fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
    try:
        os.write(fd, value.encode())
    finally:
        os.close(fd)


def read_sysctl(key: str) -> str:
    path = "/proc/sys/" + key.replace(".", "/") if "/" not in key else "/proc/sys/" + key
    with open(path) as fh:
        return fh.read().strip()
