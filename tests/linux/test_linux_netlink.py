"""vfpnet.linux against the kernel, read back through pyroute2 (an independent netlink client)."""

from __future__ import annotations

import os
import secrets
import subprocess
import time
from collections.abc import Iterator

import pytest
from pyroute2 import NetNS

from vfpnet.linux import steering
from vfpnet.linux.netlink import EEXIST, Netlink, NetlinkError
from vfpnet.linux.netns import NetNS as Enter
from vfpnet.linux.nfnetlink import NfNetlink, NfNetlinkError, addr_ifname_key
from vfpnet.linux.nftables import Nft, NftError

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="creates network namespaces: needs root"),
    pytest.mark.net,
]


@pytest.fixture
def two_ns() -> Iterator[tuple[str, str]]:
    prefix = "vt" + secrets.token_hex(3)
    names = (f"{prefix}a", f"{prefix}b")
    try:
        for name in names:
            subprocess.run(["ip", "netns", "add", name], check=True)
        yield names
    finally:
        for name in names:
            subprocess.run(["ip", "netns", "del", name], check=False)


def test_veth_is_created_with_its_peer_inside_the_other_namespace(two_ns: tuple[str, str]) -> None:
    host_ns, pod_ns = two_ns
    fd = os.open(f"/var/run/netns/{pod_ns}", os.O_RDONLY)
    try:
        with Enter(f"/var/run/netns/{host_ns}"):
            nl = Netlink()
        nl.create_veth("vthost", "02:00:00:00:00:01", "eth0", "02:00:00:00:00:02", fd)
        nl.close()
    finally:
        os.close(fd)
    with NetNS(host_ns) as ns:
        link = ns.link("get", ifname="vthost")[0]
        assert link.get_attr("IFLA_ADDRESS") == "02:00:00:00:00:01"
    with NetNS(pod_ns) as ns:
        link = ns.link("get", ifname="eth0")[0]
        assert link.get_attr("IFLA_ADDRESS") == "02:00:00:00:00:02"


def test_addresses_routes_and_rules_are_what_pyroute2_reads_back(two_ns: tuple[str, str]) -> None:
    host_ns, _ = two_ns
    subprocess.run(["ip", "-n", host_ns, "link", "add", "vta", "type", "veth", "peer", "vtb"],
                   check=True)
    with Enter(f"/var/run/netns/{host_ns}"):
        nl = Netlink()
    with nl:
        index = nl.link_index("vta")
        assert index is not None and nl.link_index("nope") is None
        nl.set_link(index, up=True)
        assert nl.add_address(index, "10.244.77.2", 24) is True
        assert nl.add_address(index, "10.244.77.2", 24) is False  # already there
        assert nl.add_route("0.0.0.0", 0, gateway="10.244.77.1", oif=index, table=300) is True
        assert nl.add_route("0.0.0.0", 0, gateway="10.244.77.1", oif=index, table=300) is False
        assert nl.add_fwmark_rule(0x100000, 0x100000, 300, 1029) is True
        assert nl.add_fwmark_rule(0x100000, 0x100000, 300, 1029) is False
        assert (0x100000, 0x100000, 300, 1029) in nl.fwmark_rules()
        assert nl.route_oif("10.244.77.9") == index
    with NetNS(host_ns) as ns:
        routes = ns.route("dump", table=300)
        assert [r.get_attr("RTA_GATEWAY") for r in routes] == ["10.244.77.1"]
        rules = [r for r in ns.rule("dump") if r.get_attr("FRA_FWMARK") == 0x100000]
        assert len(rules) == 1 and rules[0].get_attr("FRA_TABLE") == 300
        assert [a.get_attr("IFA_ADDRESS") for a in ns.addr("dump", index=index)] == [
            "10.244.77.2"]
    with nl_in(host_ns) as nl2:
        assert nl2.delete_fwmark_rule(0x100000, 0x100000, 300, 1029) is True
        assert nl2.delete_fwmark_rule(0x100000, 0x100000, 300, 1029) is False
        assert nl2.delete_route("0.0.0.0", 0, table=300) is True
        assert nl2.delete_link("vta") is True and nl2.delete_link("vta") is False


def nl_in(ns: str) -> Netlink:
    with Enter(f"/var/run/netns/{ns}"):
        return Netlink()


def test_kernel_refusals_carry_errno_and_name_the_operation(two_ns: tuple[str, str]) -> None:
    with nl_in(two_ns[0]) as nl:
        with pytest.raises(NetlinkError) as info:
            nl.add_address(9999, "10.244.77.2", 24, what="test address")
        assert info.value.errno == 19 and "test address" in str(info.value)
        assert nl.ensure_bridge("vtbr") is True and nl.ensure_bridge("vtbr") is False
        fd = os.open(f"/var/run/netns/{two_ns[1]}", os.O_RDONLY)
        try:
            with pytest.raises(NetlinkError) as info:
                nl.create_veth("vtbr", "02:00:00:00:00:03", "x0", "02:00:00:00:00:04", fd)
        finally:
            os.close(fd)
        assert info.value.errno == EEXIST and "create veth vtbr" in str(info.value)


def test_steering_node_objects_are_idempotent_and_members_come_and_go(
    two_ns: tuple[str, str],
) -> None:
    host_ns, _ = two_ns
    subprocess.run(["ip", "-n", host_ns, "link", "add", "up0", "type", "veth", "peer", "up1"],
                   check=True)
    subprocess.run(["ip", "-n", host_ns, "link", "set", "up0", "up"], check=True)
    subprocess.run(["ip", "-n", host_ns, "addr", "add", "10.244.78.2/24", "dev", "up0"],
                   check=True)
    with Enter(f"/var/run/netns/{host_ns}"):
        nl, nft = Netlink(), Nft()
        try:
            index = nl.link_index("up0")
            assert index is not None
            for _ in range(3):
                steering.ensure_node(nft, nl, mark=0x100000, table=129, priority=1029,
                                     gateway="10.244.78.1", uplink_index=index)
            assert steering.node_ready(nft, nl, mark=0x100000, table=129, priority=1029) == []
            out = nft.run([{"list": {"chain": {"family": "ip", "table": steering.TABLE,
                                               "name": steering.CHAIN}}}])
            assert len([i for i in out["nftables"] if "rule" in i]) == 1
            steering.add_member(nft, "10.244.78.5", "vfpabc")
            assert steering.members(nft) == [("10.244.78.5", "vfpabc")]
            assert steering.remove_member(nft, "10.244.78.5", "vfpabc") is True
            assert steering.remove_member(nft, "10.244.78.5", "vfpabc") is False
            assert steering.members(nft) == []
            with pytest.raises(NftError):
                nft.run([{"add": {"rule": {"family": "ip", "table": "nope", "chain": "x",
                                           "expr": [{"accept": None}]}}}])
        finally:
            nl.close()
            nft.close()


def _steering_node(host_ns: str, mark: int) -> tuple[Netlink, Nft]:
    subprocess.run(["ip", "-n", host_ns, "link", "add", "up0", "type", "veth", "peer", "up1"],
                   check=True)
    subprocess.run(["ip", "-n", host_ns, "link", "set", "up0", "up"], check=True)
    subprocess.run(["ip", "-n", host_ns, "addr", "add", "10.244.78.2/24", "dev", "up0"],
                   check=True)
    nl, nft = Netlink(), Nft()
    index = nl.link_index("up0")
    assert index is not None
    steering.ensure_node(nft, nl, mark=mark, table=129, priority=1029, gateway="10.244.78.1",
                         uplink_index=index)
    return nl, nft


def test_set_elements_over_netlink_are_what_nft_lists_and_a_batch_is_all_or_nothing(
    two_ns: tuple[str, str],
) -> None:
    host_ns, _ = two_ns
    with Enter(f"/var/run/netns/{host_ns}"):
        nl, nft = _steering_node(host_ns, 0x100000)
        nf = NfNetlink()
        try:
            long_name = "vfp0123456789ab"  # 15 bytes: the longest interface name
            nf.add_elements(steering.TABLE, steering.SET,
                            [addr_ifname_key("10.244.78.5", "vfpabc"),
                             addr_ifname_key("10.244.78.6", long_name)])
            nf.add_elements(steering.TABLE, steering.SET,  # adding again keeps it, no error
                            [addr_ifname_key("10.244.78.5", "vfpabc")])
            assert sorted(steering.members(nft)) == [("10.244.78.5", "vfpabc"),
                                                     ("10.244.78.6", long_name)]
            with pytest.raises(NfNetlinkError) as missing:
                nf.delete_elements(steering.TABLE, steering.SET,
                                   [addr_ifname_key("10.244.78.5", "vfpabc"),
                                    addr_ifname_key("10.244.78.9", "vfpabc")])
            assert missing.value.errno == 2
            assert len(steering.members(nft)) == 2  # the batch was refused as a whole
            assert steering.discard_members(nf, [("10.244.78.5", "vfpabc"),
                                                 ("10.244.78.6", long_name)]) is True
            assert steering.discard_members(nf, [("10.244.78.5", "vfpabc")]) is False
            assert steering.members(nft) == []
            with pytest.raises(ValueError):
                addr_ifname_key("10.244.78.5", "x" * 16)
        finally:
            nf.close()
            nl.close()
            nft.close()


def test_member_goes_in_over_netlink_only_when_the_steering_rule_for_the_mark_is_in_place(
    two_ns: tuple[str, str],
) -> None:
    host_ns, _ = two_ns
    with Enter(f"/var/run/netns/{host_ns}"):
        nf = NfNetlink()
        try:
            assert steering.add_member_if_ready(nf, 0x100000, "10.244.78.5", "vfpa") is False
            nl, nft = _steering_node(host_ns, 0x100000)
            try:
                assert steering.add_member_if_ready(nf, 0x200000, "10.244.78.5", "vfpa") is False
                assert steering.add_member_if_ready(nf, 0x10000, "10.244.78.5", "vfpa") is False
                assert steering.add_member_if_ready(nf, 0x100000, "10.244.78.5", "vfpa") is True
                assert steering.members(nft) == [("10.244.78.5", "vfpa")]
                chain = {"family": "ip", "table": steering.TABLE, "name": steering.CHAIN}
                nft.run([{"add": {"rule": {**{k: v for k, v in chain.items() if k != "name"},
                                           "chain": steering.CHAIN,
                                           "expr": [{"accept": None}]}}}])
                assert steering.add_member_if_ready(nf, 0x100000, "10.244.78.6", "vfpb") is False
                nft.run([{"flush": {"chain": chain}}])
                assert steering.add_member_if_ready(nf, 0x100000, "10.244.78.6", "vfpb") is False
                assert steering.members(nft) == [("10.244.78.5", "vfpa")]
            finally:
                nl.close()
                nft.close()
        finally:
            nf.close()


def test_ipv6_members_over_netlink_and_one_batch_across_both_families(
    two_ns: tuple[str, str],
) -> None:
    host_ns, _ = two_ns
    with Enter(f"/var/run/netns/{host_ns}"):
        nl, nft = _steering_node(host_ns, 0x100000)
        subprocess.run(["ip", "-n", host_ns, "-6", "addr", "add", "fd00:244:78::2/64", "dev",
                        "up0", "nodad"], check=True)
        nf = NfNetlink()
        try:
            # no ip6 objects yet: the fast path declines and changes nothing
            assert steering.add_member_if_ready(nf, 0x100000, "fd00:244:78::5", "vfpa") is False
            index = nl.link_index("up0")
            assert index is not None
            steering.ensure_node(nft, nl, mark=0x100000, table=129, priority=1029,
                                 gateway="fd00:244:78::1", uplink_index=index)
            assert steering.add_member_if_ready(nf, 0x100000, "fd00:244:78::5", "vfpa") is True
            assert steering.add_member_if_ready(nf, 0x100000, "10.244.78.5", "vfpa") is True
            assert sorted(steering.members(nft)) == [("10.244.78.5", "vfpa"),
                                                     ("fd00:244:78::5", "vfpa")]
            # one batch, both families: a missing IPv6 member keeps the IPv4 one too
            assert steering.discard_members(nf, [("10.244.78.5", "vfpa"),
                                                 ("fd00:244:78::9", "vfpa")]) is False
            assert len(steering.members(nft)) == 2
            assert steering.discard_members(nf, [("10.244.78.5", "vfpa"),
                                                 ("fd00:244:78::5", "vfpa")]) is True
            assert steering.members(nft) == []
        finally:
            nf.close()
            nl.close()
            nft.close()


def test_close_soon_closes_in_a_thread_or_keeps_the_socket_for_a_lingering_process() -> None:
    from vfpnet.linux import nfnetlink

    nf = NfNetlink()
    nfnetlink.close_soon(nf)  # a plugin process: a thread closes it while DEL goes on
    deadline = time.monotonic() + 5
    while nf.sock.fileno() != -1:
        assert time.monotonic() < deadline, "the socket was never closed"
        time.sleep(0.01)
    kept = NfNetlink()
    nfnetlink.LINGER = True  # a CNI server's worker: open until the process ends
    try:
        nfnetlink.close_soon(kept)
        time.sleep(0.05)
        assert len(nfnetlink.LATE) == 1 and nfnetlink.LATE[0] is kept
        assert kept.sock.fileno() != -1
    finally:
        nfnetlink.LINGER = False
        nfnetlink.LATE.clear()
        kept.close()
