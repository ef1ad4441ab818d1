"""HCN namespaces: create, get, list, modify (Endpoint, Container), attach/detach, delete.

Why apart: a namespace's `Resources` list and an endpoint's `HostComputeNamespace` are
the two sides of one attachment, and only this module changes both together.
Attaching a remote endpoint: HCN_E_INVALID_REMOTE_ENDPOINT_OPERATION; attaching one
already in a namespace: HCN_E_ENDPOINT_NAMESPACE_ALREADY_EXISTS; one attached to a
container through the v1 API: HCN_E_ENDPOINT_ALREADY_ATTACHED.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping
from typing import Any

from vfpnet.hns.emulator.documents import endpoint_doc, namespace_doc
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
from vfpnet.hns.schema.endpoint import ENDPOINT_FLAG_REMOTE
from vfpnet.hns.schema.namespace import (
    NAMESPACE_RESOURCE_TYPES,
    NAMESPACE_TYPES,
    HostComputeNamespace,
    ModifyNamespaceSettingRequest,
)
from vfpnet.hns.validate import decode_as


def create_namespace(
    store: Store, settings: Mapping[str, Any] | str | bytes | None = None
) -> dict[str, Any]:
    store.require_v2()
    ns = decode_as(HostComputeNamespace, as_json(settings or {}, "namespace"), "namespace")
    ns_type = ns.type or "Host"
    if ns_type not in NAMESPACE_TYPES:
        raise hcn_error("HCN_E_INVALID_JSON", f"namespace Type {ns_type!r}")
    with store.op("create_namespace") as db:
        nsid = new_or_given_id(ns.id)
        if db.execute("SELECT 1 FROM hns_namespaces WHERE id = ?", (nsid,)).fetchone():
            raise hcn_error("ERROR_OBJECT_ALREADY_EXISTS", f"namespace ID {nsid} exists")
        seq = next_seq(db, "hns_namespaces")
        doc = encode(ns)
        doc.pop("Resources", None)
        doc = {"ID": nsid, **{k: v for k, v in doc.items() if k != "ID"}}
        doc["Type"] = ns_type
        doc.setdefault("NamespaceId", seq + 1)  # compartment 1 is the host's default
        doc.setdefault("SchemaVersion", SCHEMA_VERSION)
        db.execute("INSERT INTO hns_namespaces VALUES (?, ?, ?)", (nsid, dump(doc), seq))
    return doc


def get_namespace(store: Store, namespace_id: str) -> dict[str, Any]:
    with store.op("get_namespace") as db:
        return namespace_doc(db, namespace_id)


def list_namespaces(
    store: Store, query: Mapping[str, Any] | str | None = None
) -> list[dict[str, Any]]:
    return list_matching(store, "list_namespaces", "hns_namespaces", query)


def modify_namespace(
    store: Store, namespace_id: str, request: Mapping[str, Any] | str | bytes
) -> dict[str, Any]:
    req = decode_as(ModifyNamespaceSettingRequest, as_json(request, "request"), "request")
    if req.resource_type not in NAMESPACE_RESOURCE_TYPES:
        raise hcn_error("HCN_E_REQUEST_UNSUPPORTED", f"request.ResourceType {req.resource_type!r}")
    if req.request_type not in ("Add", "Remove"):
        raise hcn_error("HCN_E_REQUEST_UNSUPPORTED", f"request.RequestType {req.request_type!r}")
    settings = req.settings if isinstance(req.settings, dict) else {}
    with store.op("modify_namespace") as db:
        ns = namespace_doc(db, namespace_id)
        if req.resource_type == "Endpoint":
            eid = settings.get("EndpointId") or settings.get("ID") or ""
            if not isinstance(eid, str):
                raise hcn_error("HCN_E_INVALID_JSON", "request.Settings.EndpointId")
            if req.request_type == "Add":
                _attach(db, ns, eid)
            else:
                _detach(db, ns, eid)
        else:
            cid = settings.get("ContainerId") or settings.get("ID") or ""
            resources = [
                r
                for r in ns.get("Resources", [])
                if not (r.get("Type") == "Container" and r.get("Data", {}).get("ID") == cid)
            ]
            if req.request_type == "Add":
                resources.append({"Type": "Container", "Data": {"ID": cid}})
            set_resources(ns, resources)
            db.execute("UPDATE hns_namespaces SET doc = ? WHERE id = ?", (dump(ns), ns["ID"]))
        return namespace_doc(db, ns["ID"])


def attach_endpoint(store: Store, namespace_id: str, endpoint_id: str) -> None:
    with store.op("attach_endpoint") as db:
        _attach(db, namespace_doc(db, namespace_id), endpoint_id)


def detach_endpoint(store: Store, namespace_id: str, endpoint_id: str) -> None:
    with store.op("detach_endpoint") as db:
        _detach(db, namespace_doc(db, namespace_id), endpoint_id)


def _attach(db: sqlite3.Connection, ns: dict[str, Any], endpoint_id: str) -> None:
    ep = endpoint_doc(db, endpoint_id)
    if (ep.get("Flags") or 0) & ENDPOINT_FLAG_REMOTE:
        raise hcn_error("HCN_E_INVALID_REMOTE_ENDPOINT_OPERATION", f"endpoint {ep['ID']} is remote")
    if ep.get("HostComputeNamespace"):
        raise hcn_error(
            "HCN_E_ENDPOINT_NAMESPACE_ALREADY_EXISTS",
            f"endpoint {ep['ID']} is in namespace {ep['HostComputeNamespace']}",
        )
    if db.execute(
        "SELECT 1 FROM hns_container_attachments WHERE endpoint_id = ?", (ep["ID"],)
    ).fetchone():
        raise hcn_error(
            "HCN_E_ENDPOINT_ALREADY_ATTACHED", f"endpoint {ep['ID']} is attached to a container"
        )
    ep["HostComputeNamespace"] = ns["ID"]
    db.execute("UPDATE hns_endpoints SET doc = ? WHERE id = ?", (dump(ep), ep["ID"]))
    resources = list(ns.get("Resources", []))
    resources.append({"Type": "Endpoint", "Data": {"ID": ep["ID"]}})
    set_resources(ns, resources)
    db.execute("UPDATE hns_namespaces SET doc = ? WHERE id = ?", (dump(ns), ns["ID"]))


def _detach(db: sqlite3.Connection, ns: dict[str, Any], endpoint_id: str) -> None:
    ep = endpoint_doc(db, endpoint_id)
    if ep.get("HostComputeNamespace") != ns["ID"]:
        raise hcn_error(
            "HCN_E_ENDPOINT_NOT_ATTACHED", f"endpoint {ep['ID']} is not in namespace {ns['ID']}"
        )
    ep.pop("HostComputeNamespace", None)
    db.execute("UPDATE hns_endpoints SET doc = ? WHERE id = ?", (dump(ep), ep["ID"]))
    namespace_drop_endpoint(db, ns["ID"], ep["ID"])


def namespace_drop_endpoint(db: sqlite3.Connection, nsid: str, eid: str) -> None:
    """Remove endpoint `eid` from namespace `nsid`'s Resources (no-op if either is gone)."""
    row = db.execute("SELECT doc FROM hns_namespaces WHERE id = ?", (nsid,)).fetchone()
    if row is None:
        return
    ns = json.loads(row[0])
    resources = [
        r
        for r in ns.get("Resources", [])
        if not (r.get("Type") == "Endpoint" and r.get("Data", {}).get("ID") == eid)
    ]
    set_resources(ns, resources)
    db.execute("UPDATE hns_namespaces SET doc = ? WHERE id = ?", (dump(ns), nsid))


def delete_namespace(store: Store, namespace_id: str) -> None:
    with store.op("delete_namespace") as db:
        ns = namespace_doc(db, namespace_id)
        for res in ns.get("Resources", []):
            if res.get("Type") == "Endpoint":
                eid = res.get("Data", {}).get("ID", "")
                row = db.execute("SELECT doc FROM hns_endpoints WHERE id = ?", (eid,)).fetchone()
                if row is not None:
                    ep = json.loads(row[0])
                    ep.pop("HostComputeNamespace", None)
                    db.execute("UPDATE hns_endpoints SET doc = ? WHERE id = ?", (dump(ep), eid))
        db.execute("DELETE FROM hns_namespaces WHERE id = ?", (ns["ID"],))


def set_resources(ns: dict[str, Any], resources: list[Any]) -> None:
    """Store `resources` as the namespace's Resources; HNS omits the member when empty."""
    if resources:
        ns["Resources"] = resources
    else:
        ns.pop("Resources", None)
