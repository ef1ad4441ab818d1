"""A Windows-twin node made physical from HNS state: packets agree with the VFP model.

The HNS state is written here through the emulator's API (as the CNI's hns backend and
the agent's hns dataplane would), so this tests the realization alone: vSwitch, vNICs,
host routes, per-port nftables chains generated from `build_port`, the fabric NSG.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import needs_root

from vfpnet.hns.emulator import Emulator
from vfpnet.hns.schema.route import HostRoute
from vfpnet.k8s.model import ContainerPort
from vfpnet.lab import topology, windows_node
from vfpnet.lab.config import parse_config
from vfpnet.lab.expect import ProbeSpec
from vfpnet.lab.placement import PodSpec
from vfpnet.lab.probing import send_probes
from vfpnet.lab.runstate import LabState, PodRecord, new_prefix, save_state
from vfpnet.lab.runtime import start_responder
from vfpnet.lab.teardown import teardown
from vfpnet.vfp import load_node, parse_nsg, path_trace, save_nsg

pytestmark = [needs_root, pytest.mark.net]

SCHEMA = {"Major": 2, "Minor": 0}
GW = "10.250.10.1"


def _acl(action: str, direction: str, priority: int, **extra: str) -> dict[str, Any]:
    return {"Type": "ACL", "Settings": {"Action": action, "Direction": direction,
                                        "Priority": priority, "RuleType": "Switch", **extra}}


@pytest.fixture
def twin(tmp_path: Path) -> Iterator[dict[str, Any]]:
    root = tmp_path / "run"
    prefix = new_prefix()
    save_state(root, LabState(prefix=prefix, config=""))
    config = parse_config({"vnet": "10.250.0.0/16", "manifests": ".",
                           "nodes": [{"name": "win1", "os": "windows"}]}, str(tmp_path / "c.yaml"))
    node = config.nodes[0]
    try:
        topology.build_fabric(prefix)
        topology.build_node(prefix, config, node)
        state = windows_node.state_file(root, node.name)
        state.parent.mkdir(parents=True)
        emu = Emulator(str(state))
        net = emu.create_network({
            "Name": "l2", "Type": "L2Bridge", "SchemaVersion": SCHEMA,
            "Ipams": [{"Type": "Static", "Subnets": [{
                "IpAddressPrefix": "10.250.10.0/24",
                "Routes": [{"NextHop": GW, "DestinationPrefix": "0.0.0.0/0"}]}]}],
        })
        pods: list[PodRecord] = []
        # a, b: transparent-tunnel (host routes via the fabric); c: l2bridge.
        # b takes TCP 80 from anyone, UDP 53 only from c; c blocks everything but TCP 80.
        acls = {
            "a": [],
            "b": [_acl("Allow", "In", 200, Protocols="6", LocalPorts="80"),
                  _acl("Allow", "In", 201, Protocols="17", LocalPorts="53",
                       RemoteAddresses="10.250.10.170"),
                  _acl("Allow", "Out", 200)],
            "c": [_acl("Block", "In", 100, Protocols="17"),
                  _acl("Allow", "In", 300, Protocols="6", LocalPorts="80"),
                  _acl("Allow", "Out", 300)],
        }
        ips = {"a": "10.250.10.10", "b": "10.250.10.11", "c": "10.250.10.170"}
        for name, ip in ips.items():
            ep = emu.create_endpoint(net["ID"], {
                "Name": name, "SchemaVersion": SCHEMA, "Policies": acls[name],
                "IpConfigurations": [{"IpAddress": ip, "PrefixLength": 24}],
                "Routes": [{"NextHop": GW, "DestinationPrefix": "0.0.0.0/0"}],
            })
            netns = topology.pod_ns(prefix, "default", name)
            topology.add_netns(netns)
            pods.append(PodRecord("default", name, "win1", "l2bridge" if name == "c"
                                  else "transparent-tunnel", netns, name, ip, ep["ID"]))
        for name in ("a", "b"):
            emu.add_route(HostRoute(f"{ips[name]}/32", GW))
        emu.close()
        nsg = parse_nsg({"virtualNetwork": ["10.250.0.0/16"], "securityRules": [
            {"name": "deny-a-b-80", "properties": {
                "priority": 100, "direction": "Inbound", "access": "Deny", "protocol": "Tcp",
                "sourceAddressPrefix": "10.250.10.10/32",
                "destinationAddressPrefix": "10.250.10.11/32",
                "sourcePortRange": "*", "destinationPortRange": "80"}}]}, "test")
        save_nsg(str(state), nsg)
        topology.apply_nsg(prefix, nsg, "10.250.0.0/16")
        windows_node.realize(prefix, root, config, node, pods)
        ports = (ContainerPort(80, "TCP"), ContainerPort(53, "UDP"))
        for pod in pods:
            start_responder(prefix, pod.netns, PodSpec("default", pod.name, "win1", pod.mode,
                                                       ports))
        yield {"prefix": prefix, "root": root, "pods": {p.id: p for p in pods},
               "state": str(state), "config": config, "node": node}
    finally:
        teardown(root)


def test_packets_across_the_twin_equal_the_vfp_trace_for_every_pair(
        twin: dict[str, Any]) -> None:
    pods: dict[str, PodRecord] = twin["pods"]
    specs = [ProbeSpec(s, d, proto, port) for s in pods for d in pods if s != d
             for proto, port in (("TCP", 80), ("UDP", 53))]
    observed = send_probes(pods, specs)
    snap = load_node(twin["state"])
    expected = {}
    for spec in specs:
        trace = path_trace(snap, pods[spec.src].endpoint, pods[spec.dst].ip, spec.port,
                           6 if spec.protocol == "TCP" else 17)
        expected[spec.key] = trace.verdict == "allow"
    assert observed == expected
    # The model's verdicts are not all alike: the test can tell a broken realization.
    assert expected["default/a>default/b:TCP/80"] is False  # the NSG, on a hairpin
    assert expected["default/c>default/b:TCP/80"] is True
    assert expected["default/c>default/b:UDP/53"] is True
    assert expected["default/a>default/b:UDP/53"] is False  # b's ACL: UDP only from c
    assert expected["default/a>default/c:UDP/53"] is False  # c blocks UDP


def test_acl_change_in_hns_state_is_what_the_next_packets_meet(twin: dict[str, Any]) -> None:
    pods: dict[str, PodRecord] = twin["pods"]
    spec = ProbeSpec("default/a", "default/c", "UDP", 53)
    assert send_probes(pods, [spec]) == {spec.key: False}
    emu = Emulator(twin["state"])
    emu.modify_endpoint(pods["default/c"].endpoint, {
        "ResourceType": "Policy", "RequestType": "Update",
        "Settings": {"Policies": [_acl("Allow", "In", 100), _acl("Allow", "Out", 100)]}})
    emu.close()
    windows_node.realize(twin["prefix"], twin["root"], twin["config"], twin["node"],
                         list(pods.values()))
    assert send_probes(pods, [spec]) == {spec.key: True}
