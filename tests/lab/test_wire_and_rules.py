"""Pure parts of the lab: SCTP on the wire, the NSG and VFP ports as nftables rules."""

from __future__ import annotations

import struct

from vfpnet.lab import sctp_wire as wire
from vfpnet.lab.fabric_nsg import nsg_ruleset, resolve_pod_refs
from vfpnet.lab.vfp_ports import merge_ranges, ports_ruleset
from vfpnet.vfp import build_port, parse_nsg


def test_crc32c_matches_the_standard_check_value() -> None:
    assert wire.crc32c(b"123456789") == 0xE3069283


def test_init_packet_carries_its_checksum_and_parses_back() -> None:
    pkt = wire.packet(40000, 9999, 0, wire.init_chunk(0xABCD, 7))
    zeroed = pkt[:8] + b"\0\0\0\0" + pkt[12:]
    assert struct.unpack("<I", pkt[8:12])[0] == wire.crc32c(zeroed)
    ip_header = bytes([0x45]) + b"\0" * 8 + bytes([132]) + b"\0\0" + bytes([10, 0, 0, 1]) \
        + bytes([10, 0, 0, 2])
    assert wire.parse(ip_header + pkt) == ("10.0.0.1", 40000, 9999, 0, wire.INIT, 0xABCD)
    assert wire.parse(ip_header[:9] + bytes([6]) + ip_header[10:] + pkt) is None  # TCP


def test_pod_references_in_the_nsg_become_the_pods_addresses() -> None:
    doc = {"securityRules": [{"name": "r", "properties": {
        "sourceAddressPrefixes": ["pod:a/x", "10.0.0.0/8"], "destinationAddressPrefix": "*"}}]}
    out = resolve_pod_refs(doc, {"a/x": "10.250.10.10"}, "c.yaml")
    props = out["securityRules"][0]["properties"]
    assert props["sourceAddressPrefixes"] == ["10.250.10.10/32", "10.0.0.0/8"]


def _rules(cmds: list[dict[str, object]], chain: str) -> list[list[dict[str, object]]]:
    return [c["add"]["rule"]["expr"] for c in cmds  # type: ignore[index]
            if "rule" in c.get("add", {}) and c["add"]["rule"]["chain"] == chain]  # type: ignore[union-attr,index]


def test_nsg_chains_hold_user_rules_before_azure_defaults_with_their_verdicts() -> None:
    nsg = parse_nsg({"securityRules": [
        {"name": "deny-db", "properties": {
            "priority": 200, "direction": "Inbound", "access": "Deny", "protocol": "Tcp",
            "sourceAddressPrefix": "Internet", "destinationAddressPrefix": "10.250.11.5",
            "destinationPortRanges": ["5432", "6000-6010"]}}]}, "t")
    cmds = nsg_ruleset("t_nsg", nsg, ("10.250.0.0/16",))
    inbound = _rules(cmds, "nsg_in")
    first = inbound[0]
    assert first[-1] == {"drop": None}
    assert {"match": {"op": "!=", "left": {"payload": {"protocol": "ip", "field": "saddr"}},
                      "right": {"set": [{"prefix": {"addr": "10.250.0.0", "len": 16}}]}}} \
        in first  # Internet = not the VNet
    assert {"match": {"op": "==", "left": {"payload": {"protocol": "th", "field": "dport"}},
                      "right": {"set": [5432, {"range": [6000, 6010]}]}}} in first
    # then AllowVnetInBound (return), AllowAzureLoadBalancerInBound, DenyAllInBound (drop)
    assert [r[-1] for r in inbound[1:]] == [{"return": None}, {"return": None}, {"drop": None}]
    forward = _rules(cmds, "forward")
    assert forward[1] == [{"jump": {"target": "nsg_out"}}]
    assert forward[2] == [{"jump": {"target": "nsg_in"}}]


def test_vfp_port_chains_follow_layers_and_precedence() -> None:
    endpoint = {"ID": "EP1", "IpConfigurations": [{"IpAddress": "10.250.12.10"}], "Policies": [
        {"Type": "ACL", "Settings": {"Action": "Allow", "Direction": "In", "Priority": 300,
                                     "Protocols": "6", "LocalPorts": "80"}},
        {"Type": "ACL", "Settings": {"Action": "Block", "Direction": "In", "Priority": 100,
                                     "RemoteAddresses": "10.250.10.0/24"}},
        {"Type": "ACL", "Settings": {"Action": "Allow", "Direction": "In", "Priority": 50,
                                     "RuleType": "Host"}},
    ]}
    cmds = ports_ruleset("t_vfp", "vsw", [build_port(endpoint)])
    # inbound: the switch layer first, then the host firewall layer
    assert _rules(cmds, "p0_in") == [[{"jump": {"target": "p0_in_acl"}}],
                                     [{"jump": {"target": "p0_in_host"}}]]
    acl = _rules(cmds, "p0_in_acl")
    assert acl[0][-1] == {"drop": None}  # priority 100 Block before priority 300 Allow
    assert acl[1][-1] == {"return": None}
    assert acl[2] == [{"counter": None}, {"drop": None}]  # the default block
    # outbound: the switch layer has rules (in one direction): default block out, too
    assert _rules(cmds, "p0_out_acl") == [[{"counter": None}, {"drop": None}]]


def test_overlapping_ranges_are_merged_for_nftables_sets() -> None:
    assert merge_ranges([(5, 9), (1, 3), (4, 4), (20, 30), (25, 40)]) == [(1, 9), (20, 40)]
