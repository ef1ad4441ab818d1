"""Fault injection points for the rollback and crash tests.

`VFPNET_CNI_FAULT=<point>` makes `point(<point>)` raise a CNI error there;
`VFPNET_CNI_FAULT=<point>:pause` makes it sleep instead (a test then SIGKILLs the plugin
at that exact step); several points are separated by commas. Unset in production, where
a point costs one dict lookup.
"""

from __future__ import annotations

import os

from vfpnet.cni import errors

POINTS = (
    "after-veth", "after-ipam", "after-pod-config", "after-steering-member",
    "after-host-route", "before-record-ready", "undo-veth",
)


def point(name: str) -> None:
    wanted = os.environ.get("VFPNET_CNI_FAULT")
    if not wanted:
        return
    chosen = [w for w in wanted.split(",") if w.split(":")[0] == name]
    if not chosen:
        return
    if chosen[0].endswith(":pause"):
        import time

        time.sleep(3600)
    raise errors.CniError(errors.NETWORK_SETUP_FAILED, f"injected fault at {name}")
