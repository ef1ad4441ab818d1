"""The HNS v1 network calls (HNSCall `/networks/...`, hcsshim's HNSNetwork).

Why apart: as for endpoints (v1endpoints.py), v1 is a second view of the same networks: a
v1 create is converted to HCN v2 and checked and stored as the v2 create does (a Name or
ID already used: HCN_E_NETWORK_ALREADY_EXISTS), a v1 read renders the stored document in
v1's shape (`vfpnet.hns.v1convert.network_v2_to_v1`). These calls need no V2 API, so a
node whose HNS predates HCN v2 (Windows Server 2016, HNS 7.x) still makes networks.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from vfpnet.hns.emulator.documents import network_doc
from vfpnet.hns.emulator.networks import delete_network, insert_network
from vfpnet.hns.emulator.store import Store, as_json
from vfpnet.hns.schema.network import HostComputeNetwork
from vfpnet.hns.schema.v1 import HNSNetwork
from vfpnet.hns.v1convert import network_v1_to_v2, network_v2_to_v1
from vfpnet.hns.validate import decode_as, validate_network


def create_network_v1(store: Store, settings: Mapping[str, Any] | str | bytes) -> dict[str, Any]:
    """POST /networks/: an HNSNetwork (Subnets with AddressPrefix and GatewayAddress)."""
    data = as_json(settings, "network")
    decode_as(HNSNetwork, data, "network")
    network = decode_as(HostComputeNetwork, network_v1_to_v2(data), "network")
    validate_network(network, store.version)
    with store.op("create_network_v1") as db:
        return network_v2_to_v1(insert_network(db, network))


def get_network_v1(store: Store, network_id: str) -> dict[str, Any]:
    """GET /networks/<id>."""
    with store.op("get_network_v1") as db:
        return network_v2_to_v1(network_doc(db, network_id))


def list_networks_v1(store: Store) -> list[dict[str, Any]]:
    """GET /networks/: every network (v1 has no query), in creation order."""
    with store.op("list_networks_v1") as db:
        rows = db.execute("SELECT doc FROM hns_networks ORDER BY seq").fetchall()
    return [network_v2_to_v1(json.loads(r[0])) for r in rows]


def delete_network_v1(store: Store, network_id: str) -> None:
    """DELETE /networks/<id> (its endpoints go with it, as with v2)."""
    delete_network(store, network_id, "delete_network_v1")
