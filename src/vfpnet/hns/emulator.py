"""An emulator of HNS (HCN v2 API + the node's host route table) on one SQLite file.

Public API (names are stable; the client protocol `vfpnet.hns.client.HnsClient`):

    emu = Emulator(path, version=None)        # opens/creates the state file; a version given
                                              # is stored there for every process (else
                                              # $VFPNET_HNS_VERSION, the stored one, 15.4)
    emu.version() -> HnsVersion;  emu.supported_features() -> dict (hcsshim's JSON)
    emu.create_network(settings) -> dict      # settings: dict or JSON text (HCN v2)
    emu.get_network(id) -> dict;  emu.list_networks(query=None) -> list[dict]
    emu.modify_network(id, request) -> dict;  emu.delete_network(id)
    emu.create_endpoint(network_id, settings) -> dict
    emu.get_endpoint(id) -> dict;  emu.list_endpoints(query=None) -> list[dict]
    emu.modify_endpoint(id, request) -> dict; emu.delete_endpoint(id)
    emu.create_namespace(settings) -> dict;   emu.get_namespace(id) -> dict
    emu.list_namespaces(query=None) -> list[dict]; emu.modify_namespace(id, request) -> dict
    emu.delete_namespace(id)
    emu.attach_endpoint(namespace_id, endpoint_id); emu.detach_endpoint(namespace_id, endpoint_id)
    emu.add_route(route: HostRoute); emu.delete_route(route: HostRoute)
    emu.list_routes() -> list[HostRoute]  # .destination_prefix .next_hop .interface_index .metric
    emu.inject_fault(operation, nth, hresult); emu.clear_faults()
    emu.restart(reboot=False)                 # what HNS drops when its service restarts
    emu.close()

Resources come back as HCN v2 JSON dicts exactly as hcsshim reads them: `ID` (upper-case
GUID), `Name`, `HostComputeNetwork`, `IpConfigurations`, `Policies`
(`{"Type":"ACL","Settings":{...}}`), `Flags`, ... plus every member the caller sent.
A refused call raises `vfpnet.hns.errors.HcnError` (`.hresult`, `.code`, `.message`).

State: one SQLite file in WAL mode; each call is one transaction (`BEGIN IMMEDIATE` for
calls that change state, deferred for get/list) with a busy timeout, so any number of
processes share the file and a failed call changes nothing.
Tables are named `hns_*` (hns_meta, hns_networks, hns_endpoints, hns_namespaces,
hns_addresses, hns_routes, hns_faults); other components may keep their own tables in the
same file under their own prefix.

Behaviour chosen where the public record is unclear:
- an address already used by another endpoint of the network: HCN_E_PORT_ALREADY_EXISTS
  (as a duplicate PortMapping is); remote endpoints (`Flags` bit 1) are exempt from the
  subnet and in-use checks and hold no address;
- a network with no subnet at all (e.g. Transparent) takes any endpoint address;
- an endpoint without IpConfigurations gets the lowest free address of the network's
  first subnet of each family (network, broadcast and gateway addresses excluded; the
  gateway is the next hop of the subnet's routes, else its first host, as HNS reserves it
  unless the subnet has Flags DoNotReserveGatewayAddress);
  none free or no subnet: HCN_E_SUBNET_NOT_FOUND;
- deleting a network deletes its endpoints; deleting an endpoint detaches it;
- ModifyEndpoint Policy: Add appends, Update replaces the whole list, Remove removes the
  policies equal to those given (absent ones are ignored), Refresh re-validates;
  ModifyNetwork Policy: Add appends (a SetPolicy Id already there:
  HCN_E_POLICY_ALREADY_EXISTS), Update replaces the policies with the same SetPolicy Id
  (other types: the same Type), Remove removes by SetPolicy Id or equality;
- `restart()` (HNS service restart) drops every endpoint (as reported for Windows Server
  2022, projectcalico/calico#5164) and the networks created with Flags
  EnableNonPersistent (8); persistent networks, namespaces (emptied) and host routes stay.
  `restart(reboot=True)` also drops the namespaces and the host routes (routes added
  without -p live in the active store only);
- attaching a remote endpoint to a namespace: HCN_E_INVALID_REMOTE_ENDPOINT_OPERATION;
  attaching one already in a namespace: HCN_E_ENDPOINT_NAMESPACE_ALREADY_EXISTS;
- an endpoint filter on `State` (hcsshim's v1 EndpointState, as Azure NPM queries) sees 3
  (AttachedSharing) for endpoints in a namespace and 1 (Created) for the others;
- policy Types are matched without regard to case (Calico's CNI sends `SDNROUTE`) and
  kept as sent;
- unknown ids (GUID or not) are HCN_E_NETWORK_NOT_FOUND / HCN_E_ENDPOINT_NOT_FOUND; an
  unknown namespace is ERROR_NOT_FOUND (as hcsshim's own test expects);
- duplicate route add: ERROR_OBJECT_ALREADY_EXISTS (0x1392); delete of a missing route:
  ERROR_NOT_FOUND (0x490).
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import os
import sqlite3
import time
import uuid
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from vfpnet.hns.errors import HcnError, hcn_error
from vfpnet.hns.faults import ENV_VAR, Fault, fault, parse_fault_plan
from vfpnet.hns.schema.codec import encode
from vfpnet.hns.schema.endpoint import (
    ENDPOINT_FLAG_REMOTE,
    ENDPOINT_RESOURCE_TYPES,
    HostComputeEndpoint,
    ModifyEndpointSettingRequest,
    PolicyEndpointRequest,
)
from vfpnet.hns.schema.hcn import REQUEST_TYPES, HostComputeQuery
from vfpnet.hns.schema.namespace import (
    NAMESPACE_RESOURCE_TYPES,
    NAMESPACE_TYPES,
    HostComputeNamespace,
    ModifyNamespaceSettingRequest,
)
from vfpnet.hns.schema.network import (
    NETWORK_FLAG_ENABLE_NON_PERSISTENT,
    NETWORK_RESOURCE_TYPES,
    Dns,
    HostComputeNetwork,
    ModifyNetworkSettingRequest,
    PolicyNetworkRequest,
)
from vfpnet.hns.schema.policy import NetworkPolicy, is_type
from vfpnet.hns.schema.route import HostRoute
from vfpnet.hns.schema.v1 import is_v1_endpoint, is_v1_network
from vfpnet.hns.v1convert import endpoint_v1_to_v2, network_v1_to_v2
from vfpnet.hns.validate import (
    check_endpoint_address,
    check_prefix_length,
    decode_as,
    network_gateways,
    network_subnets,
    network_type_name,
    parse_json_text,
    set_policy_ids,
    validate_endpoint_policies,
    validate_network,
    validate_network_policies,
)
from vfpnet.hns.version import DEFAULT_VERSION, HnsVersion, parse_version, supported_features

SCHEMA_VERSION = {"Major": 2, "Minor": 0}
BUSY_TIMEOUT_S = 60.0
# Overrides, for this process only, the version stored in the state file.
VERSION_ENV = "VFPNET_HNS_VERSION"

_TABLES = """
CREATE TABLE IF NOT EXISTS hns_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS hns_networks (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, doc TEXT NOT NULL, seq INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS hns_endpoints (
    id TEXT PRIMARY KEY, network_id TEXT NOT NULL, doc TEXT NOT NULL, seq INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS hns_endpoints_network ON hns_endpoints (network_id);
CREATE TABLE IF NOT EXISTS hns_namespaces (
    id TEXT PRIMARY KEY, doc TEXT NOT NULL, seq INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS hns_addresses (
    network_id TEXT NOT NULL, address TEXT NOT NULL, endpoint_id TEXT NOT NULL,
    PRIMARY KEY (network_id, address));
CREATE INDEX IF NOT EXISTS hns_addresses_endpoint ON hns_addresses (endpoint_id);
CREATE TABLE IF NOT EXISTS hns_routes (
    destination TEXT NOT NULL, next_hop TEXT NOT NULL, interface_index INTEGER NOT NULL,
    metric INTEGER NOT NULL, seq INTEGER NOT NULL,
    PRIMARY KEY (destination, next_hop, interface_index));
CREATE TABLE IF NOT EXISTS hns_faults (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, operation TEXT NOT NULL, nth INTEGER NOT NULL,
    calls INTEGER NOT NULL DEFAULT 0, hresult INTEGER NOT NULL);
"""

# Calls of this process, for faults planned through the environment.
_ENV_CALLS: Counter[str] = Counter()


class Emulator:
    """HNS on a SQLite state file shared by every process that opens it."""

    def __init__(self, path: str, version: str | tuple[int, int] | HnsVersion | None = None):
        self.path = path
        self._env_faults: list[Fault] = parse_fault_plan(os.environ.get(ENV_VAR, ""))
        self._db = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
        self._db.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
        self._set_wal()
        self._db.execute("PRAGMA synchronous = NORMAL")
        with self._write():
            for statement in _TABLES.split(";"):
                if statement.strip():
                    self._db.execute(statement)
            if version is not None:
                self._db.execute(
                    "INSERT OR REPLACE INTO hns_meta VALUES ('version', ?)",
                    (str(parse_version(version)),),
                )
        env_version = os.environ.get(VERSION_ENV)
        self._version = (
            parse_version(env_version) if version is None and env_version else self._read_version()
        )

    def _set_wal(self) -> None:
        deadline = time.monotonic() + BUSY_TIMEOUT_S
        while True:
            try:
                self._db.execute("PRAGMA journal_mode = WAL")
                return
            except sqlite3.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.01)

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Emulator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- transactions and faults ----

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    @contextmanager
    def _op(self, operation: str) -> Iterator[sqlite3.Connection]:
        """One call of `operation`: one transaction, after the fault plan had its say.

        A fault that fires is committed (consumed) and raised before the call does anything.
        Calls that only read (get_*, list_*) run in a deferred transaction, so readers do
        not queue behind writers, unless a fault is planned for them (counting is a write).
        """
        self._env_fault(operation)
        db = self._db
        reads_only = operation.startswith(("get_", "list_"))
        db.execute("BEGIN" if reads_only else "BEGIN IMMEDIATE")
        try:
            row = self._planned_fault(db, operation)
            if row is not None and reads_only:
                db.execute("ROLLBACK")
                db.execute("BEGIN IMMEDIATE")
                row = self._planned_fault(db, operation)
            if row is not None:
                seq, nth, calls, hresult = row
                if calls + 1 >= nth:
                    db.execute("DELETE FROM hns_faults WHERE seq = ?", (seq,))
                    db.execute("COMMIT")
                    raise HcnError(hresult, detail=f"injected fault: {operation} call {nth}")
                db.execute("UPDATE hns_faults SET calls = calls + 1 WHERE seq = ?", (seq,))
            yield db
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    @staticmethod
    def _planned_fault(db: sqlite3.Connection, operation: str) -> tuple[int, int, int, int] | None:
        row = db.execute(
            "SELECT seq, nth, calls, hresult FROM hns_faults WHERE operation = ? "
            "ORDER BY seq LIMIT 1",
            (operation,),
        ).fetchone()
        return None if row is None else (int(row[0]), int(row[1]), int(row[2]), int(row[3]))

    def _env_fault(self, operation: str) -> None:
        if not self._env_faults:
            return
        _ENV_CALLS[operation] += 1
        for f in self._env_faults:
            if f.operation == operation and f.nth == _ENV_CALLS[operation]:
                raise HcnError(
                    f.hresult, detail=f"injected fault ({ENV_VAR}): {operation} call {f.nth}"
                )

    def inject_fault(self, operation: str, nth: int, hresult: int | str) -> None:
        """Fail the `nth` call of `operation` from now on (any process) with `hresult`."""
        f = fault(operation, nth, hresult)
        with self._write() as db:
            db.execute(
                "INSERT INTO hns_faults (operation, nth, hresult) VALUES (?, ?, ?)",
                (f.operation, f.nth, f.hresult),
            )

    def clear_faults(self) -> None:
        with self._write() as db:
            db.execute("DELETE FROM hns_faults")

    # ---- version ----

    def _read_version(self) -> HnsVersion:
        row = self._db.execute("SELECT value FROM hns_meta WHERE key = 'version'").fetchone()
        return parse_version(row[0]) if row else DEFAULT_VERSION

    def version(self) -> HnsVersion:
        return self._version

    def supported_features(self) -> dict[str, Any]:
        return supported_features(self._version)

    def _require_v2(self) -> None:
        if not supported_features(self._version)["API"]["V2"]:
            raise hcn_error("E_NOTIMPL", f"HCN v2 API needs HNS 9.2, this is {self._version}")

    # ---- networks ----

    def create_network(self, settings: Mapping[str, Any] | str | bytes) -> dict[str, Any]:
        self._require_v2()
        data = _as_json(settings, "network")
        if is_v1_network(data):
            data = network_v1_to_v2(data)
        network = decode_as(HostComputeNetwork, data, "network")
        validate_network(network, self._version)
        doc = encode(network)
        doc["Type"] = network_type_name(network.type)
        with self._op("create_network") as db:
            nid = _new_or_given_id(network.id)
            if db.execute("SELECT 1 FROM hns_networks WHERE id = ?", (nid,)).fetchone():
                raise hcn_error("HCN_E_NETWORK_ALREADY_EXISTS", f"network ID {nid} exists")
            name = network.name or ""
            if name and db.execute("SELECT 1 FROM hns_networks WHERE name = ?", (name,)).fetchone():
                raise hcn_error("HCN_E_NETWORK_ALREADY_EXISTS", f"network Name {name!r} exists")
            doc = {"ID": nid, **{k: v for k, v in doc.items() if k != "ID"}}
            doc.setdefault("SchemaVersion", SCHEMA_VERSION)
            db.execute(
                "INSERT INTO hns_networks VALUES (?, ?, ?, ?)",
                (nid, name, _dump(doc), _next_seq(db, "hns_networks")),
            )
        return doc

    def get_network(self, network_id: str) -> dict[str, Any]:
        with self._op("get_network") as db:
            return self._network_doc(db, network_id)

    def list_networks(self, query: Mapping[str, Any] | str | None = None) -> list[dict[str, Any]]:
        match = _query_filter(query)
        with self._op("list_networks") as db:
            rows = db.execute("SELECT doc FROM hns_networks ORDER BY seq").fetchall()
        return [d for d in (json.loads(r[0]) for r in rows) if match(d)]

    def modify_network(
        self, network_id: str, request: Mapping[str, Any] | str | bytes
    ) -> dict[str, Any]:
        req = decode_as(ModifyNetworkSettingRequest, _as_json(request, "request"), "request")
        if req.resource_type not in NETWORK_RESOURCE_TYPES:
            raise hcn_error(
                "HCN_E_REQUEST_UNSUPPORTED", f"request.ResourceType {req.resource_type!r}"
            )
        if req.request_type not in REQUEST_TYPES:
            raise hcn_error(
                "HCN_E_REQUEST_UNSUPPORTED", f"request.RequestType {req.request_type!r}"
            )
        with self._op("modify_network") as db:
            doc = self._network_doc(db, network_id)
            if req.resource_type == "Policy":
                doc["Policies"] = self._modified_network_policies(doc, req)
                if not doc["Policies"]:
                    del doc["Policies"]
            elif req.resource_type == "DNS":
                dns = decode_as(Dns, req.settings or {}, "request.Settings")
                doc["Dns"] = encode(dns)
            db.execute("UPDATE hns_networks SET doc = ? WHERE id = ?", (_dump(doc), doc["ID"]))
        return doc

    def _modified_network_policies(
        self, doc: dict[str, Any], req: ModifyNetworkSettingRequest
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
        validate_network_policies(
            given if req.request_type != "Remove" else [], self._version, result
        )
        return [encode(p) for p in result]

    def delete_network(self, network_id: str) -> None:
        with self._op("delete_network") as db:
            doc = self._network_doc(db, network_id)
            nid = doc["ID"]
            for (eid,) in db.execute(
                "SELECT id FROM hns_endpoints WHERE network_id = ?", (nid,)
            ).fetchall():
                self._remove_endpoint(db, eid)
            db.execute("DELETE FROM hns_networks WHERE id = ?", (nid,))

    def _network_doc(self, db: sqlite3.Connection, network_id: str) -> dict[str, Any]:
        row = db.execute(
            "SELECT doc FROM hns_networks WHERE id = ?", (_norm_id(network_id),)
        ).fetchone()
        if row is None:
            raise hcn_error("HCN_E_NETWORK_NOT_FOUND", f"network {network_id}")
        doc: dict[str, Any] = json.loads(row[0])
        return doc

    # ---- endpoints ----

    def create_endpoint(
        self, network_id: str, settings: Mapping[str, Any] | str | bytes
    ) -> dict[str, Any]:
        self._require_v2()
        data = _as_json(settings, "endpoint")
        if is_v1_endpoint(data):
            data = endpoint_v1_to_v2(data)
        endpoint = decode_as(HostComputeEndpoint, data, "endpoint")
        with self._op("create_endpoint") as db:
            net_doc = self._network_doc(db, network_id)
            network = decode_as(HostComputeNetwork, net_doc, "network")
            nid = net_doc["ID"]
            validate_endpoint_policies(
                endpoint.policies or (), self._version, set_policy_ids(network.policies or ())
            )
            eid = _new_or_given_id(endpoint.id)
            if db.execute("SELECT 1 FROM hns_endpoints WHERE id = ?", (eid,)).fetchone():
                raise hcn_error("HCN_E_ENDPOINT_ALREADY_ATTACHED", f"endpoint ID {eid} exists")
            doc = encode(endpoint)
            doc.pop("HostComputeNamespace", None)  # read-only: set by attaching
            remote = bool((endpoint.flags or 0) & ENDPOINT_FLAG_REMOTE)
            if remote:
                if not endpoint.ip_configurations:
                    raise hcn_error(
                        "HCN_E_INVALID_ENDPOINT", "a remote endpoint needs IpConfigurations"
                    )
                for i, cfg in enumerate(endpoint.ip_configurations):
                    try:
                        address = ipaddress.ip_address(cfg.ip_address or "")
                    except ValueError:
                        raise hcn_error(
                            "HCN_E_INVALID_IP",
                            f"IpConfigurations[{i}].IpAddress {cfg.ip_address!r}",
                        ) from None
                    check_prefix_length(
                        address, cfg.prefix_length, self._version, f"IpConfigurations[{i}]"
                    )
            elif endpoint.ip_configurations:
                configs = []
                for i, cfg in enumerate(endpoint.ip_configurations):
                    where = f"IpConfigurations[{i}]"
                    address, subnet = check_endpoint_address(
                        cfg.ip_address, network, self._version, where
                    )
                    check_prefix_length(address, cfg.prefix_length, self._version, where)
                    self._claim(db, nid, str(address), eid)
                    out = encode(cfg)
                    out["IpAddress"] = str(address)
                    if subnet is not None:
                        out.setdefault("PrefixLength", subnet.prefixlen)
                    configs.append(out)
                doc["IpConfigurations"] = configs
            else:
                doc["IpConfigurations"] = self._allocate(db, network, nid, eid)
            self._check_port_mappings(db, nid, endpoint, eid)
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
                (eid, nid, _dump(doc), _next_seq(db, "hns_endpoints")),
            )
        return doc

    def _claim(self, db: sqlite3.Connection, nid: str, address: str, eid: str) -> None:
        try:
            db.execute("INSERT INTO hns_addresses VALUES (?, ?, ?)", (nid, address, eid))
        except sqlite3.IntegrityError:
            raise hcn_error(
                "HCN_E_PORT_ALREADY_EXISTS", f"address {address} is used by another endpoint"
            ) from None

    def _allocate(
        self, db: sqlite3.Connection, network: HostComputeNetwork, nid: str, eid: str
    ) -> list[dict[str, Any]]:
        subnets = network_subnets(network)
        if not subnets:
            raise hcn_error("HCN_E_SUBNET_NOT_FOUND", "the network has no subnet to allocate from")
        used = {
            row[0]
            for row in db.execute("SELECT address FROM hns_addresses WHERE network_id = ?", (nid,))
        }
        gateways = network_gateways(network)
        configs: list[dict[str, Any]] = []
        for family in (4, 6):
            candidates = [s for s in subnets if s.version == family]
            if not candidates:
                continue
            subnet = candidates[0]
            chosen = None
            for host in subnet.hosts():
                text = str(host)
                if text not in used and host not in gateways:
                    chosen = text
                    break
            if chosen is None:
                raise hcn_error("HCN_E_SUBNET_NOT_FOUND", f"no free address left in {subnet}")
            self._claim(db, nid, chosen, eid)
            configs.append({"IpAddress": chosen, "PrefixLength": subnet.prefixlen})
        return configs

    def _check_port_mappings(
        self, db: sqlite3.Connection, nid: str, endpoint: HostComputeEndpoint, eid: str
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

    def get_endpoint(self, endpoint_id: str) -> dict[str, Any]:
        with self._op("get_endpoint") as db:
            return self._endpoint_doc(db, endpoint_id)

    def list_endpoints(self, query: Mapping[str, Any] | str | None = None) -> list[dict[str, Any]]:
        match = _query_filter(query)
        with self._op("list_endpoints") as db:
            rows = db.execute("SELECT doc FROM hns_endpoints ORDER BY seq").fetchall()
        return [d for d in (json.loads(r[0]) for r in rows) if match(d)]

    def modify_endpoint(
        self, endpoint_id: str, request: Mapping[str, Any] | str | bytes
    ) -> dict[str, Any]:
        req = decode_as(ModifyEndpointSettingRequest, _as_json(request, "request"), "request")
        if req.resource_type not in ENDPOINT_RESOURCE_TYPES:
            raise hcn_error(
                "HCN_E_REQUEST_UNSUPPORTED", f"request.ResourceType {req.resource_type!r}"
            )
        if req.request_type not in REQUEST_TYPES:
            raise hcn_error(
                "HCN_E_REQUEST_UNSUPPORTED", f"request.RequestType {req.request_type!r}"
            )
        with self._op("modify_endpoint") as db:
            doc = self._endpoint_doc(db, endpoint_id)
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
            net_doc = self._network_doc(db, doc["HostComputeNetwork"])
            network = decode_as(HostComputeNetwork, net_doc, "network")
            checked = body.policies or () if req.request_type != "Remove" else ()
            validate_endpoint_policies(
                checked,
                self._version,
                set_policy_ids(network.policies or ()),
                "request.Settings.Policies",
            )
            if result:
                doc["Policies"] = result
            else:
                doc.pop("Policies", None)
            endpoint = decode_as(HostComputeEndpoint, doc, "endpoint")
            self._check_port_mappings(db, doc["HostComputeNetwork"], endpoint, doc["ID"])
            db.execute("UPDATE hns_endpoints SET doc = ? WHERE id = ?", (_dump(doc), doc["ID"]))
        return doc

    def delete_endpoint(self, endpoint_id: str) -> None:
        with self._op("delete_endpoint") as db:
            doc = self._endpoint_doc(db, endpoint_id)
            self._remove_endpoint(db, doc["ID"])

    def _remove_endpoint(self, db: sqlite3.Connection, eid: str) -> None:
        row = db.execute("SELECT doc FROM hns_endpoints WHERE id = ?", (eid,)).fetchone()
        if row is not None:
            ns = json.loads(row[0]).get("HostComputeNamespace")
            if ns:
                self._namespace_drop_endpoint(db, ns, eid)
        db.execute("DELETE FROM hns_addresses WHERE endpoint_id = ?", (eid,))
        db.execute("DELETE FROM hns_endpoints WHERE id = ?", (eid,))

    def _endpoint_doc(self, db: sqlite3.Connection, endpoint_id: str) -> dict[str, Any]:
        row = db.execute(
            "SELECT doc FROM hns_endpoints WHERE id = ?", (_norm_id(endpoint_id),)
        ).fetchone()
        if row is None:
            raise hcn_error("HCN_E_ENDPOINT_NOT_FOUND", f"endpoint {endpoint_id}")
        doc: dict[str, Any] = json.loads(row[0])
        return doc

    # ---- namespaces ----

    def create_namespace(
        self, settings: Mapping[str, Any] | str | bytes | None = None
    ) -> dict[str, Any]:
        self._require_v2()
        ns = decode_as(HostComputeNamespace, _as_json(settings or {}, "namespace"), "namespace")
        ns_type = ns.type or "Host"
        if ns_type not in NAMESPACE_TYPES:
            raise hcn_error("HCN_E_INVALID_JSON", f"namespace Type {ns_type!r}")
        with self._op("create_namespace") as db:
            nsid = _new_or_given_id(ns.id)
            if db.execute("SELECT 1 FROM hns_namespaces WHERE id = ?", (nsid,)).fetchone():
                raise hcn_error("ERROR_OBJECT_ALREADY_EXISTS", f"namespace ID {nsid} exists")
            seq = _next_seq(db, "hns_namespaces")
            doc = encode(ns)
            doc.pop("Resources", None)
            doc = {"ID": nsid, **{k: v for k, v in doc.items() if k != "ID"}}
            doc["Type"] = ns_type
            doc.setdefault("NamespaceId", seq + 1)  # compartment 1 is the host's default
            doc.setdefault("SchemaVersion", SCHEMA_VERSION)
            db.execute("INSERT INTO hns_namespaces VALUES (?, ?, ?)", (nsid, _dump(doc), seq))
        return doc

    def get_namespace(self, namespace_id: str) -> dict[str, Any]:
        with self._op("get_namespace") as db:
            return self._namespace_doc(db, namespace_id)

    def list_namespaces(self, query: Mapping[str, Any] | str | None = None) -> list[dict[str, Any]]:
        match = _query_filter(query)
        with self._op("list_namespaces") as db:
            rows = db.execute("SELECT doc FROM hns_namespaces ORDER BY seq").fetchall()
        return [d for d in (json.loads(r[0]) for r in rows) if match(d)]

    def modify_namespace(
        self, namespace_id: str, request: Mapping[str, Any] | str | bytes
    ) -> dict[str, Any]:
        req = decode_as(ModifyNamespaceSettingRequest, _as_json(request, "request"), "request")
        if req.resource_type not in NAMESPACE_RESOURCE_TYPES:
            raise hcn_error(
                "HCN_E_REQUEST_UNSUPPORTED", f"request.ResourceType {req.resource_type!r}"
            )
        if req.request_type not in ("Add", "Remove"):
            raise hcn_error(
                "HCN_E_REQUEST_UNSUPPORTED", f"request.RequestType {req.request_type!r}"
            )
        settings = req.settings if isinstance(req.settings, dict) else {}
        with self._op("modify_namespace") as db:
            ns = self._namespace_doc(db, namespace_id)
            if req.resource_type == "Endpoint":
                eid = settings.get("EndpointId") or settings.get("ID") or ""
                if not isinstance(eid, str):
                    raise hcn_error("HCN_E_INVALID_JSON", "request.Settings.EndpointId")
                if req.request_type == "Add":
                    self._attach(db, ns, eid)
                else:
                    self._detach(db, ns, eid)
            else:
                cid = settings.get("ContainerId") or settings.get("ID") or ""
                resources = [
                    r
                    for r in ns.get("Resources", [])
                    if not (r.get("Type") == "Container" and r.get("Data", {}).get("ID") == cid)
                ]
                if req.request_type == "Add":
                    resources.append({"Type": "Container", "Data": {"ID": cid}})
                _set_resources(ns, resources)
                db.execute("UPDATE hns_namespaces SET doc = ? WHERE id = ?", (_dump(ns), ns["ID"]))
            return self._namespace_doc(db, ns["ID"])

    def attach_endpoint(self, namespace_id: str, endpoint_id: str) -> None:
        with self._op("attach_endpoint") as db:
            self._attach(db, self._namespace_doc(db, namespace_id), endpoint_id)

    def detach_endpoint(self, namespace_id: str, endpoint_id: str) -> None:
        with self._op("detach_endpoint") as db:
            self._detach(db, self._namespace_doc(db, namespace_id), endpoint_id)

    def _attach(self, db: sqlite3.Connection, ns: dict[str, Any], endpoint_id: str) -> None:
        ep = self._endpoint_doc(db, endpoint_id)
        if (ep.get("Flags") or 0) & ENDPOINT_FLAG_REMOTE:
            raise hcn_error(
                "HCN_E_INVALID_REMOTE_ENDPOINT_OPERATION", f"endpoint {ep['ID']} is remote"
            )
        if ep.get("HostComputeNamespace"):
            raise hcn_error(
                "HCN_E_ENDPOINT_NAMESPACE_ALREADY_EXISTS",
                f"endpoint {ep['ID']} is in namespace {ep['HostComputeNamespace']}",
            )
        ep["HostComputeNamespace"] = ns["ID"]
        db.execute("UPDATE hns_endpoints SET doc = ? WHERE id = ?", (_dump(ep), ep["ID"]))
        resources = list(ns.get("Resources", []))
        resources.append({"Type": "Endpoint", "Data": {"ID": ep["ID"]}})
        _set_resources(ns, resources)
        db.execute("UPDATE hns_namespaces SET doc = ? WHERE id = ?", (_dump(ns), ns["ID"]))

    def _detach(self, db: sqlite3.Connection, ns: dict[str, Any], endpoint_id: str) -> None:
        ep = self._endpoint_doc(db, endpoint_id)
        if ep.get("HostComputeNamespace") != ns["ID"]:
            raise hcn_error(
                "HCN_E_ENDPOINT_NOT_ATTACHED", f"endpoint {ep['ID']} is not in namespace {ns['ID']}"
            )
        ep.pop("HostComputeNamespace", None)
        db.execute("UPDATE hns_endpoints SET doc = ? WHERE id = ?", (_dump(ep), ep["ID"]))
        self._namespace_drop_endpoint(db, ns["ID"], ep["ID"])

    def _namespace_drop_endpoint(self, db: sqlite3.Connection, nsid: str, eid: str) -> None:
        row = db.execute("SELECT doc FROM hns_namespaces WHERE id = ?", (nsid,)).fetchone()
        if row is None:
            return
        ns = json.loads(row[0])
        resources = [
            r
            for r in ns.get("Resources", [])
            if not (r.get("Type") == "Endpoint" and r.get("Data", {}).get("ID") == eid)
        ]
        _set_resources(ns, resources)
        db.execute("UPDATE hns_namespaces SET doc = ? WHERE id = ?", (_dump(ns), nsid))

    def delete_namespace(self, namespace_id: str) -> None:
        with self._op("delete_namespace") as db:
            ns = self._namespace_doc(db, namespace_id)
            for res in ns.get("Resources", []):
                if res.get("Type") == "Endpoint":
                    eid = res.get("Data", {}).get("ID", "")
                    row = db.execute(
                        "SELECT doc FROM hns_endpoints WHERE id = ?", (eid,)
                    ).fetchone()
                    if row is not None:
                        ep = json.loads(row[0])
                        ep.pop("HostComputeNamespace", None)
                        db.execute(
                            "UPDATE hns_endpoints SET doc = ? WHERE id = ?", (_dump(ep), eid)
                        )
            db.execute("DELETE FROM hns_namespaces WHERE id = ?", (ns["ID"],))

    def _namespace_doc(self, db: sqlite3.Connection, namespace_id: str) -> dict[str, Any]:
        row = db.execute(
            "SELECT doc FROM hns_namespaces WHERE id = ?", (_norm_id(namespace_id),)
        ).fetchone()
        if row is None:
            raise hcn_error("ERROR_NOT_FOUND", f"namespace {namespace_id}")
        doc: dict[str, Any] = json.loads(row[0])
        return doc

    # ---- host routes ----

    def add_route(self, route: HostRoute) -> None:
        with self._op("add_route") as db:
            try:
                db.execute(
                    "INSERT INTO hns_routes VALUES (?, ?, ?, ?, ?)",
                    (
                        route.destination_prefix,
                        route.next_hop,
                        route.interface_index,
                        route.metric,
                        _next_seq(db, "hns_routes"),
                    ),
                )
            except sqlite3.IntegrityError:
                raise hcn_error(
                    "ERROR_OBJECT_ALREADY_EXISTS",
                    f"route {route.destination_prefix} via {route.next_hop} exists",
                ) from None

    def delete_route(self, route: HostRoute) -> None:
        """Delete the route to `route.destination_prefix` via `route.next_hop` (and, when not
        0, on `route.interface_index`); ERROR_NOT_FOUND if there is none."""
        with self._op("delete_route") as db:
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

    def list_routes(self) -> list[HostRoute]:
        with self._op("list_routes") as db:
            rows = db.execute(
                "SELECT destination, next_hop, interface_index, metric FROM hns_routes ORDER BY seq"
            ).fetchall()
        return [HostRoute(d, n, i, m) for d, n, i, m in rows]

    # ---- restart ----

    def restart(self, reboot: bool = False) -> None:
        """Simulate an HNS service restart (or, with `reboot`, a node reboot).

        Service restart: every endpoint is gone (as reported for Windows Server 2022 in
        projectcalico/calico#5164), namespaces stay but hold no endpoints, networks created
        with Flags EnableNonPersistent (8) are gone, other networks (with their policies)
        stay, host routes (the TCP/IP stack's, not HNS's) stay. Reboot: the same, and the
        namespaces and the host routes added without -p (the active store) are gone too.
        """
        with self._write() as db:
            db.execute("DELETE FROM hns_endpoints")
            db.execute("DELETE FROM hns_addresses")
            if reboot:
                db.execute("DELETE FROM hns_namespaces")
                db.execute("DELETE FROM hns_routes")
            for nsid, doc_text in db.execute("SELECT id, doc FROM hns_namespaces").fetchall():
                ns = json.loads(doc_text)
                _set_resources(
                    ns, [r for r in ns.get("Resources", []) if r.get("Type") != "Endpoint"]
                )
                db.execute("UPDATE hns_namespaces SET doc = ? WHERE id = ?", (_dump(ns), nsid))
            for nid, doc_text in db.execute("SELECT id, doc FROM hns_networks").fetchall():
                flags = json.loads(doc_text).get("Flags") or 0
                if isinstance(flags, int) and flags & NETWORK_FLAG_ENABLE_NON_PERSISTENT:
                    db.execute("DELETE FROM hns_networks WHERE id = ?", (nid,))


# ---- helpers of this module ----


def _as_json(value: Mapping[str, Any] | str | bytes, what: str) -> dict[str, Any]:
    data = parse_json_text(value, what) if isinstance(value, str | bytes) else value
    if not isinstance(data, Mapping):
        raise hcn_error("HCN_E_INVALID_JSON", f"{what}: expected a JSON object")
    return dict(data)


def _dump(doc: Mapping[str, Any]) -> str:
    return json.dumps(doc, separators=(",", ":"))


def _norm_id(value: str) -> str:
    text = value.strip().strip("{}")
    try:
        return str(uuid.UUID(text)).upper()
    except ValueError:
        return text


def _new_or_given_id(given: str | None) -> str:
    if not given or given.strip("{}") == "00000000-0000-0000-0000-000000000000":
        return str(uuid.uuid4()).upper()
    try:
        return str(uuid.UUID(given.strip().strip("{}"))).upper()
    except ValueError:
        raise hcn_error("HCN_E_GUID_CONVERSION_FAILURE", f"ID {given!r}") from None


def _next_seq(db: sqlite3.Connection, table: str) -> int:
    row = db.execute(f"SELECT COALESCE(MAX(seq), 0) + 1 FROM {table}").fetchone()
    return int(row[0])


def _mac_for(eid: str) -> str:
    """A stable Hyper-V (00-15-5D) MAC address for an endpoint, as HNS writes it."""
    digest = hashlib.sha256(eid.encode()).digest()
    return "-".join(f"{b:02X}" for b in (0x00, 0x15, 0x5D, *digest[:3]))


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


def _set_resources(ns: dict[str, Any], resources: list[Any]) -> None:
    if resources:
        ns["Resources"] = resources
    else:
        ns.pop("Resources", None)


def _query_filter(query: Mapping[str, Any] | str | None) -> Any:
    """A predicate over resource JSON from an HCN query (its Filter: members to equal)."""
    if query is None:
        return lambda doc: True
    q = decode_as(HostComputeQuery, _as_json(query, "query"), "query")
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
                if _norm_id(value) != _norm_id(have):
                    return False
            elif have != value:
                return False
        return True

    return match


if TYPE_CHECKING:
    from vfpnet.hns.client import HnsClient

    def _speaks_the_protocol(emulator: Emulator) -> HnsClient:
        return emulator
