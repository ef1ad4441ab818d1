"""The node's host route table (what `route add`/`Get-NetRoute` see), kept next to HNS.

Why apart: host routes belong to the TCP/IP stack, not to HNS; they share the state file
only so one transaction and one fault plan cover them. A duplicate add is
ERROR_OBJECT_ALREADY_EXISTS (0x1392); deleting a missing route is ERROR_NOT_FOUND (0x490).
"""

from __future__ import annotations

import sqlite3
from typing import Any

from vfpnet.hns.emulator.store import Store, next_seq
from vfpnet.hns.errors import hcn_error
from vfpnet.hns.schema.route import HostRoute


def add_route(store: Store, route: HostRoute) -> None:
    with store.op("add_route") as db:
        try:
            db.execute(
                "INSERT INTO hns_routes VALUES (?, ?, ?, ?, ?)",
                (
                    route.destination_prefix,
                    route.next_hop,
                    route.interface_index,
                    route.metric,
                    next_seq(db, "hns_routes"),
                ),
            )
        except sqlite3.IntegrityError:
            raise hcn_error(
                "ERROR_OBJECT_ALREADY_EXISTS",
                f"route {route.destination_prefix} via {route.next_hop} exists",
            ) from None


def delete_route(store: Store, route: HostRoute) -> None:
    """Delete the route to `route.destination_prefix` via `route.next_hop` (and, when not
    0, on `route.interface_index`); ERROR_NOT_FOUND if there is none."""
    with store.op("delete_route") as db:
        sql = "DELETE FROM hns_routes WHERE destination = ? AND next_hop = ?"
        args: tuple[Any, ...] = (route.destination_prefix, route.next_hop)
        if route.interface_index:
            sql += " AND interface_index = ?"
            args += (route.interface_index,)
        if db.execute(sql, args).rowcount == 0:
            raise hcn_error(
                "ERROR_NOT_FOUND",
                f"no route {route.destination_prefix} via {route.next_hop}",
            )


def list_routes(store: Store) -> list[HostRoute]:
    with store.op("list_routes") as db:
        rows = db.execute(
            "SELECT destination, next_hop, interface_index, metric FROM hns_routes ORDER BY seq"
        ).fetchall()
    return [HostRoute(d, n, i, m) for d, n, i, m in rows]
