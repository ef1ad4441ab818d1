"""What should happen to each probe: the policy's answer (as `vfpnet reach` gives it, at
pod level) and, for traffic that crosses the fabric, the cloud NSG's.

Traffic crosses the fabric when the pods are on different nodes, or on one node: on a
Linux node when the source pod is in transparent-tunnel mode (the CNI steers all its
traffic to the gateway); on a Windows-twin node when the destination pod is (the CNI's
/32 host route via the gateway takes packets for it out through the uplink) or when the
two pods are in different HNS networks (the lab makes one per mode; the vSwitch forwards
directly only within a network). Along the path the first that blocks decides:
egress policy at the source, the NSG's Outbound then Inbound rules, ingress policy at
the destination.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from vfpnet.k8s.model import Cluster, Workload
from vfpnet.lab.runstate import PodRecord
from vfpnet.policy.evaluate import DirectionVerdict, evaluate_flow
from vfpnet.vfp.nsg import Nsg, NsgDecision, evaluate_nsg
from vfpnet.vfp.packet import PROTOCOL_NUMBERS, Packet

Outcome = Literal["allowed", "denied-policy", "denied-nsg"]
PROBE_SOURCE_PORT = 49152  # the model's stand-in for the prober's ephemeral port


@dataclass(frozen=True)
class ProbeSpec:
    src: str  # pod id NS/NAME
    dst: str
    protocol: str  # TCP or UDP
    port: int

    @property
    def key(self) -> str:
        return f"{self.src}>{self.dst}:{self.protocol}/{self.port}"


@dataclass(frozen=True)
class Expectation:
    outcome: Outcome
    crosses_fabric: bool
    egress: DirectionVerdict
    ingress: DirectionVerdict
    nsg_out: NsgDecision | None
    nsg_in: NsgDecision | None

    @property
    def allowed(self) -> bool:
        return self.outcome == "allowed"

    @property
    def decided_by(self) -> str:
        """The deciding tier/policy/rule, in words."""
        if not self.egress.allowed:
            return "egress: " + describe(self.egress)
        for nsg in (self.nsg_out, self.nsg_in):
            if nsg is not None and nsg.access == "Deny":
                return f"NSG {nsg.direction} rule {nsg.rule} (priority {nsg.priority})"
        if not self.ingress.allowed:
            return "ingress: " + describe(self.ingress)
        return f"egress: {describe(self.egress)}; ingress: {describe(self.ingress)}"


def describe(v: DirectionVerdict) -> str:
    if v.policy is None:
        return f"{v.tier} ({'allow' if v.allowed else 'deny'})"
    rule = f" rule {v.rule}" if v.rule is not None else " (no rule matched)"
    return f"{v.tier} {v.policy}{rule}"


def crosses_fabric(src: PodRecord, dst: PodRecord, windows_nodes: frozenset[str]) -> bool:
    if src.node != dst.node:
        return True
    if src.node in windows_nodes:
        return dst.mode == "transparent-tunnel" or src.mode != dst.mode
    return src.mode == "transparent-tunnel"


def expect(cluster: Cluster, pods: dict[str, PodRecord], workloads: dict[str, Workload],
           nsg: Nsg, vnet: str, windows_nodes: frozenset[str], probe: ProbeSpec) -> Expectation:
    src, dst = pods[probe.src], pods[probe.dst]
    verdict = evaluate_flow(cluster, workloads[probe.src], workloads[probe.dst],
                            probe.protocol, probe.port)
    crosses = crosses_fabric(src, dst, windows_nodes)
    nsg_out = nsg_in = None
    if crosses:
        packet = Packet(PROTOCOL_NUMBERS[probe.protocol], src.ip, PROBE_SOURCE_PORT, dst.ip,
                        probe.port)
        # Both directions are evaluated even when Outbound denies: a Windows-twin node's
        # VFP trace of an arriving packet checks the Inbound rules on its own.
        nsg_out = evaluate_nsg(nsg, packet, "Outbound", [vnet])
        nsg_in = evaluate_nsg(nsg, packet, "Inbound", [vnet])
    outcome: Outcome
    if not verdict.egress.allowed:
        outcome = "denied-policy"
    elif (nsg_out and nsg_out.access == "Deny") or (nsg_in and nsg_in.access == "Deny"):
        outcome = "denied-nsg"
    elif not verdict.ingress.allowed:
        outcome = "denied-policy"
    else:
        outcome = "allowed"
    return Expectation(outcome, crosses, verdict.egress, verdict.ingress, nsg_out, nsg_in)
