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
