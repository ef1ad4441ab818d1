"""Removing a lab: its processes, namespaces (with their links, routes and nftables
tables) and its run dir. Works from whatever a crashed `up` left: only the prefix is needed.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import time
from pathlib import Path

from vfpnet.lab.commands import netns_list, run
from vfpnet.lab.runstate import LabState, load_state


def lab_processes(prefix: str) -> list[int]:
    """Pids whose command line carries the lab's marker `--lab PREFIX`."""
    marker = f"\0--lab\0{prefix}\0".encode()
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmdline = b"\0" + f.read()
        except OSError:
            continue
        if marker in cmdline:
            found.append(int(entry))
    return found


def lab_namespaces(prefix: str) -> list[str]:
    return [ns for ns in netns_list() if ns.startswith(prefix + "-")]


def teardown(root: Path, state: LabState | None = None) -> list[str]:
    """Remove the lab recorded in `root`; returns what was removed (for the user)."""
    state = state or load_state(root)
    removed: list[str] = []
    if state is not None:
        pids = sorted(set(lab_processes(state.prefix)))
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
                removed.append(f"process {pid}")
            except ProcessLookupError:
                pass
        _reap(pids)
        for ns in lab_namespaces(state.prefix):
            run("ip", "netns", "del", ns, check=False)
            removed.append(f"netns {ns}")
    if root.exists():
        for child in root.iterdir():
            if child.is_dir():
                shutil.rmtree(child, ignore_errors=True)
            else:
                child.unlink(missing_ok=True)
        with contextlib.suppress(OSError):  # a file written into it meanwhile stays
            root.rmdir()
        removed.append(f"run dir {root}")
    return removed


def _reap(pids: list[int]) -> None:
    deadline = time.monotonic() + 5
    for pid in pids:
        while time.monotonic() < deadline and os.path.exists(f"/proc/{pid}"):
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)
            try:
                with open(f"/proc/{pid}/stat", "rb") as f:
                    if b") Z " in f.read():
                        break
            except OSError:
                break
            time.sleep(0.01)
