"""The third answer: what the VFP model says, for probes that touch a Windows-twin node.

The model covers the part of the path that the Windows-twin node owns: from a Windows
pod, its port and the uplink NSG (and, on the same node, the destination port); into a
Windows pod from elsewhere, the NSG's Inbound rules and the destination port. The
expectation is cut the same way before the two are compared.
"""

from __future__ import annotations

from dataclasses import dataclass

from vfpnet.lab.expect import PROBE_SOURCE_PORT, Expectation, ProbeSpec
from vfpnet.lab.runstate import PodRecord
from vfpnet.vfp.acl import endpoint_addresses
from vfpnet.vfp.nsg import evaluate_nsg
from vfpnet.vfp.packet import PROTOCOL_NUMBERS, Packet
from vfpnet.vfp.path import NodeSnapshot, path_trace
from vfpnet.vfp.port import build_port


@dataclass(frozen=True)
class VfpAnswer:
    allowed: bool
    detail: str


def vfp_answer(snapshots: dict[str, NodeSnapshot], src: PodRecord, dst: PodRecord,
               probe: ProbeSpec) -> VfpAnswer | None:
    proto = PROTOCOL_NUMBERS[probe.protocol]
    steps: list[tuple[bool, str]] = []
    if src.node in snapshots:
        trace = path_trace(snapshots[src.node], src.endpoint, dst.ip, probe.port, proto,
                           src_port=PROBE_SOURCE_PORT)
        for hop in trace.hops:
            steps.append((hop.verdict == "allow", f"{src.node} {hop.hop}: {hop.detail}"))
        if trace.to_endpoint is not None or dst.node not in snapshots:
            return _answer(steps)
    if dst.node in snapshots:
        snap = snapshots[dst.node]
        packet = Packet(proto, src.ip, PROBE_SOURCE_PORT, dst.ip, probe.port)
        # The lab stores its NSG with `virtualNetwork` set: no fallback to HNS subnets.
        nsg = evaluate_nsg(snap.nsg, packet, "Inbound", [])
        steps.append((nsg.access == "Allow",
                      f"{dst.node} uplink-nsg-in: NSG Inbound rule {nsg.rule} "
                      f"(priority {nsg.priority}): {nsg.access}"))
        ep = next((e for e in snap.endpoints if dst.ip in endpoint_addresses(e)), None)
        if ep is None:
            steps.append((False, f"{dst.node}: no endpoint holds {dst.ip}"))
        else:
            verdict = build_port(ep).evaluate(packet, "in")
            steps.append((verdict.allowed, f"{dst.node} destination-port: {verdict.reason}"))
        return _answer(steps)
    return None


def _answer(steps: list[tuple[bool, str]]) -> VfpAnswer:
    for ok, detail in steps:
        if not ok:
            return VfpAnswer(False, detail)
    return VfpAnswer(True, "; ".join(d for _, d in steps if "port" in d) or "allow")


def expected_slice(exp: Expectation, src: PodRecord, dst: PodRecord,
                   windows_nodes: frozenset[str]) -> bool:
    """The expectation for the part of the path the VFP model covers."""
    src_win, dst_win = src.node in windows_nodes, dst.node in windows_nodes
    nsg_out_ok = exp.nsg_out is None or exp.nsg_out.access == "Allow"
    nsg_in_ok = exp.nsg_in is None or exp.nsg_in.access == "Allow"
    if src_win and (src.node == dst.node or dst_win):
        return exp.allowed
    if src_win:
        return exp.egress.allowed and nsg_out_ok
    return nsg_in_ok and exp.ingress.allowed
