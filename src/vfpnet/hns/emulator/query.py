"""HCN queries (`HostComputeQuery`): the Filter of a list_* call as a predicate over JSON.

Why apart: networks, endpoints and namespaces are listed with the same query rules
(member aliases, GUIDs compared without regard to case or braces, the v1 endpoint State).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from vfpnet.hns.emulator.store import Store, as_json, norm_id
from vfpnet.hns.errors import hcn_error
from vfpnet.hns.schema.hcn import HostComputeQuery
from vfpnet.hns.validate import decode_as, parse_json_text


def query_filter(query: Mapping[str, Any] | str | None) -> Any:
    """A predicate over resource JSON from an HCN query (its Filter: members to equal)."""
    if query is None:
        return lambda doc: True
    q = decode_as(HostComputeQuery, as_json(query, "query"), "query")
    if not q.filter:
        return lambda doc: True
    wanted = parse_json_text(q.filter, "query.Filter")
    if not isinstance(wanted, dict):
        raise hcn_error("HCN_E_INVALID_JSON", "query.Filter must be a JSON object")
    aliases = {"VirtualNetwork": "HostComputeNetwork", "Id": "ID"}

    def match(doc: Mapping[str, Any]) -> bool:
        for key, value in wanted.items():
            name = str(key)
            have = doc.get(aliases.get(name, name))
            if name == "State" and "State" not in doc and "HostComputeNetwork" in doc:
                # hcsshim's v1 EndpointState: AttachedSharing (3) once in a namespace
                # (a running pod, as Azure NPM filters for), else Created (1).
                have = 3 if doc.get("HostComputeNamespace") else 1
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
    match = query_filter(query)
    with store.op(op) as db:
        rows = db.execute(f"SELECT doc FROM {table} ORDER BY seq").fetchall()
    return [d for d in (json.loads(r[0]) for r in rows) if match(d)]
