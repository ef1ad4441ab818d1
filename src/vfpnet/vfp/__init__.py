"""The VFP model: how a Windows node's virtual switch filters and forwards pod packets.

Per endpoint a port (`build_port(endpoint_json) -> Port`) holds layers, groups and rules
translated from the endpoint's HNS ACL policies; `Port.process(packet)` gives a `Verdict`
through a stateful flow table. `path_trace(node, from_endpoint, dst, ...)` follows a packet
across the node: source port, vSwitch or host route + uplink with the cloud NSG, and the
destination port; `load_node(state_path)` reads a node (endpoints, networks, host routes,
NSG) from the HNS emulator's state file, `save_nsg(state_path, parse_nsg(doc, name))`
sets its uplink NSG.

What the public record says, and what this model follows:
- Switch ACLs live in the VFP layer ACL_ENDPOINT_LAYER, one group per direction and IP
  family. A lower Priority number wins (Azure NPM and Microsoft's answers in
  hcsshim#1059 and Windows-Containers#616 order Block rules below Allow-all rules by it).
- Once an endpoint has any ACL, traffic no rule allows is blocked; Microsoft calls this
  by design (Windows-Containers#616).
- Rules are stateful: replies of an allowed connection pass (a flow table keyed by
  direction and 5-tuple, idle TTL 240 s for TCP, 60 s otherwise).
- Protocols "256" (or no Protocols) means any protocol; addresses and ports are
  comma-separated lists, ports may be ranges "1000-2000".

Where the record is unclear this model chooses (callers must not depend on it):
- Allow and Block at the same Priority: Block wins (then Pass, then Allow); equal
  action and Priority keep the endpoint's policy order.
- Default block covers both directions and both IP families once the endpoint has an
  ACL of that rule type in any direction: in hcsshim#1059 a single Out Block rule cut
  the endpoint off until Allow-all rules were added for In *and* Out.
- Host vs Switch: Switch rules are VFP rules (ACL_ENDPOINT_LAYER); Host rules are the
  host firewall's (WFP) rules and form a second layer, HOST_FIREWALL_LAYER, on the same
  port, met after ACL_ENDPOINT_LAYER inbound and before it outbound. Each layer has its
  own default block (a layer with no rules lets packets by), and a packet must pass both.
- Pass: the matching rule ends its layer's evaluation without a verdict and without the
  default block; the next layer decides (with no further layer, the packet is allowed).
- A missing Priority is 0 (hcsshim omits a zero Priority); a missing RuleType is Switch.
- A rule with LocalPorts/RemotePorts matches only TCP, UDP and SCTP packets.
- An ACL policy whose address lists name only one IP family yields a rule in that
  family's groups only; without addresses it yields one rule in each family.
- Blocked packets are not cached: every blocked packet is evaluated again.
- Reprogramming an endpoint's ACLs builds a new port whose flow table is empty.
"""

from __future__ import annotations

from vfpnet.vfp.flows import FlowTable
from vfpnet.vfp.node import load_node
from vfpnet.vfp.nsg import Nsg, NsgDecision, NsgRule, evaluate_nsg, parse_nsg
from vfpnet.vfp.nsg_store import load_nsg, save_nsg
from vfpnet.vfp.packet import Packet
from vfpnet.vfp.path import Hop, HostRoute, NodeSnapshot, PathTrace, path_trace
from vfpnet.vfp.port import Port, build_port
from vfpnet.vfp.rules import Group, Layer, Rule
from vfpnet.vfp.verdict import LayerDecision, Verdict

__all__ = [
    "FlowTable",
    "Group",
    "Hop",
    "HostRoute",
    "Layer",
    "LayerDecision",
    "NodeSnapshot",
    "Nsg",
    "NsgDecision",
    "NsgRule",
    "Packet",
    "PathTrace",
    "Port",
    "Rule",
    "Verdict",
    "build_port",
    "evaluate_nsg",
    "load_node",
    "load_nsg",
    "parse_nsg",
    "path_trace",
    "save_nsg",
]
