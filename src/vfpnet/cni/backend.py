"""The backend protocol: what a dataplane (linux, hns) does for one attachment.

The protocol core (`vfpnet.cni.operations`) owns the CNI wire format, IPAM delegation,
state records, locking and the undo stack; a backend only makes and removes the
network objects. Every method gets the parsed netconf and runtime args in `Request`.

- `add(req, ipam, undo) -> Added`: create the pod's networking. Call `ipam.result()` when
  the addresses are needed (IPAM runs concurrently until then); it also writes them into
  the `adding` record, unless `record=False`: for a backend whose cleanup of a crashed
  ADD never needs them (each record write that replaces the file costs ~0.3 ms on ext4,
  more when the disk is busy). Push an undo action onto
  `undo` right after each change; the core rolls them back if anything fails later.
  `Added.state` is stored in the record under `"backend_state"` for DEL/CHECK/GC.
- `delete(req, record)`: remove everything of one attachment; `record` is the stored
  state or None (unknown container). Must succeed when things are already gone.
- `check(req, record)`: raise `CniError(CHECK_DRIFT, ...)` naming what differs.
- `gc(conf, live)`: remove node-level leftovers not owned by any `live` record.
- `status(conf)`: raise `CniError(NOT_AVAILABLE, ...)` when ADD cannot be served.

Only type checkers and backend modules import this module (it imports `typing`, which
the ADD path avoids); the value classes live in `vfpnet.cni.attachment`.
"""

from __future__ import annotations

from typing import Protocol

from vfpnet.cni.attachment import Added, Request
from vfpnet.cni.netconf import NetConf
from vfpnet.cni.undo import UndoStack


class IpamSource(Protocol):
    def result(self, record: bool = True) -> dict[str, object]: ...


__all__ = ["Added", "Backend", "IpamSource", "Request"]


class Backend(Protocol):
    def add(self, req: Request, ipam: IpamSource, undo: UndoStack) -> Added: ...

    def delete(self, req: Request, record: dict[str, object] | None) -> None: ...

    def check(self, req: Request, record: dict[str, object]) -> None: ...

    def gc(self, conf: NetConf, live: list[dict[str, object]]) -> list[str]: ...

    def status(self, conf: NetConf) -> None: ...
