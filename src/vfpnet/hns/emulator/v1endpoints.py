"""The HNS v1 endpoint calls (HNSCall `/endpoints/...`, hcsshim's HNSEndpoint) and the
attachment of an endpoint to a container by its ID (`/endpoints/<id>/attach|detach` with
`{"ContainerId": ..., "SystemType": "Container"}`).

Why apart: v1 is a second view of the same endpoints, not a second store. A v1 create is
converted to HCN v2 and checked and stored as the v2 create does (one table, so a v1
endpoint is listed by v2 queries and a v2 one by v1); a v1 read renders the stored
document in v1's shape (`vfpnet.hns.v1convert.endpoint_v2_to_v1`). Container attachments
are rows of `hns_container_attachments`, shown as the endpoint's `SharedContainers` and
`State` (Attached 2 for one container, AttachedSharing 3 for several).

Errors, as HNS answers v1 callers (the HRESULT in the response's ErrorCode):
- unknown endpoint: HCN_E_ENDPOINT_NOT_FOUND ("The endpoint was not found.", the text
  Azure CNI's v1 DEL matches); unknown VirtualNetwork(Name): HCN_E_NETWORK_NOT_FOUND;
- attaching to a container that already holds the endpoint: HCN_E_ENDPOINT_ALREADY_ATTACHED
  ("This endpoint is already attached to the switch.", 0x803B0014); container IDs compare
  without regard to case, as hcsshim's IsAttached does;
- attaching a remote endpoint: HCN_E_INVALID_REMOTE_ENDPOINT_OPERATION; one in an HCN
  namespace: HCN_E_ENDPOINT_NAMESPACE_ALREADY_EXISTS; no ContainerId: E_INVALIDARG;
- detaching from a container that does not hold it: HCN_E_ENDPOINT_NOT_ATTACHED;
- deleting an endpoint drops its container attachments (as a v2 delete detaches it).
The v1 API exists on every HNS version: these calls need no V2 API.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping
from typing import Any

from vfpnet.hns.emulator.documents import endpoint_doc
from vfpnet.hns.emulator.endpoints import insert_endpoint, remove_endpoint
from vfpnet.hns.emulator.query import endpoint_state
from vfpnet.hns.emulator.store import Store, as_json, next_seq, norm_id
from vfpnet.hns.errors import hcn_error
from vfpnet.hns.schema.endpoint import ENDPOINT_FLAG_REMOTE, HostComputeEndpoint
from vfpnet.hns.schema.v1 import HNSEndpoint
from vfpnet.hns.v1convert import endpoint_v1_to_v2, endpoint_v2_to_v1
from vfpnet.hns.validate import decode_as


def create_endpoint_v1(store: Store, settings: Mapping[str, Any] | str | bytes) -> dict[str, Any]:
    """POST /endpoints/: an HNSEndpoint in network VirtualNetwork (or VirtualNetworkName)."""
    data = as_json(settings, "endpoint")
    v1 = decode_as(HNSEndpoint, data, "endpoint")
    endpoint = decode_as(HostComputeEndpoint, endpoint_v1_to_v2(data), "endpoint")
    with store.op("create_endpoint_v1") as db:
        if v1.virtual_network:
            network_id = v1.virtual_network
        elif v1.virtual_network_name:
            row = db.execute(
                "SELECT id FROM hns_networks WHERE name = ? ORDER BY seq LIMIT 1",
                (v1.virtual_network_name,),
            ).fetchone()
            if row is None:
                raise hcn_error(
                    "HCN_E_NETWORK_NOT_FOUND", f"network named {v1.virtual_network_name!r}"
                )
            network_id = str(row[0])
        else:
            raise hcn_error("HCN_E_INVALID_ENDPOINT", "endpoint: VirtualNetwork is required")
        doc = insert_endpoint(db, store, network_id, endpoint)
        return _view(db, doc)


def get_endpoint_v1(store: Store, endpoint_id: str) -> dict[str, Any]:
    """GET /endpoints/<id>."""
    with store.op("get_endpoint_v1") as db:
        return _view(db, endpoint_doc(db, endpoint_id))


def list_endpoints_v1(store: Store) -> list[dict[str, Any]]:
    """GET /endpoints/: every endpoint (v1 has no query), in creation order."""
    with store.op("list_endpoints_v1") as db:
        rows = db.execute("SELECT doc FROM hns_endpoints ORDER BY seq").fetchall()
        return [_view(db, json.loads(r[0])) for r in rows]


def delete_endpoint_v1(store: Store, endpoint_id: str) -> None:
    """DELETE /endpoints/<id>."""
    with store.op("delete_endpoint_v1") as db:
        remove_endpoint(db, endpoint_doc(db, endpoint_id)["ID"])


def attach_container(store: Store, endpoint_id: str, container_id: str) -> None:
    """POST /endpoints/<id>/attach {"ContainerId": container_id, "SystemType": "Container"}."""
    with store.op("attach_container") as db:
        ep = endpoint_doc(db, endpoint_id)
        if not container_id.strip():
            raise hcn_error("E_INVALIDARG", "ContainerId is required")
        if (ep.get("Flags") or 0) & ENDPOINT_FLAG_REMOTE:
            raise hcn_error(
                "HCN_E_INVALID_REMOTE_ENDPOINT_OPERATION", f"endpoint {ep['ID']} is remote"
            )
        if ep.get("HostComputeNamespace"):
            raise hcn_error(
                "HCN_E_ENDPOINT_NAMESPACE_ALREADY_EXISTS",
                f"endpoint {ep['ID']} is in namespace {ep['HostComputeNamespace']}",
            )
        if _holder(db, ep["ID"], container_id) is not None:
            raise hcn_error(
                "HCN_E_ENDPOINT_ALREADY_ATTACHED",
                f"endpoint {ep['ID']} is attached to container {container_id}",
            )
        db.execute(
            "INSERT INTO hns_container_attachments VALUES (?, ?, ?)",
            (ep["ID"], container_id, next_seq(db, "hns_container_attachments")),
        )


def detach_container(store: Store, endpoint_id: str, container_id: str) -> None:
    """POST /endpoints/<id>/detach {"ContainerId": container_id, "SystemType": "Container"}."""
    with store.op("detach_container") as db:
        ep = endpoint_doc(db, endpoint_id)
        held = _holder(db, ep["ID"], container_id)
        if held is None:
            raise hcn_error(
                "HCN_E_ENDPOINT_NOT_ATTACHED",
                f"endpoint {ep['ID']} is not attached to container {container_id}",
            )
        db.execute(
            "DELETE FROM hns_container_attachments WHERE endpoint_id = ? AND container_id = ?",
            (ep["ID"], held),
        )


def containers_of(db: sqlite3.Connection, eid: str) -> list[str]:
    """The containers holding endpoint `eid`, in attach order."""
    rows = db.execute(
        "SELECT container_id FROM hns_container_attachments WHERE endpoint_id = ? ORDER BY seq",
        (eid,),
    ).fetchall()
    return [str(r[0]) for r in rows]


def _holder(db: sqlite3.Connection, eid: str, container_id: str) -> str | None:
    """The stored spelling of `container_id` among the endpoint's holders (case ignored)."""
    wanted = norm_id(container_id).lower()
    for held in containers_of(db, eid):
        if norm_id(held).lower() == wanted:
            return held
    return None


def _view(db: sqlite3.Connection, doc: dict[str, Any]) -> dict[str, Any]:
    row = db.execute(
        "SELECT doc FROM hns_networks WHERE id = ?", (doc.get("HostComputeNetwork"),)
    ).fetchone()
    network = json.loads(row[0]) if row else None
    containers = containers_of(db, doc["ID"])
    return endpoint_v2_to_v1(doc, network, containers, endpoint_state(doc, len(containers)))
