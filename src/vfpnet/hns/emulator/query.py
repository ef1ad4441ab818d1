"""HCN queries (`HostComputeQuery`): the Filter of a list_* call as a predicate over JSON.

Why apart: networks, endpoints and namespaces are listed with the same query rules
(member aliases, GUIDs compared without regard to case or braces, the v1 endpoint State,
which counts the containers an endpoint is attached to through the v1 API).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping
from typing import Any

from vfpnet.hns.emulator.store import Store, as_json, norm_id
from vfpnet.hns.errors import hcn_error
from vfpnet.hns.schema.hcn import HostComputeQuery
from vfpnet.hns.validate import decode_as, parse_json_text


def endpoint_state(doc: Mapping[str, Any], containers: int) -> int:
    """hcsshim's v1 EndpointState of an endpoint: AttachedSharing (3) once in a namespace (a
    running pod, as Azure NPM filters for) or shared by several containers, Attached (2)
    when one container holds it (v1 attach), else Created (1)."""
    if doc.get("HostComputeNamespace") or containers > 1:
        return 3
    return 2 if containers == 1 else 1


def query_filter(
    query: Mapping[str, Any] | str | None, containers: Mapping[str, int] | None = None
) -> Any:
    """A predicate over resource JSON from an HCN query (its Filter: members to equal);
    `containers`: how many containers hold each endpoint (by ID), for the State member."""
    if query is None:
        return lambda doc: True
    q = decode_as(HostComputeQuery, as_json(query, "query"), "query")
    if not q.filter:
        return lambda doc: True
    wanted = parse_json_text(q.filter, "query.Filter")
    if not isinstance(wanted, dict):
        raise hcn_error("HCN_E_INVALID_JSON", "query.Filter must be a JSON object")
    aliases = {"VirtualNetwork": "HostComputeNetwork", "Id": "ID"}
    containers = containers or {}

    def match(doc: Mapping[str, Any]) -> bool:
        for key, value in wanted.items():
            name = str(key)
            have = doc.get(aliases.get(name, name))
            if name == "State" and "State" not in doc and "HostComputeNetwork" in doc:
                have = endpoint_state(doc, containers.get(str(doc.get("ID")), 0))
            if isinstance(value, str) and isinstance(have, str):
                if norm_id(value) != norm_id(have):
                    return False
            elif have != value:
                return False
        return True

    return match


def list_matching(
    store: Store, op: str, table: str, query: Mapping[str, Any] | str | None
) -> list[dict[str, Any]]:
    """The documents of one resource table (creation order) that the HCN query selects.
    `table` is one of the emulator's own `hns_*` tables, never user input."""
    with store.op(op) as db:
        rows = db.execute(f"SELECT doc FROM {table} ORDER BY seq").fetchall()
        containers = container_counts(db) if table == "hns_endpoints" else None
    match = query_filter(query, containers)
    return [d for d in (json.loads(r[0]) for r in rows) if match(d)]


def container_counts(db: sqlite3.Connection) -> dict[str, int]:
    """How many containers hold each endpoint (v1 attachments), by endpoint ID."""
    rows = db.execute(
        "SELECT endpoint_id, COUNT(*) FROM hns_container_attachments GROUP BY endpoint_id"
    ).fetchall()
    return {str(e): int(n) for e, n in rows}
