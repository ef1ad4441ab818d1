"""CLUSTER.yaml: the lab's nodes, VNet, NSG and the manifests to deploy, validated.

```yaml
vnet: 10.250.0.0/16            # every lab address comes from here; used only inside the lab
manifests: manifests            # a directory (or file) relative to this file
nodes:
  - {name: lin1, os: linux, mode: transparent-tunnel}
  - {name: win1, os: windows, mode: transparent-tunnel}
nsg:                            # Azure NSG rule shape; a prefix may be `pod:NS/NAME`
  securityRules:
    - name: block-web-to-db
      properties: {priority: 100, direction: Inbound, access: Deny, protocol: Tcp,
                   sourceAddressPrefix: "pod:shop/web", destinationAddressPrefix: "pod:shop/db",
                   sourcePortRange: "*", destinationPortRange: "5432"}
```

A pod's CNI mode is its node's `mode` unless the Pod has the annotation
`vfpnet.io/mode`. Node i gets the pod subnet `VNET.(10+i).0/24` and the uplink
`VNET.0.(4i)/30` to the fabric.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from vfpnet.errors import InputError

Os = Literal["linux", "windows"]
MODES = ("l2bridge", "transparent", "transparent-tunnel")
MODE_ANNOTATION = "vfpnet.io/mode"
MAX_NODES = 40
_NODE_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$")


@dataclass(frozen=True)
class NodeConfig:
    name: str
    os: Os
    mode: str
    index: int  # position in CLUSTER.yaml: picks the node's subnet and uplink

    def subnet(self, vnet: ipaddress.IPv4Network) -> ipaddress.IPv4Network:
        base = int(vnet.network_address) + ((10 + self.index) << 8)
        return ipaddress.IPv4Network((base, 24))

    def uplink(self, vnet: ipaddress.IPv4Network) -> tuple[str, str]:
        """(fabric side, node side) addresses of the node's /30 uplink."""
        base = int(vnet.network_address) + 4 * self.index
        return str(ipaddress.IPv4Address(base + 1)), str(ipaddress.IPv4Address(base + 2))


@dataclass(frozen=True)
class ClusterConfig:
    source: str
    vnet: ipaddress.IPv4Network
    manifests: Path
    nodes: tuple[NodeConfig, ...]
    nsg: Any  # the NSG document as written; pod references resolve once pods have addresses

    def node(self, name: str) -> NodeConfig | None:
        return next((n for n in self.nodes if n.name == name), None)


def load_config(path: str) -> ClusterConfig:
    """Read and validate CLUSTER.yaml; InputError names the file and field."""
    import yaml

    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror}") from None
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" at line {mark.line + 1}" if mark is not None else ""
        raise InputError(f"{path}: invalid YAML{line}") from None
    return parse_config(doc, path)


def parse_config(doc: Any, source: str) -> ClusterConfig:
    if not isinstance(doc, dict):
        raise InputError(f"{source}: expected a mapping with vnet, manifests and nodes")
    unknown = sorted(set(doc) - {"vnet", "manifests", "nodes", "nsg"})
    if unknown:
        raise InputError(f"{source}: field {unknown[0]!r}: unknown (expected vnet, manifests, "
                         "nodes, nsg)")
    vnet = _vnet(doc.get("vnet"), source)
    manifests_raw = doc.get("manifests")
    if not isinstance(manifests_raw, str) or not manifests_raw:
        raise InputError(f"{source}: field 'manifests': required (a directory of manifests)")
    manifests = (Path(source).resolve().parent / manifests_raw).resolve()
    if not manifests.exists():
        raise InputError(f"{source}: field 'manifests': {manifests_raw} does not exist")
    nodes_raw = doc.get("nodes")
    if not isinstance(nodes_raw, list) or not nodes_raw:
        raise InputError(f"{source}: field 'nodes': required (a non-empty list)")
    if len(nodes_raw) > MAX_NODES:
        raise InputError(f"{source}: field 'nodes': at most {MAX_NODES} nodes")
    nodes = tuple(_node(raw, i, source) for i, raw in enumerate(nodes_raw))
    seen: set[str] = set()
    for node in nodes:
        if node.name in seen:
            raise InputError(f"{source}: node {node.name!r}: field 'name': duplicate")
        seen.add(node.name)
    nsg = doc.get("nsg") or {"securityRules": []}
    if not isinstance(nsg, dict):
        raise InputError(f"{source}: field 'nsg': expected a mapping with securityRules")
    return ClusterConfig(source, vnet, manifests, nodes, nsg)


def _vnet(raw: Any, source: str) -> ipaddress.IPv4Network:
    if not isinstance(raw, str):
        raise InputError(f"{source}: field 'vnet': required (an IPv4 CIDR such as 10.250.0.0/16)")
    try:
        vnet = ipaddress.IPv4Network(raw)
    except ValueError:
        raise InputError(f"{source}: field 'vnet': {raw!r} is not an IPv4 network CIDR") from None
    if vnet.prefixlen > 16:
        raise InputError(f"{source}: field 'vnet': {raw} is smaller than a /16")
    if not vnet.is_private:
        raise InputError(f"{source}: field 'vnet': {raw} is not a private range")
    return vnet


def _node(raw: Any, index: int, source: str) -> NodeConfig:
    where = f"{source}: nodes[{index}]"
    if not isinstance(raw, dict):
        raise InputError(f"{where}: expected a mapping with name, os, mode")
    unknown = sorted(set(raw) - {"name", "os", "mode"})
    if unknown:
        raise InputError(f"{where}: field {unknown[0]!r}: unknown (expected name, os, mode)")
    name = raw.get("name")
    if not isinstance(name, str) or not _NODE_NAME.match(name):
        raise InputError(
            f"{where}: field 'name': {name!r} is not a node name (lowercase letters, digits, "
            "'-', at most 32 characters)"
        )
    where = f"{source}: node {name!r}"
    os_ = raw.get("os")
    if os_ not in ("linux", "windows"):
        raise InputError(f"{where}: field 'os': {os_!r} is not linux or windows")
    mode = raw.get("mode", "transparent-tunnel")
    if mode not in MODES:
        raise InputError(f"{where}: field 'mode': {mode!r} is not one of {', '.join(MODES)}")
    return NodeConfig(name, os_, mode, index)
