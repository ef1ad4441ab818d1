"""A Windows-twin node realized from its HNS state, so real packets cross it.

HNS (the emulator, one state file per node) and the VFP model decide; this module only
makes their state physical, reading nothing but the state file:
- the vSwitch is a Linux bridge `vsw` in the node's namespace; its ports are isolated, and
  the node answers ARP on it, so every packet from a pod meets the node's routing table
  as HNS's host route table would have it (a /32 host route via the gateway sends it out
  through the uplink; the subnet's route keeps it on the vSwitch); the subnet's gateway
  is the fabric, as in an Azure VNet;
- each endpoint is a veth: `eth0` with the endpoint's address, MAC and routes in the pod's
  namespace, the other end a vSwitch port;
- host routes are routes of the node's namespace, in tables for packets from the vSwitch
  (one per HNS network: endpoints of another network are reached via the gateway, as
  the VFP path model has it);
- each endpoint's VFP port is a pair of nftables chains generated from `build_port` of
  the endpoint (`vfpnet.lab.vfp_ports`), replaced in one transaction on every sync.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from vfpnet.lab.commands import LabError, in_ns, nft_apply, run, sysctl
from vfpnet.lab.config import ClusterConfig, NodeConfig
from vfpnet.lab.runstate import PodRecord
from vfpnet.lab.topology import node_ns
from vfpnet.lab.vfp_ports import ports_ruleset
from vfpnet.vfp import load_node
from vfpnet.vfp.acl import endpoint_addresses, endpoint_id
from vfpnet.vfp.path import NodeSnapshot, network_subnets
from vfpnet.vfp.port import build_port

VSWITCH = "vsw"
# Routing for packets from the vSwitch lives in tables of its own (one per HNS network),
# chosen by `ip rule` for packets that enter from the vSwitch only: a packet sent to the
# gateway comes back on the uplink and must then be delivered, not sent out again.
RULE_PRIORITY = 100
FIRST_TABLE = 100


def vfp_table(prefix: str) -> str:
    return f"{prefix}_vfp"


def ensure_vswitch(prefix: str, config: ClusterConfig, node: NodeConfig) -> None:
    ns = node_ns(prefix, node.name)
    links = json.loads(in_ns(ns, "ip", "-j", "link", "show").stdout)
    if any(link["ifname"] == VSWITCH for link in links):
        return
    subnet = node.subnet(config.vnet)
    in_ns(ns, "ip", "link", "add", VSWITCH, "type", "bridge")
    in_ns(ns, "ip", "link", "set", VSWITCH, "up")
    # No address of the pod subnet on the node: its gateway (.1) is the fabric's.
    in_ns(ns, "ip", "route", "add", str(subnet), "dev", VSWITCH, "scope", "link")
    sysctl(ns, f"net.ipv4.conf.{VSWITCH}.proxy_arp=1",
           f"net.ipv4.conf.{VSWITCH}.proxy_arp_pvlan=1",
           f"net.ipv4.neigh.{VSWITCH}.proxy_delay=0",
           "net.ipv4.conf.all.rp_filter=0", "net.ipv4.conf.default.rp_filter=0",
           f"net.ipv4.conf.{VSWITCH}.rp_filter=0", "net.ipv4.conf.uplink.rp_filter=0")


def state_file(root: Path, node: str) -> Path:
    return root / "nodes" / node / "hns.db"


def realize(prefix: str, root: Path, config: ClusterConfig, node: NodeConfig,
            pods: list[PodRecord]) -> NodeSnapshot:
    """Make the node's HNS state physical; returns the snapshot it was made from."""
    ensure_vswitch(prefix, config, node)
    ns = node_ns(prefix, node.name)
    snap = load_node(str(state_file(root, node.name)))
    local = [ep for ep in snap.endpoints if not _is_remote(ep)]
    for index, pod in enumerate(sorted(pods, key=lambda p: p.id)):
        ep = next((e for e in local if pod.ip and pod.ip in endpoint_addresses(e)), None)
        if ep is None:
            raise LabError(f"node {node.name}: no HNS endpoint holds pod {pod.id}'s address "
                           f"{pod.ip or '(none)'}")
        pod.endpoint = endpoint_id(ep)
        _plug(prefix, ns, pod, ep, snap, f"{prefix}e{index}")
    _sync_routes(ns, snap, local)
    nft_apply(ns, ports_ruleset(vfp_table(prefix), VSWITCH, [build_port(ep) for ep in local]))
    return snap


def _is_remote(ep: Mapping[str, Any]) -> bool:
    flags = ep.get("Flags") or 0
    return (isinstance(flags, int) and bool(flags & 1)) or bool(ep.get("IsRemoteEndpoint"))


def _plug(prefix: str, ns: str, pod: PodRecord, ep: Mapping[str, Any], snap: NodeSnapshot,
          port_name: str) -> None:
    """The endpoint's vNIC in the pod and its vSwitch port (once; kept across syncs)."""
    pod_links = json.loads(in_ns(pod.netns, "ip", "-j", "link", "show").stdout)
    if any(link["ifname"] == "eth0" for link in pod_links):
        return
    prefix_len = 24
    for conf in ep.get("IpConfigurations") or ():
        if conf.get("IpAddress") == pod.ip and isinstance(conf.get("PrefixLength"), int):
            prefix_len = int(conf["PrefixLength"])
    run("ip", "link", "add", port_name, "netns", ns, "type", "veth", "peer", "name", "eth0",
        "netns", pod.netns)
    mac = ep.get("MacAddress")
    if isinstance(mac, str) and mac:
        in_ns(pod.netns, "ip", "link", "set", "eth0", "address", mac.replace("-", ":").lower())
    in_ns(pod.netns, "ip", "addr", "add", f"{pod.ip}/{prefix_len}", "dev", "eth0")
    in_ns(pod.netns, "ip", "link", "set", "eth0", "up")
    gateway = _gateway(ep, snap)
    if gateway:
        in_ns(pod.netns, "ip", "route", "add", "default", "via", gateway, "dev", "eth0",
              "onlink")
    in_ns(ns, "ip", "link", "set", port_name, "master", VSWITCH)
    in_ns(ns, "bridge", "link", "set", "dev", port_name, "isolated", "on")
    in_ns(ns, "ip", "link", "set", port_name, "up")


def _gateway(ep: Mapping[str, Any], snap: NodeSnapshot) -> str | None:
    for route in ep.get("Routes") or ():
        if route.get("DestinationPrefix") in ("0.0.0.0/0",) and route.get("NextHop"):
            return str(route["NextHop"])
    wanted = str(ep.get("HostComputeNetwork") or "").lower()
    for net in snap.networks:
        if str(net.get("ID") or "").lower() == wanted:
            for subnet in network_subnets(net):
                if subnet.gateway:
                    return subnet.gateway
    return None


def _sync_routes(ns: str, snap: NodeSnapshot, local: list[Mapping[str, Any]]) -> None:
    """The node's routing for packets from the vSwitch, as the VFP path model has it.

    Per HNS network one table, chosen by the source endpoint's address: the network's own
    endpoints are on the vSwitch (`/32 dev vsw`) unless a host route names them; host
    routes go via their next hop; the rest (other networks, other subnets, other nodes)
    goes via the network's gateway out through the uplink. Replaced whole on every sync.
    """
    listed = in_ns(ns, "ip", "-j", "rule", "show", check=False)
    for rule in json.loads(listed.stdout) if listed.stdout.strip() else []:
        if rule.get("priority") == RULE_PRIORITY:
            in_ns(ns, "ip", "rule", "del", "priority", str(RULE_PRIORITY), check=False)
    host_routes = {r.prefix: r.next_hop for r in snap.routes
                   if ipaddress.ip_network(r.prefix).version == 4}
    networks = sorted({str(ep.get("HostComputeNetwork") or "").upper() for ep in local})
    for index, network in enumerate(networks):
        table = str(FIRST_TABLE + index)
        in_ns(ns, "ip", "route", "flush", "table", table, check=False)
        members = [ep for ep in local
                   if str(ep.get("HostComputeNetwork") or "").upper() == network]
        gateway = next((g for g in (_gateway(ep, snap) for ep in members) if g), None)
        for ep in members:
            for address in endpoint_addresses(ep):
                if ipaddress.ip_address(address).version != 4:
                    continue
                in_ns(ns, "ip", "rule", "add", "iif", VSWITCH, "from", f"{address}/32",
                      "lookup", table, "priority", str(RULE_PRIORITY))
                if f"{address}/32" not in host_routes:
                    in_ns(ns, "ip", "route", "add", f"{address}/32", "dev", VSWITCH, "table",
                          table)
        for prefix, next_hop in sorted(host_routes.items()):
            in_ns(ns, "ip", "route", "replace", prefix, "via", next_hop, "dev", "uplink",
                  "onlink", "table", table)
        if gateway:
            in_ns(ns, "ip", "route", "add", "default", "via", gateway, "dev", "uplink",
                  "onlink", "table", table)
