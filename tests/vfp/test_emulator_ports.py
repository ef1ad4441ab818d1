"""Ports built from endpoints as the HNS emulator stores and returns them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from vfpnet.hns.emulator import Emulator
from vfpnet.vfp import Packet, build_port, load_node
from vfpnet.vfp.packet import TCP

from .endpoints import acl

V2 = {"Major": 2, "Minor": 0}
POD, PEER = "10.240.0.5", "10.240.0.9"


@pytest.fixture
def emu(tmp_path: Path) -> Iterator[tuple[Emulator, str, str]]:
    e = Emulator(str(tmp_path / "state.db"))
    try:
        net = e.create_network(
            {
                "Name": "podnet",
                "Type": "L2Bridge",
                "Ipams": [{"Type": "Static", "Subnets": [{"IpAddressPrefix": "10.240.0.0/24"}]}],
                "SchemaVersion": V2,
            }
        )
        ep = e.create_endpoint(
            net["ID"],
            {
                "Name": "pod",
                "IpConfigurations": [{"IpAddress": POD, "PrefixLength": 24}],
                "SchemaVersion": V2,
            },
        )
        yield e, str(ep["ID"]), str(tmp_path / "state.db")
    finally:
        e.close()


def modify(e: Emulator, ep_id: str, request_type: str, *policies: dict[str, Any]) -> None:
    e.modify_endpoint(
        ep_id,
        {"ResourceType": "Policy", "RequestType": request_type,
         "Settings": {"Policies": list(policies)}},
    )  # fmt: skip


def verdict(e: Emulator, ep_id: str, dport: int) -> tuple[str, str | None]:
    v = build_port(e.get_endpoint(ep_id)).evaluate(Packet(TCP, PEER, 40000, POD, dport), "in")
    return v.verdict, v.rule


def test_adding_the_first_acl_turns_on_default_block(emu: tuple[Emulator, str, str]) -> None:
    e, ep_id, _ = emu
    assert verdict(e, ep_id, 22) == ("allow", None)
    modify(e, ep_id, "Add", acl("Allow", "In", 100, protocols="6", local_ports="80", rule_id="w"))
    assert verdict(e, ep_id, 80) == ("allow", "w")
    assert verdict(e, ep_id, 22) == ("block", None)


def test_added_block_with_lower_number_overrides_allow(emu: tuple[Emulator, str, str]) -> None:
    e, ep_id, _ = emu
    modify(e, ep_id, "Add", acl("Allow", "In", 1000, rule_id="all"))
    modify(e, ep_id, "Add", acl("Block", "In", 200, protocols="6", local_ports="22", rule_id="ssh"))
    assert verdict(e, ep_id, 22) == ("block", "ssh")
    assert verdict(e, ep_id, 80) == ("allow", "all")


def test_update_replaces_the_rule_set(emu: tuple[Emulator, str, str]) -> None:
    e, ep_id, _ = emu
    modify(e, ep_id, "Add", acl("Allow", "In", 100, rule_id="all"))
    modify(e, ep_id, "Update", acl("Allow", "In", 100, protocols="6", local_ports="443",
                                   rule_id="tls"))  # fmt: skip
    assert verdict(e, ep_id, 80) == ("block", None)
    assert verdict(e, ep_id, 443) == ("allow", "tls")


def test_host_and_switch_rules_from_the_emulator(emu: tuple[Emulator, str, str]) -> None:
    e, ep_id, state = emu
    modify(
        e,
        ep_id,
        "Add",
        acl("Allow", "In", 100, rule_id="switch-all"),
        acl("Allow", "In", 100, protocols="6", local_ports="80", rule_type="Host", rule_id="h80"),
    )
    port = build_port(e.get_endpoint(ep_id))
    assert [layer.name for layer in port.layers] == ["ACL_ENDPOINT_LAYER", "HOST_FIREWALL_LAYER"]
    assert verdict(e, ep_id, 80) == ("allow", "h80")
    assert verdict(e, ep_id, 81)[0] == "block"
    node = load_node(state)
    assert [ep["ID"] for ep in node.endpoints] == [ep_id]
