"""The HNS backend: an L2Bridge HNS network per CNI network, an HNS endpoint per pod.

Windows nodes run it against the real HNS; elsewhere netconf `hns.state` names the HNS
emulator's state file (`vfpnet.hns.emulator`). Netconf block (all optional on Windows):

    "hns": {"api": "v2" | "v1", "state": "/abs/path/to/hns.db"}

HNS v2 (endpoint attached to the pod's HNS namespace) is used when `api` is "v2" (the
default) and CNI_NETNS is a namespace GUID, as Azure CNI decides on real nodes (UseHnsV2);
otherwise HNS v1 (`api` "v1", or CNI_NETNS `container:<id>`/`none` as docker passes it):
the network and the endpoint are made through HNS v1 (so it runs on an HNS that predates
HCN v2) and the endpoint is attached to the container CNI_CONTAINERID, as Azure CNI's
newNetworkImplHnsV1/newEndpointImplHnsV1 do with HotAttachEndpoint. Both APIs show the
same objects: v1 and v2 pods share the network found by name.

ADD, step by step (each change pushes its undo right away; the core rolls back):
1. transparent-tunnel refuses HNS v1 (`hns.api` "v1", a CNI_NETNS that is no GUID, or an
   HNS without the V2 API or host routes) before anything is made;
2. the pod's namespace must exist (v2);
3. the IPAM result; a gateway per address (`vfpnet.cni.gateway`);
4. the network, ensured by name (L2Bridge, the pod's subnets with their gateways); it is
   node-level and stays, like the Linux backend's bridge; v1 first checks the pod has one
   address of each family (HNS v1's limit);
5. the endpoint, named `<containerID>_<ifname>` so DEL and a retried ADD find it without
   state; one left by a crashed ADD is removed first (detached from its namespace or its
   containers, with its host routes); it carries the pod's DNS (the result's: runtimeConfig
   `dns`, else netconf `dns`, else IPAM's, else prevResult's): v2 `Dns` {Domain, Search,
   ServerList, Options}, v1 `DNSServerList` and `DNSSuffix` (the search list), each
   comma-joined, as Azure CNI's newEndpointImplHnsV2/V1 and win-bridge set them (v1 has
   no place for options, and neither of them sends the domain through v1); no DNS, no field;
6. attached: v2 to the namespace, v1 to the container (one that already holds it is
   taken as done, as hcsshim's HotAttachEndpoint does);
7. transparent-tunnel: a host route per pod address (/32, /128) via its gateway, after
   the endpoint; a route that already exists via the same gateway (left by a crash) is
   adopted, one via another next hop is refused (it would bypass the gateway).
The state records the API (`api`), `namespace` (v2) or `container` (v1), and `dns` (the
pod's DNS in the result's shape; CHECK reports drift when the endpoint's differs).

l2bridge and transparent make no host routes: same-node traffic stays on the vSwitch.
Azure CNI on Windows makes every network L2Bridge (its "bridge" mode) with a default route
via the gateway on each subnet and endpoint, as here. It has no Windows transparent mode;
ours is that network with the endpoint holding its address as /32 where HNS supports such
prefixes (hcsshim's Slash32EndpointPrefixes gate), as the Linux transparent mode does.

DEL: the endpoint first (detach, delete), then the routes; if the endpoint cannot be
deleted the routes stay (the pod must never be reachable around the gateway's filtering)
and DEL fails; a repeated DEL finishes. DEL acts on the stored mode and API, never the
netconf's (a crashed ADD's record has no state yet: its stored netconf and CNI_NETNS say
which API that ADD used). v1: the endpoints of the attachment's name (HNS v1 listing) are
detached from every container holding them, then deleted (a refused detach does not
stop the delete, which takes the attachment with it; "not found" is done, as in Azure
CNI's deleteEndpointImplHnsV1). With no record at all (state lost) it finds the
endpoint by name (through the API the netconf names), detaches it from its namespace or
its containers, deletes it and removes the host routes to its addresses via its own
gateway. GC lists through the API the netconf names too.

Fault points (VFPNET_CNI_FAULT, see `vfpnet.cni.faults`): after-ipam, after-hns-network,
after-hns-endpoint, after-hns-attach, after-hns-route (after each route).
"""

from __future__ import annotations

import os

from vfpnet.cni import errors, faults
from vfpnet.cni.attachment import Added, Request
from vfpnet.cni.backends.hns_dns import dns_drift, dns_v1, dns_v2
from vfpnet.cni.dns import pod_dns
from vfpnet.cni.netconf import is_guid, requested_mac

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from vfpnet.cni.backend import IpamSource
    from vfpnet.cni.gateway import PodAddress
    from vfpnet.cni.netconf import NetConf
    from vfpnet.cni.undo import UndoStack
    from vfpnet.hns.client import HnsClient
    from vfpnet.hns.errors import HcnError
    from vfpnet.hns.schema.route import HostRoute

TUNNEL = "transparent-tunnel"
APIS = ("v1", "v2")
SCHEMA = {"Major": 2, "Minor": 0}


class HnsConf:
    """Netconf `hns`: which HNS API to use and (off Windows) the emulator's state file."""

    __slots__ = ("api", "state")

    def __init__(self, raw: object, where: str = "hns") -> None:
        if raw is None:
            raw = {}
        if not isinstance(raw, dict):
            raise _invalid(f"{where}: must be an object")
        unknown = sorted(set(raw) - {"api", "state"})
        if unknown:
            raise _invalid(f"{where}.{unknown[0]}: unknown field (expected api, state)")
        api = raw.get("api", "v2")
        if api not in APIS:
            raise _invalid(f"{where}.api: {api!r} is not an HNS API (expected \"v1\" or \"v2\")")
        state = raw.get("state")
        if state is not None and (not isinstance(state, str) or not state.startswith("/")):
            raise _invalid(f"{where}.state: {state!r} must be an absolute path")
        self.api: str = api
        self.state: str | None = state


def endpoint_name(container_id: str, ifname: str) -> str:
    return f"{container_id}_{ifname}"


class HnsBackend:
    def __init__(self) -> None:
        self._client: HnsClient | None = None

    def client(self, hns: HnsConf, where: str = "hns.state") -> HnsClient:
        if self._client is None:
            self._client = _open(hns, where)
        return self._client

    # -- ADD -----------------------------------------------------------------------
    def add(self, req: Request, ipam: IpamSource, undo: UndoStack) -> Added:
        conf, args = req.conf, req.args
        hns = HnsConf(conf.raw.get("hns"))
        tunnel = conf.mode == TUNNEL
        v2 = hns.api == "v2" and is_guid(args.netns)
        if tunnel and hns.api != "v2":
            raise _invalid(
                "hns.api: transparent-tunnel needs HNS v2 (namespaces and per-pod host routes); "
                f"{hns.api!r} is refused"
            )
        if tunnel and not v2:
            raise errors.CniError(
                errors.INVALID_ENVIRONMENT,
                f"CNI_NETNS: {args.netns!r} is not an HNS namespace GUID, which would mean "
                "HNS v1: transparent-tunnel needs HNS v2",
            )
        client = self.client(hns)
        features = _call(client.supported_features, "read the HNS version")
        if v2:
            _require_v2(client, features, tunnel)
            namespace = args.netns.strip("{}")
            try:
                client.get_namespace(namespace)
            except _hcn_error_class() as exc:
                if exc.name == "ERROR_NOT_FOUND":
                    raise errors.CniError(
                        errors.INVALID_ENVIRONMENT,
                        f"CNI_NETNS: HNS namespace {args.netns} does not exist",
                    ) from None
                raise _setup(exc, f"read HNS namespace {args.netns}") from None

        from vfpnet.cni.gateway import choose_gateways

        result = ipam.result()
        faults.point("after-ipam")
        ips: list[dict[str, object]] = result["ips"]  # type: ignore[assignment]
        addresses = choose_gateways(conf.gateway, ips)
        if v2:
            network_id = str(_ensure_network(client, conf.name, addresses)["ID"])
        else:
            _one_address_per_family(addresses)
            network_id = _ensure_network_v1(client, conf.name, addresses)
        faults.point("after-hns-network")

        name = endpoint_name(args.container_id, args.ifname)
        slash32 = conf.mode == "transparent" and bool(features.get("Slash32EndpointPrefixes"))
        dns = pod_dns(conf, result)
        make = _make_endpoint_v2 if v2 else _make_endpoint_v1
        wanted_mac, mac_source = requested_mac(conf, args)
        endpoint_id, mac = make(client, network_id, conf.name, name, addresses, slash32, dns,
                                undo, wanted_mac)
        if wanted_mac and mac != wanted_mac:  # an HNS that picks its own: never silently
            raise errors.CniError(
                errors.NETWORK_SETUP_FAILED,
                f"{mac_source}: HNS gave endpoint {endpoint_id} MAC {mac or 'none'}, "
                f"not {wanted_mac}",
            )
        faults.point("after-hns-endpoint")

        state: dict[str, object] = {
            "api": "v2" if v2 else "v1",
            "hnsState": hns.state,
            "network": network_id,
            "networkName": conf.name,
            "endpoint": endpoint_id,
            "endpointName": name,
            "gateways": {p.address: str(p.gateway) for p in addresses},
            "dns": dns,
        }
        if v2:
            namespace = args.netns.strip("{}").upper()
            try:
                client.attach_endpoint(namespace, endpoint_id)
            except _hcn_error_class() as exc:
                raise _setup(
                    exc, f"attach HNS endpoint {endpoint_id} to namespace {namespace}"
                ) from None
            undo.push(f"namespace {namespace} attachment",
                      lambda: _detach(client, namespace, endpoint_id))
            state["namespace"] = namespace
        else:
            # HNS v1 (dockershim-era runtimes: CNI_NETNS is `container:<id>` or `none`): the
            # endpoint goes to the container by its ID, as Azure CNI's HotAttachEndpoint.
            container = args.container_id
            _attach_container(client, endpoint_id, container)
            undo.push(f"container {container} attachment",
                      lambda: _detach_container(client, endpoint_id, container))
            state["container"] = container
        faults.point("after-hns-attach")

        if tunnel:
            state["routes"] = _add_host_routes(client, addresses, undo)

        iface: dict[str, object] = {"name": args.ifname, "sandbox": args.netns}
        if mac:
            iface["mac"] = mac
        out_ips: list[dict[str, object]] = []
        routes: list[dict[str, object]] = []
        for p in addresses:
            prefix = p.max_prefixlen if slash32 else p.prefix
            out_ips.append({"address": f"{p.address}/{prefix}", "gateway": str(p.gateway),
                            "interface": 0})
            default = "0.0.0.0/0" if p.version == 4 else "::/0"
            routes.append({"dst": default, "gw": str(p.gateway)})
        return Added([iface], out_ips, routes, state)

    # -- DEL -----------------------------------------------------------------------
    def delete(self, req: Request, record: dict[str, object] | None) -> None:
        args = req.args
        stored = record.get("netconf") if record is not None else None
        raw_hns = (stored if isinstance(stored, dict) else req.conf.raw).get("hns")
        hns = HnsConf(raw_hns)
        client = self.client(hns)
        state = _backend_state(record)
        network_name = str(state.get("networkName") or (
            stored.get("name") if isinstance(stored, dict) else req.conf.name))
        name = str(state.get("endpointName") or endpoint_name(args.container_id, args.ifname))

        api = _api_of(record, hns)
        if api == "v1" or (api is None and hns.api == "v1"):
            endpoints = _endpoints_of_v1(client, state, network_name, name)
            # A v1 attachment has no host routes (transparent-tunnel refuses v1 before making
            # any); with no record, those to the endpoints' addresses via their gateways go.
            stray = [w for ep in endpoints for w in _routes_of_endpoint_v1(ep)] if (
                record is None) else []
            for ep in endpoints:
                _remove_endpoint_v1(client, ep)
            _delete_host_routes(client, stray)
            return
        endpoints = _endpoints_of(client, state, network_name, name)
        wanted: list[tuple[str, str | None]]  # (destination prefix, next hop or None = any)
        if record is None:
            # No stored mode: HNS itself says which host routes belong to the pod (those to
            # its addresses via its own gateway); l2bridge/transparent pods have none.
            wanted = [w for ep in endpoints for w in _routes_of_endpoint(ep)]
        elif record.get("mode") == TUNNEL:
            wanted = _stored_routes(record, state)
        else:
            wanted = []

        for ep in endpoints:
            try:
                _remove_endpoint(client, ep)
            except errors.CniError as exc:
                exc.msg += (
                    "; its host routes are kept so the pod is never reachable around the "
                    "gateway (repeat DEL)" if wanted else ""
                )
                raise
        if wanted:
            _delete_host_routes(client, wanted)

    # -- CHECK ---------------------------------------------------------------------
    def check(self, req: Request, record: dict[str, object]) -> None:
        stored = record.get("netconf")
        hns = HnsConf((stored if isinstance(stored, dict) else req.conf.raw).get("hns"))
        client = self.client(hns)
        state = _backend_state(record)
        endpoint_id = str(state.get("endpoint") or "")
        v1 = state.get("api") == "v1"
        try:
            endpoint = (client.get_endpoint_v1 if v1 else client.get_endpoint)(endpoint_id)
        except _hcn_error_class() as exc:
            if exc.name == "HCN_E_ENDPOINT_NOT_FOUND":
                raise _drift(f"HNS endpoint {endpoint_id} is missing") from None
            raise _setup(exc, f"read HNS endpoint {endpoint_id}") from None
        problems: list[str] = []
        if v1:
            container = str(state.get("container") or "")
            if not _holds(endpoint, container):
                problems.append(f"HNS endpoint {endpoint_id} is not attached to container "
                                f"{container}")
            have = {str(endpoint.get(k)) for k in ("IPAddress", "IPv6Address") if endpoint.get(k)}
        else:
            namespace = state.get("namespace")
            have_ns = str(endpoint.get("HostComputeNamespace") or "").upper()
            if namespace and have_ns != str(namespace).upper():
                problems.append(f"HNS endpoint {endpoint_id} is not in namespace {namespace}")
            have = {str(c.get("IpAddress")) for c in endpoint.get("IpConfigurations") or ()}
        for address in _record_addresses(record):
            if address not in have:
                problems.append(f"HNS endpoint {endpoint_id} lacks address {address}")
        recorded = state.get("dns")
        if isinstance(recorded, dict):  # records made before DNS went on endpoints have none
            problem = dns_drift(endpoint, recorded, v1)
            if problem:
                problems.append(f"HNS endpoint {endpoint_id} {problem}")
        if record.get("mode") == TUNNEL:
            present = {(r.destination_prefix, r.next_hop)
                       for r in _call(client.list_routes, "list host routes")}
            for dst, hop in _stored_routes(record, state):
                if not any(d == dst and (hop is None or h == hop) for d, h in present):
                    problems.append(f"host route {dst} via {hop or 'the gateway'} is missing")
        if problems:
            raise _drift("; ".join(problems))

    # -- GC / STATUS ---------------------------------------------------------------
    def gc(self, conf: NetConf, live: list[dict[str, object]]) -> list[str]:
        """Remove endpoints of this network and pod host routes that no live record owns."""
        hns = HnsConf(conf.raw.get("hns"))
        problems: list[str] = []
        try:
            client = self.client(hns)
            owned_names = {str(_backend_state(r).get("endpointName") or endpoint_name(
                str(r.get("containerID")), str(r.get("ifname")))) for r in live}
            owned_addresses = {a for r in live for a in _record_addresses(r)}
            if hns.api == "v1":
                # What the v1 flow makes, through the calls it makes them with.
                network = _network_named_v1(client, conf.name)
                if network is None:
                    return []
                have = _network_subnets_v1(network)
                for ep in _call(client.list_endpoints_v1, "list HNS endpoints"):
                    if (str(ep.get("VirtualNetwork", "")).upper() != str(network["ID"]).upper()
                            or ep.get("IsRemoteEndpoint") or ep.get("Name") in owned_names):
                        continue
                    try:
                        _remove_endpoint_v1(client, ep)
                    except errors.CniError as exc:
                        problems.append(exc.msg)
            else:
                network = _network_named(client, conf.name)
                if network is None:
                    return []
                have = _network_subnets(network)
                query = _filter({"HostComputeNetwork": network["ID"]})
                for ep in _call(lambda: client.list_endpoints(query), "list HNS endpoints"):
                    if (ep.get("Flags") or 0) & 1 or ep.get("Name") in owned_names:
                        continue  # remote endpoints belong to kube-proxy, not to a pod here
                    try:
                        _remove_endpoint(client, ep)
                    except errors.CniError as exc:
                        problems.append(exc.msg)
            import ipaddress

            subnets = [ipaddress.ip_network(s) for s in have]
            stale: list[tuple[str, str | None]] = []
            for route in _call(client.list_routes, "list host routes"):
                net = ipaddress.ip_network(route.destination_prefix)
                if (net.prefixlen == net.max_prefixlen
                        and any(net.version == s.version and net.network_address in s
                                for s in subnets)
                        and str(net.network_address) not in owned_addresses):
                    stale.append((route.destination_prefix, route.next_hop))
            if stale:
                _delete_host_routes(client, stale)
        except errors.CniError as exc:
            problems.append(exc.msg)
        return problems

    def status(self, conf: NetConf) -> None:
        try:
            hns = HnsConf(conf.raw.get("hns"))
            client = self.client(hns)
            features = _call(client.supported_features, "read the HNS version")
            if conf.mode == TUNNEL:
                if hns.api != "v2":
                    raise _invalid("hns.api: transparent-tunnel needs HNS v2")
                _require_v2(client, features, True)
        except errors.CniError as exc:
            raise errors.CniError(errors.NOT_AVAILABLE, exc.msg) from None


# -- HNS calls --------------------------------------------------------------------------


def _open(hns: HnsConf, where: str) -> HnsClient:
    import sys

    if hns.state is None and sys.platform != "win32":
        raise _invalid(f"{where}: required off Windows (the HNS emulator's state file)")
    if hns.state is not None and not os.path.isfile(hns.state):
        raise errors.CniError(
            errors.INVALID_CONFIG, f"{where}: {hns.state} does not exist (no HNS there)"
        )
    from vfpnet.hns.client import open_client

    try:
        return open_client(hns.state)
    except Exception as exc:  # the emulator's SQLite or the Win32 DLLs refused to open
        raise errors.CniError(errors.IO_FAILURE, f"{where}: cannot open HNS: {exc}") from None


def _hcn_error_class() -> type[HcnError]:
    from vfpnet.hns.errors import HcnError

    return HcnError


def _call(fn: Any, what: str) -> Any:
    try:
        return fn()
    except _hcn_error_class() as exc:
        raise _setup(exc, what) from None


def _require_v2(client: HnsClient, features: dict[str, Any], tunnel: bool) -> None:
    v2 = bool((features.get("API") or {}).get("V2"))
    routes = bool(features.get("HostRoute"))
    if v2 and (routes or not tunnel):
        return
    version = _call(client.version, "read the HNS version")
    lacks = [what for what, ok in (("the V2 API", v2), ("host routes", routes or not tunnel))
             if not ok]
    need = "transparent-tunnel needs HNS v2 with host routes" if tunnel else (
        "CNI_NETNS is a namespace GUID, which needs HNS v2")
    raise _invalid(f"mode: {need}; HNS {version} lacks {' and '.join(lacks)}")


def _filter(members: dict[str, object]) -> dict[str, object]:
    import json

    return {"SchemaVersion": SCHEMA, "Filter": json.dumps(members)}


def _network_named(client: HnsClient, name: str) -> dict[str, Any] | None:
    found = _call(lambda: client.list_networks(_filter({"Name": name})),
                  f"list HNS networks named {name}")
    return dict(found[0]) if found else None


def _network_subnets(network: dict[str, Any]) -> list[str]:
    import ipaddress

    return [
        str(ipaddress.ip_network(str(s["IpAddressPrefix"]), strict=False))
        for ipam in network.get("Ipams") or ()
        for s in ipam.get("Subnets") or ()
        if s.get("IpAddressPrefix")
    ]


def _ensure_network(client: HnsClient, name: str,
                    addresses: list[PodAddress]) -> dict[str, Any]:
    network = _network_named(client, name)
    if network is None:
        subnets = []
        for p in addresses:
            default = "0.0.0.0/0" if p.version == 4 else "::/0"
            subnets.append({"IpAddressPrefix": p.subnet,
                            "Routes": [{"NextHop": str(p.gateway), "DestinationPrefix": default}]})
        settings = {"Name": name, "Type": "L2Bridge", "SchemaVersion": SCHEMA,
                    "Ipams": [{"Type": "Static", "Subnets": subnets}]}
        try:
            network = client.create_network(settings)
        except _hcn_error_class() as exc:
            if exc.name != "HCN_E_NETWORK_ALREADY_EXISTS":
                raise _setup(exc, f"create HNS network {name}") from None
            network = _network_named(client, name)  # another node agent made it meanwhile
            if network is None:
                raise _setup(exc, f"create HNS network {name}") from None
    _check_network(name, network.get("Type"), _network_subnets(network), addresses)
    return network


def _check_network(name: str, kind: object, have: list[str],
                   addresses: list[PodAddress]) -> None:
    """A network found by name must be L2Bridge and hold every subnet of the pod."""
    if str(kind or "").lower() != "l2bridge":
        raise _invalid(f"name: HNS network {name!r} exists with Type {kind!r}, not L2Bridge")
    for p in addresses:
        if p.subnet not in have:
            raise _invalid(
                f"name: HNS network {name!r} has subnets {', '.join(have) or 'none'}, "
                f"not the pod's {p.subnet}"
            )


def _network_named_v1(client: HnsClient, name: str) -> dict[str, Any] | None:
    """As hcsshim's GetHNSNetworkByName: every network (v1 has no query), by Name."""
    found = _call(client.list_networks_v1, f"list HNS networks named {name}")
    return next((dict(n) for n in found if n.get("Name") == name), None)


def _ensure_network_v1(client: HnsClient, name: str, addresses: list[PodAddress]) -> str:
    """The network through HNS v1 (Azure CNI's newNetworkImplHnsV1: Subnets with their
    gateways), found by name or made; its ID."""
    network = _network_named_v1(client, name)
    if network is None:
        subnets = [{"AddressPrefix": p.subnet, "GatewayAddress": str(p.gateway)}
                   for p in addresses]
        settings = {"Name": name, "Type": "L2Bridge", "Subnets": subnets}
        try:
            network = client.create_network_v1(settings)
        except _hcn_error_class() as exc:
            if exc.name != "HCN_E_NETWORK_ALREADY_EXISTS":
                raise _setup(exc, f"create HNS network {name}") from None
            network = _network_named_v1(client, name)  # another node agent made it meanwhile
            if network is None:
                raise _setup(exc, f"create HNS network {name}") from None
    _check_network(name, network.get("Type"), _network_subnets_v1(network), addresses)
    return str(network["ID"])


def _network_subnets_v1(network: dict[str, Any]) -> list[str]:
    import ipaddress

    return [str(ipaddress.ip_network(str(s["AddressPrefix"]), strict=False))
            for s in network.get("Subnets") or () if s.get("AddressPrefix")]


def _endpoint_settings(name: str, network_id: str, addresses: list[PodAddress],
                       slash32: bool, dns: dict[str, object]) -> dict[str, object]:
    configs = []
    routes = []
    for p in addresses:
        prefix = p.max_prefixlen if slash32 else p.prefix
        configs.append({"IpAddress": p.address, "PrefixLength": prefix})
        default = "0.0.0.0/0" if p.version == 4 else "::/0"
        routes.append({"NextHop": str(p.gateway), "DestinationPrefix": default})
    out: dict[str, object] = {"Name": name, "HostComputeNetwork": network_id,
                              "IpConfigurations": configs}
    hcn_dns = dns_v2(dns)
    if hcn_dns:
        out["Dns"] = hcn_dns
    out["Routes"] = routes
    out["SchemaVersion"] = SCHEMA
    return out


def _endpoint_settings_v1(name: str, network_id: str, addresses: list[PodAddress],
                          slash32: bool, dns: dict[str, object]) -> dict[str, object]:
    """hcsshim's HNSEndpoint: one address of each family with its prefix and gateway."""
    _one_address_per_family(addresses)
    out: dict[str, object] = {"Name": name, "VirtualNetwork": network_id, **dns_v1(dns)}
    for p in addresses:
        prefix = p.max_prefixlen if slash32 else p.prefix
        keys = (("IPAddress", "PrefixLength", "GatewayAddress") if p.version == 4
                else ("IPv6Address", "IPv6PrefixLength", "GatewayAddressV6"))
        out.update(zip(keys, (p.address, prefix, str(p.gateway)), strict=True))
    return out


def _one_address_per_family(addresses: list[PodAddress]) -> None:
    """HNS v1 holds one IPv4 and one IPv6 address per endpoint (hcsshim's HNSEndpoint)."""
    seen: dict[int, str] = {}
    for p in addresses:
        version = p.version
        if version in seen:
            raise errors.CniError(
                errors.INVALID_CONFIG,
                f"ipam: HNS v1 gives an endpoint one IPv{version} address; the IPAM "
                f"result has {seen[version]} and {p.address}",
            )
        seen[version] = p.address


def _mac_of(endpoint: dict[str, Any]) -> str:
    return str(endpoint.get("MacAddress") or "").replace("-", ":").lower()


def _hns_mac(mac: str) -> str:
    """A MAC as HNS writes it (`00-15-5D-0A-0B-0C`), from the plugin's `00:15:5d:0a:0b:0c`."""
    return mac.replace(":", "-").upper()


def _make_endpoint_v2(client: HnsClient, network_id: str, network_name: str, name: str,
                      addresses: list[PodAddress], slash32: bool, dns: dict[str, object],
                      undo: UndoStack, mac: str = "") -> tuple[str, str]:
    """The pod's endpoint through HCN v2; its ID and MAC address."""
    for stale in _endpoints_named(client, network_id, name):
        # Left by a crashed ADD of this attachment whose record is gone: remove it and
        # its host routes as a stateless DEL would.
        _remove_endpoint(client, stale)
        _delete_host_routes(client, _routes_of_endpoint(stale))
    settings = _endpoint_settings(name, network_id, addresses, slash32, dns)
    if mac:
        settings["MacAddress"] = _hns_mac(mac)
    try:
        endpoint = client.create_endpoint(network_id, settings)
    except _hcn_error_class() as exc:
        raise _setup(exc, f"create HNS endpoint {name} in network {network_name}") from None
    endpoint_id = str(endpoint["ID"])
    undo.push(f"HNS endpoint {endpoint_id}", lambda: _delete_endpoint(client, endpoint_id))
    return endpoint_id, _mac_of(endpoint)


def _make_endpoint_v1(client: HnsClient, network_id: str, network_name: str, name: str,
                      addresses: list[PodAddress], slash32: bool, dns: dict[str, object],
                      undo: UndoStack, mac: str = "") -> tuple[str, str]:
    """The pod's endpoint through HNS v1 (Azure CNI's newEndpointImplHnsV1); ID and MAC."""
    settings = _endpoint_settings_v1(name, network_id, addresses, slash32, dns)
    if mac:
        settings["MacAddress"] = _hns_mac(mac)
    for stale in _endpoints_named_v1(client, network_id, name):
        _remove_endpoint_v1(client, stale)  # a crashed ADD's, still attached to its container
    try:
        endpoint = client.create_endpoint_v1(settings)
    except _hcn_error_class() as exc:
        raise _setup(exc, f"create HNS v1 endpoint {name} in network {network_name}") from None
    endpoint_id = str(endpoint["ID"])
    undo.push(f"HNS endpoint {endpoint_id}", lambda: _delete_endpoint_v1(client, endpoint_id))
    return endpoint_id, _mac_of(endpoint)


def _endpoints_named_v1(client: HnsClient, network_id: str, name: str) -> list[dict[str, Any]]:
    """As hcsshim's GetHNSEndpointByName: every endpoint (v1 has no query), by Name."""
    found = _call(client.list_endpoints_v1, f"list HNS endpoints named {name}")
    return [dict(ep) for ep in found if ep.get("Name") == name
            and str(ep.get("VirtualNetwork", "")).upper() == network_id.upper()]


def _endpoints_of_v1(client: HnsClient, state: dict[str, object], network_name: str,
                     name: str) -> list[dict[str, Any]]:
    network_id = state.get("network")
    if not network_id:
        network = _network_named_v1(client, network_name)
        if network is None:
            return []
        network_id = network["ID"]
    return _endpoints_named_v1(client, str(network_id), name)


def _holds(endpoint: dict[str, Any], container: str) -> bool:
    """Whether HNS lists `container` among the endpoint's SharedContainers (hcsshim's
    IsAttached: IDs compared without regard to case)."""
    return bool(container) and container.lower() in {
        str(c).lower() for c in endpoint.get("SharedContainers") or ()}


def _attach_container(client: HnsClient, endpoint_id: str, container: str) -> None:
    try:
        client.attach_container(endpoint_id, container)
    except _hcn_error_class() as exc:
        # Already there (a repeated attach): done, as hcsshim's HotAttachEndpoint decides.
        if exc.name != "HCN_E_ENDPOINT_ALREADY_ATTACHED":
            raise _setup(exc, f"attach HNS endpoint {endpoint_id} to container "
                              f"{container}") from None


def _detach_container(client: HnsClient, endpoint_id: str, container: str) -> None:
    try:
        client.detach_container(endpoint_id, container)
    except _hcn_error_class() as exc:
        if exc.name not in ("HCN_E_ENDPOINT_NOT_ATTACHED", "HCN_E_ENDPOINT_NOT_FOUND"):
            raise _setup(exc, f"detach HNS endpoint {endpoint_id} from container "
                              f"{container}") from None


def _delete_endpoint_v1(client: HnsClient, endpoint_id: str) -> None:
    try:
        client.delete_endpoint_v1(endpoint_id)
    except _hcn_error_class() as exc:
        # Azure CNI's v1 DEL takes "not found" as done: the endpoint is gone already.
        if exc.name != "HCN_E_ENDPOINT_NOT_FOUND":
            raise _setup(exc, f"delete HNS endpoint {endpoint_id}") from None


def _remove_endpoint_v1(client: HnsClient, endpoint: dict[str, Any]) -> None:
    """Detach a v1 endpoint (HNSEndpoint JSON) from every container holding it, then delete
    it: the v1 DEL."""
    endpoint_id = str(endpoint["ID"])
    namespace = (endpoint.get("Namespace") or {}).get("ID")
    if namespace:  # a v2 pod's endpoint of the same name (the netconf changed): its way out
        _detach(client, str(namespace), endpoint_id)
    _detach_holders(client, endpoint_id, endpoint.get("SharedContainers") or ())
    _delete_endpoint_v1(client, endpoint_id)


def _detach_holders(client: HnsClient, endpoint_id: str, containers: Any) -> None:
    """Detach the endpoint from each container; a refused detach does not stop the delete
    that follows (it takes the attachment with it, as Azure CNI's v1 DEL, which deletes
    without detaching, relies on; amazon-vpc-cni-plugins#48 leaked endpoints otherwise)."""
    for container in containers:
        try:
            _detach_container(client, endpoint_id, str(container))
        except errors.CniError:
            continue


def _api_of(record: dict[str, object] | None, hns: HnsConf) -> str | None:
    """The HNS API an attachment was made with: stored in its state, or, for a record of a
    crashed ADD (no state yet), decided from its stored netconf and CNI_NETNS as that ADD
    decided it; None with no record at all (HNS then says what to undo)."""
    if record is None:
        return None
    api = _backend_state(record).get("api")
    if api in APIS:
        return str(api)
    return "v2" if hns.api == "v2" and is_guid(str(record.get("netns") or "")) else "v1"


def _endpoints_named(client: HnsClient, network_id: str | None,
                     name: str) -> list[dict[str, Any]]:
    found = _call(lambda: client.list_endpoints(_filter({"Name": name})),
                  f"list HNS endpoints named {name}")
    return [dict(ep) for ep in found
            if network_id is None
            or str(ep.get("HostComputeNetwork", "")).upper() == network_id.upper()]


def _endpoints_of(client: HnsClient, state: dict[str, object], network_name: str,
                  name: str) -> list[dict[str, Any]]:
    """The attachment's endpoints: the recorded one and any of its name (a crashed ADD's)."""
    network_id = state.get("network")
    if not network_id:
        network = _network_named(client, network_name)
        if network is None:
            return []
        network_id = network["ID"]
    return _endpoints_named(client, str(network_id), name)


def _delete_endpoint(client: HnsClient, endpoint_id: str) -> None:
    try:
        client.delete_endpoint(endpoint_id)
    except _hcn_error_class() as exc:
        if exc.name != "HCN_E_ENDPOINT_NOT_FOUND":
            raise _setup(exc, f"delete HNS endpoint {endpoint_id}") from None


def _detach(client: HnsClient, namespace: str, endpoint_id: str) -> None:
    try:
        client.detach_endpoint(namespace, endpoint_id)
    except _hcn_error_class() as exc:
        if exc.name not in ("HCN_E_ENDPOINT_NOT_ATTACHED", "HCN_E_ENDPOINT_NOT_FOUND",
                            "ERROR_NOT_FOUND"):
            raise _setup(exc, f"detach HNS endpoint {endpoint_id} from {namespace}") from None


def _remove_endpoint(client: HnsClient, endpoint: dict[str, Any]) -> None:
    """Detach an endpoint (HCN v2 JSON) from its namespace, then delete it (as Azure CNI's
    HNS v2 DEL). One in no namespace may be held by containers through HNS v1 (a v1 pod
    whose record is gone): it is detached from them first, as the v1 DEL does."""
    endpoint_id = str(endpoint["ID"])
    namespace = endpoint.get("HostComputeNamespace")
    if namespace:
        _detach(client, str(namespace), endpoint_id)
    else:
        try:
            held = client.get_endpoint_v1(endpoint_id)
        except _hcn_error_class() as exc:
            if exc.name == "HCN_E_ENDPOINT_NOT_FOUND":
                return
            raise _setup(exc, f"read HNS endpoint {endpoint_id}") from None
        _detach_holders(client, endpoint_id, held.get("SharedContainers") or ())
    _delete_endpoint(client, endpoint_id)


def _host_route(destination: str, next_hop: str) -> HostRoute:
    from vfpnet.hns.schema.route import host_route

    return host_route(destination, next_hop)


def _add_host_routes(client: HnsClient, addresses: list[PodAddress],
                     undo: UndoStack) -> list[dict[str, str]]:
    """A host route per pod address via its gateway; each undo pushed as it is made."""
    existing = _call(client.list_routes, "list host routes")
    made: list[dict[str, str]] = []
    for p in addresses:
        route = _host_route(p.host_prefix, str(p.gateway))
        for other in existing:
            if other.destination_prefix == route.destination_prefix and \
                    other.next_hop != route.next_hop:
                raise errors.CniError(
                    errors.NETWORK_SETUP_FAILED,
                    f"host route {other.destination_prefix} via {other.next_hop} already exists "
                    f"and would bypass gateway {route.next_hop} ({p.source}); remove it",
                )
        try:
            client.add_route(route)
        except _hcn_error_class() as exc:
            # Already there via the same gateway: left by a crashed ADD of an earlier pod with
            # this address (IPAM gave it to us, so no live pod owns it): adopt it.
            if exc.name != "ERROR_OBJECT_ALREADY_EXISTS":
                raise _setup(
                    exc, f"add host route {route.destination_prefix} via {route.next_hop}"
                ) from None
        undo.push(f"host route {route.destination_prefix}", _route_undo(client, route))
        made.append({"destination": route.destination_prefix, "nextHop": route.next_hop})
        faults.point("after-hns-route")
    return made


def _route_undo(client: HnsClient, route: HostRoute) -> Callable[[], None]:
    return lambda: _delete_route(client, route)


def _delete_route(client: HnsClient, route: HostRoute) -> None:
    try:
        client.delete_route(route)
    except _hcn_error_class() as exc:
        if exc.name != "ERROR_NOT_FOUND":
            raise _setup(
                exc, f"delete host route {route.destination_prefix} via {route.next_hop}"
            ) from None


def _delete_host_routes(client: HnsClient, wanted: list[tuple[str, str | None]]) -> None:
    """Delete the routes to each destination (via the given next hop, or any when None)."""
    if not wanted:
        return
    present = _call(client.list_routes, "list host routes")
    for destination, hop in wanted:
        for route in present:
            if route.destination_prefix == destination and hop in (None, route.next_hop):
                _delete_route(client, route)


def _routes_of_endpoint(endpoint: dict[str, Any]) -> list[tuple[str, str | None]]:
    import ipaddress

    gateways = {ipaddress.ip_address(str(r["NextHop"])).version: str(r["NextHop"])
                for r in endpoint.get("Routes") or () if r.get("NextHop")}
    out: list[tuple[str, str | None]] = []
    for config in endpoint.get("IpConfigurations") or ():
        address = ipaddress.ip_address(str(config.get("IpAddress")))
        hop = gateways.get(address.version)
        if hop is not None:
            out.append((f"{address}/{address.max_prefixlen}", hop))
    return out


def _routes_of_endpoint_v1(endpoint: dict[str, Any]) -> list[tuple[str, str | None]]:
    out: list[tuple[str, str | None]] = []
    for address, gateway, full in (("IPAddress", "GatewayAddress", 32),
                                   ("IPv6Address", "GatewayAddressV6", 128)):
        if endpoint.get(address) and endpoint.get(gateway):
            out.append((f"{endpoint[address]}/{full}", str(endpoint[gateway])))
    return out


def _stored_routes(record: dict[str, object],
                   state: dict[str, object]) -> list[tuple[str, str | None]]:
    """Routes of a transparent-tunnel record; for a crashed ADD (no backend state yet),
    every route to one of its addresses (IPAM gave them to this pod alone)."""
    routes = state.get("routes")
    if isinstance(routes, list):
        return [(str(r["destination"]), str(r["nextHop"])) for r in routes]
    out: list[tuple[str, str | None]] = []
    for address in _record_addresses(record):
        full = 128 if ":" in address else 32
        out.append((f"{address}/{full}", None))
    return out


# -- small pieces -----------------------------------------------------------------------


def _backend_state(record: dict[str, object] | None) -> dict[str, object]:
    state = (record or {}).get("backend_state") or {}
    return state if isinstance(state, dict) else {}


def _record_addresses(record: dict[str, object]) -> list[str]:
    ips = record.get("ips") or []
    return [str(ip).split("/")[0] for ip in ips]  # type: ignore[attr-defined]


def _setup(exc: HcnError, what: str) -> errors.CniError:
    return errors.CniError(errors.NETWORK_SETUP_FAILED, f"hns: {what}: {exc}")


def _invalid(msg: str) -> errors.CniError:
    return errors.CniError(errors.INVALID_CONFIG, msg)


def _drift(msg: str) -> errors.CniError:
    return errors.CniError(errors.CHECK_DRIFT, f"CHECK: {msg}")
