"""The uplink NSG: Azure's rule shape, priority order, default rules, file validation."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from vfpnet.errors import InputError
from vfpnet.vfp.nsg import Nsg, NsgDirection, effective_rules, evaluate_nsg, parse_nsg
from vfpnet.vfp.nsg_store import load_nsg, read_nsg_file, save_nsg
from vfpnet.vfp.packet import ICMP, TCP, UDP, Packet

VNET = ["10.240.0.0/16"]


def rule(name: str, priority: int, direction: str = "Inbound", access: str = "Deny",
         protocol: str = "Tcp", src: str = "*", dst: str = "*", dport: str = "*",
         **extra: Any) -> dict[str, Any]:  # fmt: skip
    props = {
        "priority": priority,
        "direction": direction,
        "access": access,
        "protocol": protocol,
        "sourceAddressPrefix": src,
        "sourcePortRange": "*",
        "destinationAddressPrefix": dst,
        "destinationPortRange": dport,
        **extra,
    }
    return {"name": name, "properties": props}


def nsg(*rules: dict[str, Any], **doc: Any) -> Nsg:
    return parse_nsg({"securityRules": list(rules), **doc}, "nsg.json")


def tcp(src: str, dst: str, dport: int = 80) -> Packet:
    return Packet(TCP, src, 40000, dst, dport)


def test_lowest_priority_number_decides() -> None:
    n = nsg(
        rule("deny-80", 200, dport="80"),
        rule("allow-80", 100, access="Allow", dport="80"),
    )
    d = evaluate_nsg(n, tcp("10.240.0.5", "10.240.0.6"), "Inbound", VNET)
    assert (d.access, d.rule, d.priority) == ("Allow", "allow-80", 100)


def test_user_deny_beats_default_allow_vnet() -> None:
    n = nsg(rule("deny-80", 4096, dport="80"))
    assert evaluate_nsg(n, tcp("10.240.0.5", "10.240.0.6"), "Inbound", VNET).access == "Deny"
    other = evaluate_nsg(n, tcp("10.240.0.5", "10.240.0.6", 81), "Inbound", VNET)
    assert (other.access, other.rule, other.default) == ("Allow", "AllowVnetInBound", True)


@pytest.mark.parametrize(
    ("src", "dst", "direction", "name", "priority", "access"),
    [
        ("10.240.0.5", "10.240.1.6", "Inbound", "AllowVnetInBound", 65000, "Allow"),
        ("168.63.129.16", "10.240.0.6", "Inbound", "AllowAzureLoadBalancerInBound", 65001, "Allow"),
        ("203.0.113.5", "10.240.0.6", "Inbound", "DenyAllInBound", 65500, "Deny"),
        ("10.240.0.5", "10.240.0.6", "Outbound", "AllowVnetOutBound", 65000, "Allow"),
        ("10.240.0.5", "203.0.113.5", "Outbound", "AllowInternetOutBound", 65001, "Allow"),
    ],
)
def test_default_rules_without_user_rules(
    src: str, dst: str, direction: NsgDirection, name: str, priority: int, access: str
) -> None:
    d = evaluate_nsg(Nsg(), tcp(src, dst), direction, VNET)
    assert (d.rule, d.priority, d.access, d.default) == (name, priority, access, True)


def test_deny_all_outbound_is_the_last_default() -> None:
    rules = effective_rules(Nsg(), "Outbound")
    assert [(r.name, r.priority) for r in rules] == [
        ("AllowVnetOutBound", 65000),
        ("AllowInternetOutBound", 65001),
        ("DenyAllOutBound", 65500),
    ]
    # With the VNet and Internet allowances shadowed by a user rule, nothing else is open.
    n = nsg(rule("deny-vnet-out", 4096, direction="Outbound", protocol="*", dst="VirtualNetwork"))
    assert evaluate_nsg(n, tcp("10.240.0.5", "10.240.0.6"), "Outbound", VNET).access == "Deny"


def test_deny_all_outbound_default_applies_when_outside_rules_are_removed() -> None:
    n = nsg(rule("no-internet", 4000, direction="Outbound", protocol="*", dst="Internet"))
    d = evaluate_nsg(n, tcp("10.240.0.5", "203.0.113.5"), "Outbound", VNET)
    assert (d.rule, d.access) == ("no-internet", "Deny")


def test_protocol_and_port_ranges_filter() -> None:
    n = nsg(rule("deny-udp-range", 100, protocol="Udp", dport="5000-5010"))
    udp = Packet(UDP, "10.240.0.5", 1, "10.240.0.6", 5005)
    assert evaluate_nsg(n, udp, "Inbound", VNET).rule == "deny-udp-range"
    assert evaluate_nsg(n, tcp("10.240.0.5", "10.240.0.6", 5005), "Inbound", VNET).default
    outside = Packet(UDP, "10.240.0.5", 1, "10.240.0.6", 5011)
    assert evaluate_nsg(n, outside, "Inbound", VNET).default


def test_icmp_and_any_protocol() -> None:
    n = nsg(
        rule("deny-icmp", 100, protocol="Icmp"), rule("deny-any", 200, protocol="*", dport="22")
    )
    ping = Packet(ICMP, "10.240.0.5", 0, "10.240.0.6", 0)
    assert evaluate_nsg(n, ping, "Inbound", VNET).rule == "deny-icmp"
    assert evaluate_nsg(n, tcp("10.240.0.5", "10.240.0.6", 22), "Inbound", VNET).rule == "deny-any"


def test_address_prefix_lists_and_cidrs() -> None:
    n = nsg(
        rule("deny-two", 100, src="*", sourceAddressPrefix=None,
             sourceAddressPrefixes=["10.240.0.5", "10.240.2.0/24"]),
    )  # fmt: skip
    assert evaluate_nsg(n, tcp("10.240.0.5", "10.240.0.6"), "Inbound", VNET).rule == "deny-two"
    assert evaluate_nsg(n, tcp("10.240.2.77", "10.240.0.6"), "Inbound", VNET).rule == "deny-two"
    assert evaluate_nsg(n, tcp("10.240.0.7", "10.240.0.6"), "Inbound", VNET).default


def test_virtual_network_prefixes_from_the_file_override_the_node() -> None:
    n = nsg(virtualNetwork=["10.0.0.0/8"])
    d = evaluate_nsg(n, tcp("10.9.9.9", "10.240.0.6"), "Inbound", VNET)
    assert d.rule == "AllowVnetInBound"
    assert evaluate_nsg(Nsg(), tcp("10.9.9.9", "10.240.0.6"), "Inbound", VNET).access == "Deny"


def test_arm_shaped_nsg_document_is_read() -> None:
    doc = {"name": "node-nsg", "properties": {"securityRules": [rule("r", 100)]}}
    assert parse_nsg(doc, "arm.json").rules[0].name == "r"


@pytest.mark.parametrize(
    ("bad", "field"),
    [
        (rule("r", 99), "priority"),
        (rule("r", 4097), "priority"),
        (rule("r", "100"), "priority"),  # type: ignore[arg-type]
        (rule("r", 100, direction="Sideways"), "direction"),
        (rule("r", 100, access="Drop"), "access"),
        (rule("r", 100, protocol="Gre"), "protocol"),
        (rule("r", 100, src="Storage"), "sourceAddressPrefix"),
        (rule("r", 100, dst="10.0.0.300"), "destinationAddressPrefix"),
        (rule("r", 100, dport="80-70"), "destinationPortRange"),
        (rule("r", 100, dport="http"), "destinationPortRange"),
        (rule("r", 100, src=None), "sourceAddressPrefix"),
        ({"properties": {"priority": 100}}, "name"),
    ],
)
def test_invalid_rule_is_named_with_file_rule_and_field(bad: dict[str, Any], field: str) -> None:
    with pytest.raises(InputError) as err:
        parse_nsg({"securityRules": [rule("ok", 200), bad]}, "nsg.json")
    message = str(err.value)
    assert message.startswith("nsg.json: securityRules[1]")
    assert f"'{field}'" in message
    assert "\n" not in message


def test_duplicate_name_and_same_direction_priority_are_refused() -> None:
    with pytest.raises(InputError, match=r"\('a'\): field 'name'"):
        nsg(rule("a", 100), rule("a", 200))
    with pytest.raises(InputError, match=r"field 'priority': 100 is already used by 'a'"):
        nsg(rule("a", 100), rule("b", 100))
    both = nsg(rule("a", 100), rule("b", 100, direction="Outbound"))
    assert len(both.rules) == 2


def test_missing_security_rules_is_refused() -> None:
    with pytest.raises(InputError, match="field 'securityRules'"):
        parse_nsg({"rules": []}, "nsg.json")


def test_invalid_json_file_is_refused_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "nsg.json"
    path.write_text('{"securityRules": [\n  {,}\n]}')
    with pytest.raises(InputError, match=r"nsg.json: invalid JSON at line 2"):
        read_nsg_file(str(path))
    with pytest.raises(InputError, match="cannot read"):
        read_nsg_file(str(tmp_path / "missing.json"))


def test_yaml_nsg_file_is_read(tmp_path: Path) -> None:
    path = tmp_path / "nsg.yaml"
    path.write_text(
        "securityRules:\n"
        "- name: deny-ssh\n"
        "  properties: {priority: 100, direction: Inbound, access: Deny, protocol: Tcp,\n"
        "    sourceAddressPrefix: '*', sourcePortRange: '*',\n"
        "    destinationAddressPrefix: '*', destinationPortRange: '22'}\n"
    )
    assert read_nsg_file(str(path)).rules[0].destination_ports == ((22, 22),)


def test_nsg_persists_in_the_state_file(tmp_path: Path) -> None:
    state = str(tmp_path / "state.db")
    assert load_nsg(state) == Nsg()
    n = nsg(rule("deny-80", 100, dport="80"), virtualNetwork=["10.240.0.0/16"])
    save_nsg(state, n)
    assert load_nsg(state) == n
    save_nsg(state, Nsg())
    assert load_nsg(state).rules == ()


def test_state_file_that_is_not_sqlite_is_refused(tmp_path: Path) -> None:
    state = tmp_path / "state.db"
    state.write_text("not a database" * 100)
    with pytest.raises(InputError, match="not a usable SQLite database"):
        save_nsg(str(state), Nsg())


def test_round_trip_through_file_format(tmp_path: Path) -> None:
    from vfpnet.vfp.nsg import nsg_as_dict

    n = nsg(rule("a", 100, dport="80,443", destinationPortRange=None,
                 destinationPortRanges=["80", "443"]))  # fmt: skip
    path = tmp_path / "out.json"
    path.write_text(json.dumps(nsg_as_dict(n)))
    assert read_nsg_file(str(path)) == n
