"""What happens to the emulated HNS outside of API calls: planned faults, service restart, reboot.

Why apart: these are the test harness's levers (they change state without being an HCN
call, so they run in a plain write transaction that no fault can fail), and the restart
rules cut across every resource table.
"""

from __future__ import annotations

import json

from vfpnet.hns.emulator.namespaces import set_resources
from vfpnet.hns.emulator.store import Store, dump
from vfpnet.hns.faults import fault
from vfpnet.hns.schema.network import NETWORK_FLAG_ENABLE_NON_PERSISTENT


def inject_fault(store: Store, operation: str, nth: int, hresult: int | str) -> None:
    """Fail the `nth` call of `operation` from now on (any process) with `hresult`."""
    f = fault(operation, nth, hresult)
    with store.write() as db:
        db.execute(
            "INSERT INTO hns_faults (operation, nth, hresult) VALUES (?, ?, ?)",
            (f.operation, f.nth, f.hresult),
        )


def clear_faults(store: Store) -> None:
    with store.write() as db:
        db.execute("DELETE FROM hns_faults")


def restart(store: Store, reboot: bool = False) -> None:
    """Simulate an HNS service restart (or, with `reboot`, a node reboot).

    Service restart: every endpoint is gone (as reported for Windows Server 2022 in
    projectcalico/calico#5164), namespaces stay but hold no endpoints, networks created
    with Flags EnableNonPersistent (8) are gone, other networks (with their policies)
    stay, host routes (the TCP/IP stack's, not HNS's) stay. Reboot: the same, and the
    namespaces and the host routes added without -p (the active store) are gone too.
    """
    with store.write() as db:
        db.execute("DELETE FROM hns_endpoints")
        db.execute("DELETE FROM hns_addresses")
        db.execute("DELETE FROM hns_container_attachments")
        if reboot:
            db.execute("DELETE FROM hns_namespaces")
            db.execute("DELETE FROM hns_routes")
        for nsid, doc_text in db.execute("SELECT id, doc FROM hns_namespaces").fetchall():
            ns = json.loads(doc_text)
            set_resources(ns, [r for r in ns.get("Resources", []) if r.get("Type") != "Endpoint"])
            db.execute("UPDATE hns_namespaces SET doc = ? WHERE id = ?", (dump(ns), nsid))
        for nid, doc_text in db.execute("SELECT id, doc FROM hns_networks").fetchall():
            flags = json.loads(doc_text).get("Flags") or 0
            if isinstance(flags, int) and flags & NETWORK_FLAG_ENABLE_NON_PERSISTENT:
                db.execute("DELETE FROM hns_networks WHERE id = ?", (nid,))
