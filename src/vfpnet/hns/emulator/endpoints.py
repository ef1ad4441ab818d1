"""HCN endpoints: create (given or allocated addresses), get, list, modify (Policy, Port), delete.

Why apart: an endpoint's rules (v1 settings converted, remote endpoints, port mappings
unique in the network, the policy list edits) touch its network only to read it.
Remote endpoints (`Flags` bit 1) are exempt from the subnet and in-use checks and hold no
address; a network with no subnet at all (e.g. Transparent) takes any endpoint address.
ModifyEndpoint Policy: Add appends, Update replaces the whole list, Remove removes the
policies equal to those given (absent ones are ignored), Refresh re-validates.
Deleting an endpoint detaches it from its namespace.
"""

from __future__ import annotations

import ipaddress
import json
import sqlite3
from collections.abc import Mapping
from typing import Any

from vfpnet.hns.emulator.addresses import allocate, claim
from vfpnet.hns.emulator.documents import endpoint_doc, network_doc
from vfpnet.hns.emulator.namespaces import namespace_drop_endpoint
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
from vfpnet.hns.schema.endpoint import (
    ENDPOINT_FLAG_REMOTE,
    ENDPOINT_RESOURCE_TYPES,
    HostComputeEndpoint,
    ModifyEndpointSettingRequest,
    PolicyEndpointRequest,
)
from vfpnet.hns.schema.network import HostComputeNetwork
from vfpnet.hns.schema.policy import is_type
from vfpnet.hns.schema.v1 import is_v1_endpoint
from vfpnet.hns.validate import (
    check_endpoint_address,
    check_modify_kinds,
    check_prefix_length,
    decode_as,
    set_policy_ids,
    validate_endpoint_policies,
)


def create_endpoint(
    store: Store, network_id: str, settings: Mapping[str, Any] | str | bytes
) -> dict[str, Any]:
    store.require_v2()
    data = as_json(settings, "endpoint")
    if is_v1_endpoint(data):
        # Imported here: only v1 callers need the converter; import time counts for the CNI.
        from vfpnet.hns.v1convert import endpoint_v1_to_v2

        data = endpoint_v1_to_v2(data)
    endpoint = decode_as(HostComputeEndpoint, data, "endpoint")
    with store.op("create_endpoint") as db:
        return insert_endpoint(db, store, network_id, endpoint)


def insert_endpoint(
    db: sqlite3.Connection, store: Store, network_id: str, endpoint: HostComputeEndpoint
) -> dict[str, Any]:
    """Check and store `endpoint` in network `network_id`, inside the caller's transaction
    (the v2 and the v1 create both end here: HNS keeps one kind of endpoint)."""
    version = store.version
    net_doc = network_doc(db, network_id)
    network = decode_as(HostComputeNetwork, net_doc, "network")
    nid = net_doc["ID"]
    validate_endpoint_policies(
        endpoint.policies or (), version, set_policy_ids(network.policies or ())
    )
    eid = new_or_given_id(endpoint.id)
    if db.execute("SELECT 1 FROM hns_endpoints WHERE id = ?", (eid,)).fetchone():
        raise hcn_error("HCN_E_ENDPOINT_ALREADY_ATTACHED", f"endpoint ID {eid} exists")
    doc = encode(endpoint)
    doc.pop("HostComputeNamespace", None)  # read-only: set by attaching
    remote = bool((endpoint.flags or 0) & ENDPOINT_FLAG_REMOTE)
    if remote:
        if not endpoint.ip_configurations:
            raise hcn_error("HCN_E_INVALID_ENDPOINT", "a remote endpoint needs IpConfigurations")
        for i, cfg in enumerate(endpoint.ip_configurations):
            try:
                address = ipaddress.ip_address(cfg.ip_address or "")
            except ValueError:
                raise hcn_error(
                    "HCN_E_INVALID_IP",
                    f"IpConfigurations[{i}].IpAddress {cfg.ip_address!r}",
                ) from None
            check_prefix_length(address, cfg.prefix_length, version, f"IpConfigurations[{i}]")
    elif endpoint.ip_configurations:
        configs = []
        for i, cfg in enumerate(endpoint.ip_configurations):
            where = f"IpConfigurations[{i}]"
            address, subnet = check_endpoint_address(cfg.ip_address, network, version, where)
            check_prefix_length(address, cfg.prefix_length, version, where)
            claim(db, nid, str(address), eid)
            out = encode(cfg)
            out["IpAddress"] = str(address)
            if subnet is not None:
                out.setdefault("PrefixLength", subnet.prefixlen)
            configs.append(out)
        doc["IpConfigurations"] = configs
    else:
        doc["IpConfigurations"] = allocate(db, network, nid, eid)
    _check_port_mappings(db, nid, endpoint, eid)
    doc.pop("ID", None)
    doc = {
        "ID": eid,
        "HostComputeNetwork": nid,
        **{k: v for k, v in doc.items() if k != "HostComputeNetwork"},
    }
    doc.setdefault("MacAddress", _mac_for(eid))
    doc.setdefault("SchemaVersion", SCHEMA_VERSION)
    db.execute(
        "INSERT INTO hns_endpoints VALUES (?, ?, ?, ?)",
        (eid, nid, dump(doc), next_seq(db, "hns_endpoints")),
    )
    return doc


def _check_port_mappings(
    db: sqlite3.Connection, nid: str, endpoint: HostComputeEndpoint, eid: str
) -> None:
    mine = _port_mappings(encode(endpoint).get("Policies", []))
    if not mine:
        return
    if len(set(mine)) != len(mine):
        raise hcn_error("HCN_E_PORT_ALREADY_EXISTS", "the endpoint maps one port twice")
    for (doc_text,) in db.execute(
        "SELECT doc FROM hns_endpoints WHERE network_id = ? AND id != ?", (nid, eid)
    ):
        theirs = set(_port_mappings(json.loads(doc_text).get("Policies", [])))
        clash = theirs.intersection(mine)
        if clash:
            proto, port, vip = sorted(clash)[0]
            raise hcn_error(
                "HCN_E_PORT_ALREADY_EXISTS",
                f"external port {port}/{proto} {vip or ''} is mapped by another endpoint",
            )


def get_endpoint(store: Store, endpoint_id: str) -> dict[str, Any]:
    with store.op("get_endpoint") as db:
        return endpoint_doc(db, endpoint_id)


def list_endpoints(
    store: Store, query: Mapping[str, Any] | str | None = None
) -> list[dict[str, Any]]:
    return list_matching(store, "list_endpoints", "hns_endpoints", query)


def modify_endpoint(
    store: Store, endpoint_id: str, request: Mapping[str, Any] | str | bytes
) -> dict[str, Any]:
    req = decode_as(ModifyEndpointSettingRequest, as_json(request, "request"), "request")
    check_modify_kinds(req.resource_type, req.request_type, ENDPOINT_RESOURCE_TYPES)
    with store.op("modify_endpoint") as db:
        doc = endpoint_doc(db, endpoint_id)
        if req.resource_type == "Port":
            if req.settings is not None and not isinstance(req.settings, dict):
                raise hcn_error("HCN_E_INVALID_JSON", "request.Settings must be an object")
            return doc
        body = decode_as(PolicyEndpointRequest, req.settings or {}, "request.Settings")
        given = [encode(p) for p in body.policies or ()]
        current = list(doc.get("Policies", []))
        if req.request_type == "Add":
            result = current + given
        elif req.request_type == "Update":
            result = given
        elif req.request_type == "Remove":
            result = [c for c in current if c not in given]
        else:
            result = current
        net_doc = network_doc(db, doc["HostComputeNetwork"])
        network = decode_as(HostComputeNetwork, net_doc, "network")
        checked = body.policies or () if req.request_type != "Remove" else ()
        validate_endpoint_policies(
            checked,
            store.version,
            set_policy_ids(network.policies or ()),
            "request.Settings.Policies",
        )
        if result:
            doc["Policies"] = result
        else:
            doc.pop("Policies", None)
        endpoint = decode_as(HostComputeEndpoint, doc, "endpoint")
        _check_port_mappings(db, doc["HostComputeNetwork"], endpoint, doc["ID"])
        db.execute("UPDATE hns_endpoints SET doc = ? WHERE id = ?", (dump(doc), doc["ID"]))
    return doc


def delete_endpoint(store: Store, endpoint_id: str) -> None:
    with store.op("delete_endpoint") as db:
        doc = endpoint_doc(db, endpoint_id)
        remove_endpoint(db, doc["ID"])


def remove_endpoint(db: sqlite3.Connection, eid: str) -> None:
    """Drop endpoint `eid` with its addresses, its place in a namespace (if any) and its
    container attachments (v1)."""
    row = db.execute("SELECT doc FROM hns_endpoints WHERE id = ?", (eid,)).fetchone()
    if row is not None:
        ns = json.loads(row[0]).get("HostComputeNamespace")
        if ns:
            namespace_drop_endpoint(db, ns, eid)
    db.execute("DELETE FROM hns_addresses WHERE endpoint_id = ?", (eid,))
    db.execute("DELETE FROM hns_container_attachments WHERE endpoint_id = ?", (eid,))
    db.execute("DELETE FROM hns_endpoints WHERE id = ?", (eid,))


def _mac_for(eid: str) -> str:
    """A stable Hyper-V (00-15-5D) MAC address for an endpoint, as HNS writes it."""
    # Imported here: hashlib loads OpenSSL (~3 ms), which every CNI process would pay at
    # import even when it only deletes or lists.
    import hashlib

    digest = hashlib.sha256(eid.encode()).digest()
    return "-".join(f"{b:02X}" for b in (0x00, 0x15, 0x5D, *digest[:3]))


def _port_mappings(policies: list[Any]) -> list[tuple[int, int, str]]:
    out: list[tuple[int, int, str]] = []
    for p in policies:
        if isinstance(p, dict) and is_type(p.get("Type"), "PortMapping"):
            s = p.get("Settings") or {}
            if s.get("ExternalPort"):
                out.append(
                    (int(s.get("Protocol") or 6), int(s["ExternalPort"]), s.get("VIP") or "")
                )
    return out
