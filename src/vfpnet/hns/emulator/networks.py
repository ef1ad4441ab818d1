"""HCN networks: create, get, list, modify (Policy, DNS) and delete.

Why apart: a network's own rules (v1 settings converted, unique ID and Name, SetPolicy
Ids unique) are independent of endpoints; deleting a network deletes its endpoints.
ModifyNetwork Policy: Add appends (a SetPolicy Id already there:
HCN_E_POLICY_ALREADY_EXISTS), Update replaces the policies with the same SetPolicy Id
(other types: the same Type), Remove removes by SetPolicy Id or equality.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from typing import Any

from vfpnet.hns.emulator.documents import network_doc
from vfpnet.hns.emulator.endpoints import remove_endpoint
from vfpnet.hns.emulator.query import list_matching
from vfpnet.hns.emulator.store import (
    SCHEMA_VERSION,
    Store,
    as_json,
    dump,
    new_or_given_id,
    next_seq,
)
from vfpnet.hns.errors import hcn_error
from vfpnet.hns.schema.codec import encode
from vfpnet.hns.schema.network import (
    NETWORK_RESOURCE_TYPES,
    Dns,
    HostComputeNetwork,
    ModifyNetworkSettingRequest,
    PolicyNetworkRequest,
)
from vfpnet.hns.schema.policy import NetworkPolicy, is_type
from vfpnet.hns.schema.v1 import is_v1_network
from vfpnet.hns.validate import (
    check_modify_kinds,
    decode_as,
    network_type_name,
    set_policy_ids,
    validate_network,
    validate_network_policies,
)
from vfpnet.hns.version import HnsVersion


def create_network(store: Store, settings: Mapping[str, Any] | str | bytes) -> dict[str, Any]:
    store.require_v2()
    data = as_json(settings, "network")
    if is_v1_network(data):
        # Imported here: only v1 callers need the converter; import time counts for the CNI.
        from vfpnet.hns.v1convert import network_v1_to_v2

        data = network_v1_to_v2(data)
    network = decode_as(HostComputeNetwork, data, "network")
    validate_network(network, store.version)
    with store.op("create_network") as db:
        return insert_network(db, network)


def insert_network(db: sqlite3.Connection, network: HostComputeNetwork) -> dict[str, Any]:
    """Store a checked network inside the caller's transaction (the v2 and the v1 create
    both end here: HNS keeps one kind of network); its ID and Name must be new."""
    doc = encode(network)
    doc["Type"] = network_type_name(network.type)
    nid = new_or_given_id(network.id)
    if db.execute("SELECT 1 FROM hns_networks WHERE id = ?", (nid,)).fetchone():
        raise hcn_error("HCN_E_NETWORK_ALREADY_EXISTS", f"network ID {nid} exists")
    name = network.name or ""
    if name and db.execute("SELECT 1 FROM hns_networks WHERE name = ?", (name,)).fetchone():
        raise hcn_error("HCN_E_NETWORK_ALREADY_EXISTS", f"network Name {name!r} exists")
    doc = {"ID": nid, **{k: v for k, v in doc.items() if k != "ID"}}
    doc.setdefault("SchemaVersion", SCHEMA_VERSION)
    db.execute(
        "INSERT INTO hns_networks VALUES (?, ?, ?, ?)",
        (nid, name, dump(doc), next_seq(db, "hns_networks")),
    )
    return doc


def get_network(store: Store, network_id: str) -> dict[str, Any]:
    with store.op("get_network") as db:
        return network_doc(db, network_id)


def list_networks(
    store: Store, query: Mapping[str, Any] | str | None = None
) -> list[dict[str, Any]]:
    return list_matching(store, "list_networks", "hns_networks", query)


def modify_network(
    store: Store, network_id: str, request: Mapping[str, Any] | str | bytes
) -> dict[str, Any]:
    req = decode_as(ModifyNetworkSettingRequest, as_json(request, "request"), "request")
    check_modify_kinds(req.resource_type, req.request_type, NETWORK_RESOURCE_TYPES)
    with store.op("modify_network") as db:
        doc = network_doc(db, network_id)
        if req.resource_type == "Policy":
            doc["Policies"] = _modified_network_policies(doc, req, store.version)
            if not doc["Policies"]:
                del doc["Policies"]
        elif req.resource_type == "DNS":
            dns = decode_as(Dns, req.settings or {}, "request.Settings")
            doc["Dns"] = encode(dns)
        db.execute("UPDATE hns_networks SET doc = ? WHERE id = ?", (dump(doc), doc["ID"]))
    return doc


def _modified_network_policies(
    doc: dict[str, Any], req: ModifyNetworkSettingRequest, version: HnsVersion
) -> list[Any]:
    body = decode_as(PolicyNetworkRequest, req.settings or {}, "request.Settings")
    given = list(body.policies or ())
    current = [decode_as(NetworkPolicy, p, "network.Policies") for p in doc.get("Policies", [])]
    if req.request_type == "Add":
        ids = set_policy_ids(current)
        seen: set[str] = set()
        for p in given:
            sid = _set_id(p)
            if sid is not None and (sid in ids or sid in seen):
                raise hcn_error("HCN_E_POLICY_ALREADY_EXISTS", f"set policy Id {sid!r}")
            if sid is not None:
                seen.add(sid)
        result = current + given
    elif req.request_type == "Update":
        result = list(current)
        for p in given:
            idx = [i for i, c in enumerate(result) if _same_network_policy(c, p)]
            if idx:
                result[idx[0]] = p
            else:
                result.append(p)
    elif req.request_type == "Remove":
        result = [c for c in current if not any(_removes(p, c) for p in given)]
    else:  # Refresh
        result = current
    validate_network_policies(given if req.request_type != "Remove" else [], version, result)
    return [encode(p) for p in result]


def delete_network(store: Store, network_id: str, operation: str = "delete_network") -> None:
    with store.op(operation) as db:
        doc = network_doc(db, network_id)
        nid = doc["ID"]
        for (eid,) in db.execute(
            "SELECT id FROM hns_endpoints WHERE network_id = ?", (nid,)
        ).fetchall():
            remove_endpoint(db, eid)
        db.execute("DELETE FROM hns_networks WHERE id = ?", (nid,))


def _set_id(policy: NetworkPolicy) -> str | None:
    if is_type(policy.type, "SetPolicy") and isinstance(policy.settings, dict):
        sid = policy.settings.get("Id")
        return sid if isinstance(sid, str) else None
    return None


def _same_network_policy(current: NetworkPolicy, new: NetworkPolicy) -> bool:
    sid = _set_id(new)
    if sid is not None:
        return _set_id(current) == sid
    return isinstance(current.type, str) and is_type(new.type, current.type)


def _removes(given: NetworkPolicy, current: NetworkPolicy) -> bool:
    sid = _set_id(given)
    if sid is not None:
        return _set_id(current) == sid
    return encode(given) == encode(current)
