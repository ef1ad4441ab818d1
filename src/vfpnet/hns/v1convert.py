"""HNS v1 JSON (HNSNetwork, HNSEndpoint, flat v1 policies) converted to HCN v2.

The emulator accepts v1-shaped documents on its v2 calls by converting them first:
VirtualNetwork -> HostComputeNetwork, IPAddress/PrefixLength -> IpConfigurations,
IsRemoteEndpoint -> Flags 1, Subnets/AddressPrefix/GatewayAddress -> Ipams/Subnets/Routes,
and v1 policies to v2 ones: ACL (`{"Type":"ACL","Protocol":6,"LocalPorts":"80",...}` to
`{"Type":"ACL","Settings":{...,"Protocols":"6"}}`), OutBoundNAT (ExceptionList ->
Exceptions, VIP -> VirtualIP), NAT -> PortMapping, ROUTE -> SDNRoute, PA -> ProviderAddress.
v1 members with no v2 counterpart are kept as they are.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

_ACL_KEYS = (
    "Id",
    "Protocols",
    "Action",
    "Direction",
    "LocalAddresses",
    "RemoteAddresses",
    "LocalPorts",
    "RemotePorts",
    "RuleType",
    "Priority",
)


def policy_v1_to_v2(policy: Any) -> Any:
    """A v1 flat policy as a v2 endpoint policy (ACL, and OutBoundNAT's ExceptionList)."""
    if not isinstance(policy, Mapping) or "Settings" in policy:
        return policy
    ptype = policy.get("Type")
    if ptype == "ACL":
        settings: dict[str, Any] = {k: policy[k] for k in _ACL_KEYS if k in policy}
        if "Protocols" not in settings and isinstance(policy.get("Protocol"), int):
            settings["Protocols"] = str(policy["Protocol"])
        if "LocalPorts" not in settings and policy.get("LocalPort"):
            settings["LocalPorts"] = str(policy["LocalPort"])
        if "RemotePorts" not in settings and policy.get("RemotePort"):
            settings["RemotePorts"] = str(policy["RemotePort"])
        return {"Type": "ACL", "Settings": settings}
    if ptype == "OutBoundNAT":
        settings = {}
        if "VIP" in policy:
            settings["VirtualIP"] = policy["VIP"]
        if "ExceptionList" in policy:
            settings["Exceptions"] = policy["ExceptionList"]
        if "Destinations" in policy:
            settings["Destinations"] = policy["Destinations"]
        return {"Type": "OutBoundNAT", "Settings": settings}
    if ptype == "NAT":  # v1 port mapping; Protocol is "TCP"/"UDP" there
        protocol = policy.get("Protocol")
        numbers = {"TCP": 6, "UDP": 17}
        pm: dict[str, Any] = {}
        if isinstance(protocol, str) and protocol.upper() in numbers:
            pm["Protocol"] = numbers[protocol.upper()]
        elif isinstance(protocol, int):
            pm["Protocol"] = protocol
        for key in ("InternalPort", "ExternalPort"):
            if key in policy:
                pm[key] = policy[key]
        return {"Type": "PortMapping", "Settings": pm}
    if ptype == "ROUTE":
        route = {k: policy[k] for k in ("DestinationPrefix", "NeedEncap") if k in policy}
        return {"Type": "SDNRoute", "Settings": route}
    if ptype == "PA":
        return {"Type": "ProviderAddress", "Settings": {"ProviderAddress": policy.get("PA", "")}}
    rest = {k: v for k, v in policy.items() if k != "Type"}
    return {"Type": ptype, "Settings": rest}


def endpoint_v1_to_v2(data: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    moved = {
        "VirtualNetwork",
        "IPAddress",
        "PrefixLength",
        "IPv6Address",
        "IPv6PrefixLength",
        "IsRemoteEndpoint",
        "Policies",
        "VirtualNetworkName",
        "GatewayAddress",
        "GatewayAddressV6",
        "DNSServerList",
        "DNSSuffix",
    }
    for key in ("ID", "Name"):
        if key in data:
            out[key] = data[key]
    if data.get("VirtualNetwork"):
        out["HostComputeNetwork"] = data["VirtualNetwork"]
    configs = []
    if data.get("IPAddress"):
        cfg: dict[str, Any] = {"IpAddress": data["IPAddress"]}
        if data.get("PrefixLength"):
            cfg["PrefixLength"] = data["PrefixLength"]
        configs.append(cfg)
    if data.get("IPv6Address"):
        cfg = {"IpAddress": data["IPv6Address"]}
        if data.get("IPv6PrefixLength"):
            cfg["PrefixLength"] = data["IPv6PrefixLength"]
        configs.append(cfg)
    if configs:
        out["IpConfigurations"] = configs
    if data.get("Policies"):
        out["Policies"] = [policy_v1_to_v2(p) for p in data["Policies"]]
    routes = []
    if data.get("GatewayAddress"):
        routes.append({"NextHop": data["GatewayAddress"], "DestinationPrefix": "0.0.0.0/0"})
    if data.get("GatewayAddressV6"):
        routes.append({"NextHop": data["GatewayAddressV6"], "DestinationPrefix": "::/0"})
    if routes:
        out["Routes"] = routes
    dns: dict[str, Any] = {}
    if data.get("DNSServerList"):
        dns["ServerList"] = [s.strip() for s in str(data["DNSServerList"]).split(",") if s.strip()]
    if data.get("DNSSuffix"):
        dns["Search"] = [s.strip() for s in str(data["DNSSuffix"]).split(",") if s.strip()]
    if dns:
        out["Dns"] = dns
    if data.get("IsRemoteEndpoint"):
        out["Flags"] = 1
    for key, value in data.items():
        if key not in moved and key not in out:
            out[key] = value
    return out


def network_v1_to_v2(data: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    moved = {"Subnets", "Policies", "DNSServerList", "DNSSuffix"}
    for key in ("ID", "Name", "Type"):
        if key in data:
            out[key] = data[key]
    # v1 VLAN/VSID policies isolate the network's subnets; in v2 they are subnet policies.
    isolation = []
    policies = []
    for p in data.get("Policies") or []:
        if isinstance(p, Mapping) and p.get("Type") in ("VLAN", "VSID") and "Settings" not in p:
            isolation.append({"Type": p["Type"], "Settings": {"IsolationId": p.get(p["Type"], 0)}})
        else:
            policies.append(policy_v1_to_v2(p))
    subnets = []
    for subnet in data.get("Subnets") or []:
        if not isinstance(subnet, Mapping):
            continue
        s: dict[str, Any] = {"IpAddressPrefix": subnet.get("AddressPrefix", "")}
        if isolation:
            s["Policies"] = isolation
        if subnet.get("GatewayAddress"):
            s["Routes"] = [{"NextHop": subnet["GatewayAddress"], "DestinationPrefix": "0.0.0.0/0"}]
        subnets.append(s)
    if subnets:
        out["Ipams"] = [{"Type": "Static", "Subnets": subnets}]
    if policies:
        out["Policies"] = policies
    dns: dict[str, Any] = {}
    if data.get("DNSServerList"):
        dns["ServerList"] = [s.strip() for s in str(data["DNSServerList"]).split(",") if s.strip()]
    if data.get("DNSSuffix"):
        dns["Domain"] = data["DNSSuffix"]
    if dns:
        out["Dns"] = dns
    for key, value in data.items():
        if key not in moved and key not in out:
            out[key] = value
    return out


# ---- HCN v2 -> HNS v1: how HNS shows one endpoint through its v1 API ----

_V2_ONLY = frozenset(
    {
        "HostComputeNetwork",
        "HostComputeNamespace",
        "IpConfigurations",
        "Routes",
        "Dns",
        "Flags",
        "SchemaVersion",
        "Policies",
    }
)


def policy_v2_to_v1(policy: Any) -> Any:
    """A v2 endpoint policy as v1 shows it: flat (`Settings` members beside `Type`), with
    the v1 names of ACL (`Protocol` as a number), OutBoundNAT, PortMapping (NAT), SDNRoute
    (ROUTE) and ProviderAddress (PA); the inverse of `policy_v1_to_v2`."""
    if not isinstance(policy, Mapping) or not isinstance(policy.get("Settings"), Mapping):
        return policy
    ptype = str(policy.get("Type", ""))
    settings = dict(policy["Settings"])
    kind = ptype.lower()
    if kind == "acl":
        protocols = settings.pop("Protocols", None)
        out: dict[str, Any] = {"Type": "ACL"}
        if isinstance(protocols, str) and protocols.isdigit():
            out["Protocol"] = int(protocols)
        elif protocols is not None:
            out["Protocols"] = protocols
        return {**out, **settings}
    if kind == "outboundnat":
        out = {"Type": "OutBoundNAT"}
        if "VirtualIP" in settings:
            out["VIP"] = settings.pop("VirtualIP")
        if "Exceptions" in settings:
            out["ExceptionList"] = settings.pop("Exceptions")
        return {**out, **settings}
    if kind == "portmapping":
        names = {6: "TCP", 17: "UDP"}
        protocol = settings.pop("Protocol", None)
        out = {"Type": "NAT"}
        if protocol is not None:
            out["Protocol"] = (
                names.get(protocol, protocol) if isinstance(protocol, int) else protocol
            )
        return {**out, **settings}
    if kind == "sdnroute":
        return {"Type": "ROUTE", **settings}
    if kind == "provideraddress":
        return {"Type": "PA", "PA": settings.get("ProviderAddress", "")}
    return {"Type": ptype, **settings}


def endpoint_v2_to_v1(
    doc: Mapping[str, Any],
    network: Mapping[str, Any] | None = None,
    shared_containers: list[str] | None = None,
    state: int | None = None,
) -> dict[str, Any]:
    """A stored endpoint (HCN v2 JSON) as HNS's v1 API returns it (hcsshim's HNSEndpoint):
    VirtualNetwork(Name), IPAddress/PrefixLength, IPv6Address/IPv6PrefixLength, the gateways
    (the endpoint's default routes, else its subnet's), DNSServerList/DNSSuffix as
    comma-separated text, flat Policies, IsRemoteEndpoint, Namespace {"ID"} when in an HCN
    namespace, and, as HNS adds them, SharedContainers and State. Members the caller sent
    that v2 does not know are kept."""
    import ipaddress

    out: dict[str, Any] = {}
    for key in ("ID", "Name"):
        if key in doc:
            out[key] = doc[key]
    if doc.get("HostComputeNetwork"):
        out["VirtualNetwork"] = doc["HostComputeNetwork"]
    if network is not None and network.get("Name"):
        out["VirtualNetworkName"] = network["Name"]
    defaults: dict[int, str] = {}
    for route in doc.get("Routes") or ():
        if route.get("DestinationPrefix") in ("0.0.0.0/0", "::/0") and route.get("NextHop"):
            defaults.setdefault(ipaddress.ip_address(route["NextHop"]).version, route["NextHop"])
    for cfg in doc.get("IpConfigurations") or ():
        address = ipaddress.ip_address(str(cfg.get("IpAddress")))
        v6 = address.version == 6
        name, length, gateway = (
            ("IPv6Address", "IPv6PrefixLength", "GatewayAddressV6")
            if v6
            else ("IPAddress", "PrefixLength", "GatewayAddress")
        )
        if name in out:
            continue  # HNS v1 shows one address of each family
        out[name] = str(address)
        if cfg.get("PrefixLength") is not None:
            out[length] = cfg["PrefixLength"]
        hop = defaults.get(address.version) or _subnet_gateway(network, address)
        if hop:
            out[gateway] = hop
    if doc.get("MacAddress"):
        out["MacAddress"] = doc["MacAddress"]
    dns = doc.get("Dns") or {}
    if dns.get("ServerList"):
        out["DNSServerList"] = ",".join(dns["ServerList"])
    if dns.get("Search"):
        out["DNSSuffix"] = ",".join(dns["Search"])
    if doc.get("Policies"):
        out["Policies"] = [policy_v2_to_v1(p) for p in doc["Policies"]]
    if (doc.get("Flags") or 0) & 1:
        out["IsRemoteEndpoint"] = True
    if doc.get("HostComputeNamespace"):
        out["Namespace"] = {"ID": doc["HostComputeNamespace"]}  # hcsshim's hns.Namespace
    for key, value in doc.items():
        if key not in _V2_ONLY and key not in out:
            out[key] = value
    if shared_containers is not None:
        out["SharedContainers"] = list(shared_containers)
    if state is not None:
        out["State"] = state
    return out


def _subnet_gateway(network: Mapping[str, Any] | None, address: Any) -> str | None:
    """The gateway of the network subnet holding `address`: its route's next hop, else its
    first host (HNS's default gateway)."""
    import ipaddress

    for ipam in (network or {}).get("Ipams") or ():
        for subnet in ipam.get("Subnets") or ():
            prefix = subnet.get("IpAddressPrefix")
            if not prefix:
                continue
            net = ipaddress.ip_network(prefix, strict=False)
            if net.version != address.version or address not in net:
                continue
            for route in subnet.get("Routes") or ():
                if route.get("NextHop"):
                    return str(route["NextHop"])
            return str(net.network_address + 1) if net.num_addresses > 2 else None
    return None


_V2_ONLY_NETWORK = frozenset({"Ipams", "Dns", "SchemaVersion", "Policies", "MacPool", "Flags"})


def network_v2_to_v1(doc: Mapping[str, Any]) -> dict[str, Any]:
    """A stored network (HCN v2 JSON) as HNS's v1 API returns it (hcsshim's HNSNetwork):
    Subnets with AddressPrefix and GatewayAddress (the subnet's route, else its first host),
    VLAN/VSID subnet isolation as flat network Policies, DNSServerList/DNSSuffix; the
    inverse of `network_v1_to_v2`. Members v2 does not know are kept."""
    import ipaddress

    out: dict[str, Any] = {k: doc[k] for k in ("ID", "Name", "Type") if k in doc}
    subnets: list[dict[str, Any]] = []
    policies: list[Any] = []
    for ipam in doc.get("Ipams") or ():
        for subnet in ipam.get("Subnets") or ():
            prefix = subnet.get("IpAddressPrefix")
            if not prefix:
                continue
            entry: dict[str, Any] = {"AddressPrefix": prefix}
            net = ipaddress.ip_network(prefix, strict=False)
            hop = _subnet_gateway(doc, net.network_address + 1) if net.num_addresses > 2 else None
            if hop:
                entry["GatewayAddress"] = hop
            subnets.append(entry)
            for p in subnet.get("Policies") or ():
                kind = p.get("Type") if isinstance(p, Mapping) else None
                if kind in ("VLAN", "VSID"):
                    flat = {"Type": kind, kind: (p.get("Settings") or {}).get("IsolationId", 0)}
                    if flat not in policies:
                        policies.append(flat)
    if subnets:
        out["Subnets"] = subnets
    policies.extend(policy_v2_to_v1(p) for p in doc.get("Policies") or ())
    if policies:
        out["Policies"] = policies
    dns = doc.get("Dns") or {}
    if dns.get("ServerList"):
        out["DNSServerList"] = ",".join(dns["ServerList"])
    if dns.get("Domain"):
        out["DNSSuffix"] = dns["Domain"]
    for key, value in doc.items():
        if key not in _V2_ONLY_NETWORK and key not in out:
            out[key] = value
    return out
