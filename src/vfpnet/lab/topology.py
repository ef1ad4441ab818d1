"""The fabric and the nodes as network namespaces.

    pod netns --veth-- NODE netns --uplink (/30)-- FABRIC netns
                                                   routes each node's pod subnet to it;
                                                   its nftables is the cloud NSG;
                                                   on a Windows-twin node's uplink it also
                                                   owns the pod subnet's gateway (.1)

Names: `PREFIX-fabric`, `PREFIX-n-NODE`, `PREFIX-p-NS-NAME`; the fabric's end of node i's
uplink is `PREFIXu<i>`, the node's end `uplink`. Nothing is created in the root namespace.
"""

from __future__ import annotations

from vfpnet.lab.commands import in_ns, nft_apply, run, sysctl
from vfpnet.lab.config import ClusterConfig, NodeConfig
from vfpnet.lab.fabric_nsg import nsg_ruleset
from vfpnet.vfp.nsg import Nsg


def fabric_ns(prefix: str) -> str:
    return f"{prefix}-fabric"


def node_ns(prefix: str, node: str) -> str:
    return f"{prefix}-n-{node}"


def pod_ns(prefix: str, namespace: str, name: str) -> str:
    return f"{prefix}-p-{namespace}-{name}"


def nsg_table(prefix: str) -> str:
    return f"{prefix}_nsg"


def add_netns(name: str) -> None:
    run("ip", "netns", "add", name)
    in_ns(name, "ip", "link", "set", "lo", "up")


def build_fabric(prefix: str) -> str:
    ns = fabric_ns(prefix)
    add_netns(ns)
    # Same-node pods in transparent-tunnel mode hairpin through the fabric: a redirect
    # back to the node would be wrong. `default` covers uplinks created later.
    sysctl(ns, "net.ipv4.ip_forward=1", "net.ipv4.conf.all.send_redirects=0",
           "net.ipv4.conf.default.send_redirects=0")
    return ns


def build_node(prefix: str, config: ClusterConfig, node: NodeConfig) -> str:
    ns = node_ns(prefix, node.name)
    fabric = fabric_ns(prefix)
    add_netns(ns)
    sysctl(ns, "net.ipv4.ip_forward=1", "net.ipv4.conf.all.send_redirects=0",
           "net.ipv4.conf.default.send_redirects=0", "net.ipv4.conf.all.accept_redirects=0",
           "net.ipv4.conf.default.accept_redirects=0")
    if node.os == "linux":
        # l2bridge pods on one node talk across the bridge: the agent's forward hook sees
        # that traffic only when bridged IPv4 goes through netfilter (kube-proxy sets it too).
        in_ns(ns, "sysctl", "-qw", "net.bridge.bridge-nf-call-iptables=1", check=False)
    fabric_ip, node_ip = node.uplink(config.vnet)
    far = f"{prefix}u{node.index}"
    run("ip", "link", "add", "uplink", "netns", ns, "type", "veth", "peer", "name", far,
        "netns", fabric)
    in_ns(ns, "ip", "addr", "add", f"{node_ip}/30", "dev", "uplink")
    in_ns(ns, "ip", "link", "set", "uplink", "up")
    in_ns(ns, "ip", "route", "add", "default", "via", fabric_ip)
    in_ns(fabric, "ip", "addr", "add", f"{fabric_ip}/30", "dev", far)
    in_ns(fabric, "ip", "link", "set", far, "up")
    in_ns(fabric, "ip", "route", "add", str(node.subnet(config.vnet)), "via", node_ip)
    if node.os == "windows":
        # As in an Azure VNet, the first host of a Windows node's pod subnet is the cloud's
        # gateway: the fabric answers for it on the node's uplink.
        gateway = str(node.subnet(config.vnet).network_address + 1)
        in_ns(fabric, "ip", "addr", "add", f"{gateway}/32", "dev", far)
        in_ns(ns, "ip", "route", "add", f"{gateway}/32", "dev", "uplink")
    return ns


def apply_nsg(prefix: str, nsg: Nsg, vnet: str) -> None:
    """(Re)program the fabric's NSG in one transaction."""
    table = nsg_table(prefix)
    nft_apply(fabric_ns(prefix), [
        {"add": {"table": {"family": "ip", "name": table}}},
        {"delete": {"table": {"family": "ip", "name": table}}},
        *nsg_ruleset(table, nsg, (vnet,)),
    ])
