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
    emu.create_network_v1(settings) -> dict   # HNS v1 (HNSNetwork/HNSEndpoint JSON in and
    emu.get_network_v1(id) -> dict            # out; the same objects the v2 calls see)
    emu.list_networks_v1() -> list[dict];     emu.delete_network_v1(id)
    emu.create_endpoint_v1(settings) -> dict;  emu.get_endpoint_v1(id) -> dict
    emu.list_endpoints_v1() -> list[dict];    emu.delete_endpoint_v1(id)
    emu.attach_container(endpoint_id, container_id); emu.detach_container(endpoint_id, container_id)
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
hns_addresses, hns_container_attachments, hns_routes, hns_faults); other components may
keep their own tables in the same file under their own prefix.

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
- v1 calls (see v1endpoints.py): a container attachment is recorded per (endpoint,
  container); attaching again: HCN_E_ENDPOINT_ALREADY_ATTACHED, detaching one not there:
  HCN_E_ENDPOINT_NOT_ATTACHED; a v1 endpoint is a v2 endpoint and the reverse;
- attaching a remote endpoint to a namespace: HCN_E_INVALID_REMOTE_ENDPOINT_OPERATION;
  attaching one already in a namespace: HCN_E_ENDPOINT_NAMESPACE_ALREADY_EXISTS;
- an endpoint filter on `State` (hcsshim's v1 EndpointState, as Azure NPM queries) sees 3
  (AttachedSharing) for endpoints in a namespace or held by several containers, 2
  (Attached) for one held by one container (v1 attach) and 1 (Created) for the others;
- policy Types are matched without regard to case (Calico's CNI sends `SDNROUTE`) and
  kept as sent;
- unknown ids (GUID or not) are HCN_E_NETWORK_NOT_FOUND / HCN_E_ENDPOINT_NOT_FOUND; an
  unknown namespace is ERROR_NOT_FOUND (as hcsshim's own test expects);
- duplicate route add: ERROR_OBJECT_ALREADY_EXISTS (0x1392); delete of a missing route:
  ERROR_NOT_FOUND (0x490).

Package layout (one idea per module; see each module's docstring):
    store.py      the state file: tables, one transaction per call, the fault plan, IDs/JSON
    documents.py  reading one network/endpoint/namespace by ID (HNS's not-found errors)
    query.py      HCN query Filters as predicates
    networks.py   networks;  endpoints.py endpoints;  addresses.py address claim/allocation
    namespaces.py namespaces and endpoint attachment;  routes.py the host route table
    v1endpoints.py the HNS v1 endpoint calls and container attachment
    v1networks.py  the HNS v1 network calls
    lifecycle.py  injected faults, service restart, reboot
    api.py        the `Emulator` class delegating to the above
"""

from vfpnet.hns.emulator.api import Emulator
from vfpnet.hns.emulator.store import BUSY_TIMEOUT_S, SCHEMA_VERSION, VERSION_ENV

__all__ = ["BUSY_TIMEOUT_S", "SCHEMA_VERSION", "VERSION_ENV", "Emulator"]
