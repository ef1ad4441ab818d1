"""Reading one stored resource (network, endpoint, namespace) by ID, or HNS's not-found error.

Why apart: the resource modules look up each other's documents (an endpoint its network,
an attach its endpoint); keeping the lookups here keeps those modules free of import cycles.
Unknown ids (GUID or not) are HCN_E_NETWORK_NOT_FOUND / HCN_E_ENDPOINT_NOT_FOUND; an
unknown namespace is ERROR_NOT_FOUND (as hcsshim's own test expects).
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from vfpnet.hns.emulator.store import norm_id
from vfpnet.hns.errors import hcn_error


def network_doc(db: sqlite3.Connection, network_id: str) -> dict[str, Any]:
    row = db.execute("SELECT doc FROM hns_networks WHERE id = ?", (norm_id(network_id),)).fetchone()
    if row is None:
        raise hcn_error("HCN_E_NETWORK_NOT_FOUND", f"network {network_id}")
    doc: dict[str, Any] = json.loads(row[0])
    return doc


def endpoint_doc(db: sqlite3.Connection, endpoint_id: str) -> dict[str, Any]:
    row = db.execute(
        "SELECT doc FROM hns_endpoints WHERE id = ?", (norm_id(endpoint_id),)
    ).fetchone()
    if row is None:
        raise hcn_error("HCN_E_ENDPOINT_NOT_FOUND", f"endpoint {endpoint_id}")
    doc: dict[str, Any] = json.loads(row[0])
    return doc


def namespace_doc(db: sqlite3.Connection, namespace_id: str) -> dict[str, Any]:
    row = db.execute(
        "SELECT doc FROM hns_namespaces WHERE id = ?", (norm_id(namespace_id),)
    ).fetchone()
    if row is None:
        raise hcn_error("ERROR_NOT_FOUND", f"namespace {namespace_id}")
    doc: dict[str, Any] = json.loads(row[0])
    return doc
