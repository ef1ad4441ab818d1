"""IPv6 and dual-stack in the three Linux modes, and netconf `mtu`, on real namespaces.

The lab (`netlab.Lab`) gets an IPv6 side here: the uplink carries fd00:250:108::/64, the
fabric holds the pod subnet's first host fd00:244:108::1 (the IPv6 gateway that
`vfpnet.cni.gateway` picks for transparent-tunnel) and routes the pod subnet back to the
node. l2bridge pods use another IPv6 subnet, whose gateway the node's bridge holds. All
addresses live only in the namespaces the lab creates.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator

import pytest
from netlab import Lab, get_sysctl, in_ns, needs_root, set_sysctl, sh

pytestmark = [needs_root, pytest.mark.net]
SUBNET_OCTET = 108
SUBNET6 = "fd00:244:108::/64"
GATEWAY6 = "fd00:244:108::1"
BRIDGE_SUBNET6 = "fd00:244:1081::/64"
BRIDGE_GATEWAY6 = "fd00:244:1081::1"
UPLINK6_NODE = "fd00:250:108::2"
UPLINK6_FABRIC = "fd00:250:108::1"
MODES = ["l2bridge", "transparent", "transparent-tunnel"]


@pytest.fixture(scope="module")
def lab6(lab: Lab) -> Iterator[Lab]:
    for ns, dev in ((lab.node, "uplink"), (lab.fabric, "down0")):
        set_sysctl(ns, f"net/ipv6/conf/{dev}/accept_dad", "0")
    in_ns(lab.node, "ip", "-6", "addr", "add", f"{UPLINK6_NODE}/64", "dev", "uplink", "nodad")
    in_ns(lab.fabric, "ip", "-6", "addr", "add", f"{UPLINK6_FABRIC}/64", "dev", "down0", "nodad")
    # the pod subnet's gateway sits on the fabric; the node reaches it over the uplink
    in_ns(lab.fabric, "ip", "-6", "addr", "add", f"{GATEWAY6}/128", "dev", "down0", "nodad")
    in_ns(lab.fabric, "ip", "-6", "route", "add", SUBNET6, "via", UPLINK6_NODE)
    in_ns(lab.node, "ip", "-6", "route", "add", f"{GATEWAY6}/128", "dev", "uplink")
    set_sysctl(lab.fabric, "net/ipv6/conf/all/forwarding", "1")
    yield lab


def _conf(lab: Lab, mode: str, *, v4: bool = True, subnet: str = "", subnet6: str = "",
          **extra: object) -> dict[str, object]:
    conf = lab.netconf(mode, **extra)
    subnet6 = subnet6 or (BRIDGE_SUBNET6 if mode == "l2bridge" else SUBNET6)
    ranges = ([[{"subnet": subnet or lab.subnet}]] if v4 else []) + [[{"subnet": subnet6}]]
    conf["ipam"] = dict(conf["ipam"], ranges=ranges)  # type: ignore[arg-type]
    if not v4 and "gateway" not in extra:
        conf.pop("gateway", None)
    return conf


def _ips(result: dict[str, object]) -> dict[int, str]:
    """The result's addresses by family (without prefix length)."""
    out = {}
    for ip in result["ips"]:  # type: ignore[attr-defined]
        address = str(ip["address"]).split("/")[0]
        out[6 if ":" in address else 4] = address
    return out


def _add(lab: Lab, conf: dict[str, object], count: int,
         tag: str) -> list[tuple[str, str, dict[int, str]]]:
    pods = []
    for i in range(count):
        pod = lab.pod()
        pods.append((f"{tag}{i}", pod, _ips(lab.add(conf, f"{tag}{i}", pod))))
    return pods


def _del(lab: Lab, conf: dict[str, object], pods: list[tuple[str, str, dict[int, str]]]) -> None:
    for cid, pod, _ in pods:
        lab.delete(conf, cid, pod)


def _json(ns: str, *args: str) -> list[dict[str, object]]:
    out = in_ns(ns, *args).stdout
    return json.loads(out) if out.strip() else []  # type: ignore[no-any-return]


def _leftovers6(lab: Lab) -> dict[str, list[str]]:
    """Per-pod IPv6 objects still in the node: /128 routes, permanent neighbours, members."""
    routes = _json(lab.node, "ip", "-j", "-6", "route", "show")
    neighbours = _json(lab.node, "ip", "-j", "-6", "neigh", "show", "nud", "permanent")
    members = []
    listing = in_ns(lab.node, "nft", "-j", "list", "set", "ip6", "vfpnet_tunnel", "pods",
                    check=False)
    if listing.returncode == 0:
        for item in json.loads(listing.stdout)["nftables"]:
            members += [str(e) for e in item.get("set", {}).get("elem", [])]
    return {
        "host_routes": [str(r["dst"]) for r in routes
                        if str(r["dst"]).startswith("fd00:244:108")
                        and "/" not in str(r["dst"]) and r["dst"] != GATEWAY6],
        "neighbours": [str(n["dst"]) for n in neighbours],
        "set_members": members,
    }


def _assert_clean(lab: Lab) -> None:
    lab.assert_clean()
    left = _leftovers6(lab)
    assert all(not v for v in left.values()), left


def _serve6(lab: Lab, pod: str, port: int) -> None:
    """A TCP 'ok' responder on the pod's IPv6 addresses."""
    code = ("import socket\n"
            "s = socket.socket(socket.AF_INET6)\n"
            "s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
            f"s.bind(('::', {port})); s.listen(64); print('ready', flush=True)\n"
            "while True:\n"
            "    c, _ = s.accept(); c.sendall(b'ok'); c.close()\n")
    proc = subprocess.Popen(["ip", "netns", "exec", pod, sys.executable, "-c", code],
                            stdout=subprocess.PIPE, text=True)
    lab._procs.append(proc)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready"


# -- the three modes, dual-stack -------------------------------------------------------

def test_l2bridge_dual_stack_puts_both_gateways_on_the_bridge_and_pods_talk_over_ipv6(
    lab6: Lab,
) -> None:
    conf = _conf(lab6, "l2bridge")
    pods = _add(lab6, conf, 2, "l2d")
    try:
        (_, pod_a, ips_a), (_, pod_b, ips_b) = pods
        addrs = _json(pod_a, "ip", "-j", "-6", "addr", "show", "eth0", "scope", "global")
        info = addrs[0]["addr_info"][0]  # type: ignore[index]
        assert (info["local"], info["prefixlen"]) == (ips_a[6], 64)
        assert not info.get("tentative")  # nodad: usable at once
        bridge = _json(lab6.node, "ip", "-j", "-6", "addr", "show", f"{lab6.prefix}br",
                       "scope", "global")
        assert bridge[0]["addr_info"][0]["local"] == BRIDGE_GATEWAY6  # type: ignore[index]
        route = _json(pod_a, "ip", "-j", "-6", "route", "show", "default")
        assert route[0]["gateway"] == BRIDGE_GATEWAY6
        route4 = _json(pod_a, "ip", "-j", "-4", "route", "show", "default")
        assert route4[0]["gateway"] == "10.244.108.1"
        _serve6(lab6, pod_b, 8090)
        lab6.serve(pod_b, "tcp", 8091)
        assert lab6.tcp_ok(pod_a, ips_b[6], 8090)
        assert lab6.tcp_ok(pod_a, ips_b[4], 8091)
    finally:
        _del(lab6, conf, pods)
    _assert_clean(lab6)


def test_transparent_dual_stack_gives_a_slash128_via_fe80_1_and_pods_talk_over_ipv6(
    lab6: Lab,
) -> None:
    conf = _conf(lab6, "transparent")
    pods = _add(lab6, conf, 2, "trd")
    try:
        (_, pod_a, ips_a), (_, pod_b, ips_b) = pods
        addrs = _json(pod_a, "ip", "-j", "-6", "addr", "show", "eth0", "scope", "global")
        assert addrs[0]["addr_info"][0]["prefixlen"] == 128  # type: ignore[index]
        route = _json(pod_a, "ip", "-j", "-6", "route", "show", "default")
        assert (route[0]["gateway"], route[0]["dev"]) == ("fe80::1", "eth0")
        host = _json(lab6.node, "ip", "-j", "-6", "route", "show", ips_a[6])
        assert host and str(host[0]["dev"]).startswith("vfp")
        _serve6(lab6, pod_b, 8092)
        assert lab6.tcp_ok(pod_a, ips_b[6], 8092)
        neighbour = _json(lab6.node, "ip", "-j", "-6", "neigh", "show", ips_a[6])
        assert neighbour and "PERMANENT" in neighbour[0]["state"]  # type: ignore[operator]
    finally:
        _del(lab6, conf, pods)
    _assert_clean(lab6)


def test_tunnel_dual_stack_sends_same_node_ipv6_through_the_fabric_nsg(lab6: Lab) -> None:
    """A fabric rule dropping A -> B over IPv6 blocks it; A -> C and C -> B still work,
    and IPv4 A -> B is untouched (the NSG rule is IPv6 only)."""
    conf = _conf(lab6, "transparent-tunnel")
    pods = _add(lab6, conf, 3, "tud")
    (_, pod_a, ips_a), (_, pod_b, ips_b), (_, pod_c, ips_c) = pods
    try:
        for pod in (pod_b, pod_c):
            _serve6(lab6, pod, 8093)
        lab6.serve(pod_b, "tcp", 8094)
        assert lab6.tcp_ok(pod_a, ips_b[6], 8093)  # open before the NSG rule
        rules = ("add table inet nsg6\n"
                 "add chain inet nsg6 nsgfwd {\n type filter hook forward priority 0\n}\n"
                 f"add rule inet nsg6 nsgfwd ip6 saddr {ips_a[6]} ip6 daddr {ips_b[6]} drop\n")
        sh("ip", "netns", "exec", lab6.fabric, "nft", "-f", "-", input=rules)
        assert lab6.tcp_ok(pod_a, ips_b[6], 8093, attempts=1) is False
        assert lab6.tcp_ok(pod_a, ips_c[6], 8093)
        assert lab6.tcp_ok(pod_c, ips_b[6], 8093)
        assert lab6.tcp_ok(pod_a, ips_b[4], 8094)
        assert sorted(_member_addresses(lab6)) == sorted(ips[6] for _, _, ips in pods)
    finally:
        in_ns(lab6.fabric, "nft", "delete", "table", "inet", "nsg6", check=False)
        _del(lab6, conf, pods)
    _assert_clean(lab6)
    # the node-wide IPv6 steering stays for the next pod: one rule, one table route
    rules = [r for r in _json(lab6.node, "ip", "-j", "-6", "rule", "show")
             if r.get("table") == "129"]
    assert len(rules) == 1 and rules[0]["fwmark"] == "0x100000"
    table = _json(lab6.node, "ip", "-j", "-6", "route", "show", "table", "129")
    assert [(r["dst"], r["gateway"]) for r in table] == [("default", GATEWAY6)]


def _member_addresses(lab: Lab) -> list[str]:
    listing = in_ns(lab.node, "nft", "-j", "list", "set", "ip6", "vfpnet_tunnel", "pods")
    out = []
    for item in json.loads(listing.stdout)["nftables"]:
        for elem in item.get("set", {}).get("elem", []):
            out.append(str(elem["concat"][0]))
    return out


def test_ipv6_turned_off_by_default_in_node_and_pods_is_turned_on_for_their_links(
    lab6: Lab,
) -> None:
    """Runtimes may create namespaces with IPv6 off; the pod's link and the host veth get
    it back (only they: the defaults stay as they were)."""
    conf = _conf(lab6, "transparent")
    default = "net/ipv6/conf/default/disable_ipv6"
    set_sysctl(lab6.node, default, "1")
    pods: list[tuple[str, str, dict[int, str]]] = []
    try:
        for i in range(2):
            pod = lab6.pod()
            set_sysctl(pod, default, "1")
            pods.append((f"off6{i}", pod, _ips(lab6.add(conf, f"off6{i}", pod))))
        (_, pod_a, _), (_, pod_b, ips_b) = pods
        _serve6(lab6, pod_b, 8096)
        assert lab6.tcp_ok(pod_a, ips_b[6], 8096)
        assert get_sysctl(pod_a, default) == "1"
    finally:
        set_sysctl(lab6.node, default, "0")
        _del(lab6, conf, pods)
    _assert_clean(lab6)


@pytest.mark.parametrize("mode", MODES)
def test_ipv6_only_pods_talk_and_have_no_ipv4_route(lab6: Lab, mode: str) -> None:
    conf = _conf(lab6, mode, v4=False)
    pods = _add(lab6, conf, 2, f"v6{mode[:2]}{mode[-2:]}")
    try:
        (_, pod_a, ips_a), (_, pod_b, ips_b) = pods
        assert list(ips_a) == [6]
        assert _json(pod_a, "ip", "-j", "-4", "route", "show") == []
        assert _json(pod_a, "ip", "-j", "-4", "addr", "show", "eth0") == []
        _serve6(lab6, pod_b, 8095)
        assert lab6.tcp_ok(pod_a, ips_b[6], 8095)
        rc, out = lab6.run("CHECK", conf, pods[0][0], pod_a)
        assert rc == 0, out
    finally:
        _del(lab6, conf, pods)
    _assert_clean(lab6)


# -- DEL, CHECK, GC, rollback ----------------------------------------------------------

@pytest.mark.parametrize("mode", MODES)
def test_check_passes_for_dual_stack_and_names_a_deleted_ipv6_route(lab6: Lab,
                                                                     mode: str) -> None:
    conf = _conf(lab6, mode, cniVersion="1.1.0")
    pod = lab6.pod()
    cid = f"chk6{mode[:2]}{mode[-2:]}"
    result = lab6.add(conf, cid, pod)
    ips = _ips(result)
    check = dict(conf, prevResult=result)
    try:
        rc, out = lab6.run("CHECK", check, cid, pod)
        assert rc == 0, out
        if mode == "l2bridge":
            in_ns(pod, "ip", "-6", "route", "del", "default")
            expected = "IPv6 default route"
        else:
            in_ns(lab6.node, "ip", "-6", "route", "del", ips[6])
            expected = f"host route {ips[6]}/128"
        rc, out = lab6.run("CHECK", check, cid, pod)
        assert rc == 1 and out is not None and out["code"] == 101
        assert expected in str(out["msg"]), out
    finally:
        lab6.delete(conf, cid, pod)
    _assert_clean(lab6)


def test_check_names_a_missing_ipv6_steering_member(lab6: Lab) -> None:
    conf = _conf(lab6, "transparent-tunnel")
    pod = lab6.pod()
    result = lab6.add(conf, "chkmem6", pod)
    ips = _ips(result)
    host = str(result["interfaces"][0]["name"])  # type: ignore[index]
    try:
        in_ns(lab6.node, "nft", "delete", "element", "ip6", "vfpnet_tunnel", "pods",
              f"{{ {ips[6]} . {host} }}")
        rc, out = lab6.run("CHECK", dict(conf, prevResult=result), "chkmem6", pod)
        assert rc == 1 and out is not None
        assert f"steering set member {ips[6]} . {host} is missing" in str(out["msg"])
    finally:
        lab6.delete(conf, "chkmem6", pod)
    _assert_clean(lab6)


def test_del_without_a_record_removes_both_steering_members(lab6: Lab) -> None:
    conf = _conf(lab6, "transparent-tunnel")
    pod = lab6.pod()
    lab6.add(conf, "lost6", pod)
    next(lab6.state_dir.rglob("lost6:eth0.json")).unlink()
    lab6.delete(conf, "lost6", pod)
    _assert_clean(lab6)


def test_gc_removes_dual_stack_attachments_not_in_valid_attachments(lab6: Lab) -> None:
    conf = _conf(lab6, "transparent-tunnel", cniVersion="1.1.0")
    pods = [lab6.pod() for _ in range(2)]
    for i, pod in enumerate(pods):
        lab6.add(conf, f"gc6{i}", pod)
    # a member that no record owns (e.g. a crash after its record was lost)
    in_ns(lab6.node, "nft", "add", "element", "ip6", "vfpnet_tunnel", "pods",
          "{ fd00:244:108::99 . vfpdeadbeef00 }")
    gc = dict(conf, **{"cni.dev/valid-attachments": [{"containerID": "gc61", "ifname": "eth0"}]})
    rc, out = lab6.run("GC", gc, "", None)
    assert rc == 0, out
    assert len(_member_addresses(lab6)) == 1
    assert len(lab6.leftovers()["set_members"]) == 1
    lab6.delete(conf, "gc61", pods[1])
    _assert_clean(lab6)


@pytest.mark.parametrize("step", ["after-pod-config", "after-steering-member",
                                  "after-host-route"])
def test_dual_stack_add_failing_at_a_step_leaves_nothing_and_releases_both(
    lab6: Lab, step: str,
) -> None:
    conf = _conf(lab6, "transparent-tunnel")
    pod = lab6.pod()
    rc, out = lab6.run("ADD", conf, f"fail6{step[-4:]}", pod, VFPNET_CNI_FAULT=step)
    assert rc == 1 and out is not None and step in str(out["msg"])
    _assert_clean(lab6)  # includes: no IPAM allocation of either family left


def test_unreachable_ipv6_gateway_is_refused_naming_where_it_came_from(lab6: Lab) -> None:
    conf = _conf(lab6, "transparent-tunnel")
    conf["ipam"]["ranges"][1][0]["gateway"] = "fd00:244:108::fe"  # type: ignore[index]
    pod = lab6.pod()
    rc, out = lab6.run("ADD", conf, "unreach6", pod)
    assert rc == 1 and out is not None and out["code"] == 7, out
    assert "ipam result ips[1].gateway: fd00:244:108::fe is not reachable" in str(out["msg"])
    _assert_clean(lab6)


@pytest.mark.parametrize("mode", ["l2bridge", "transparent-tunnel"])
def test_an_ipv4_netconf_gateway_for_an_ipv6_only_pod_is_refused(lab6: Lab, mode: str) -> None:
    conf = _conf(lab6, mode, v4=False, gateway="10.244.250.1")
    pod = lab6.pod()
    rc, out = lab6.run("ADD", conf, f"gw4{mode[:2]}", pod)
    assert rc == 1 and out is not None and out["code"] == 7, out
    assert "gateway: 10.244.250.1 is IPv4, but the pod has no IPv4 address" in str(out["msg"])
    _assert_clean(lab6)


# -- MTU ---------------------------------------------------------------------------------

def _mtu(ns: str, dev: str) -> int:
    return int(_json(ns, "ip", "-j", "link", "show", dev)[0]["mtu"])  # type: ignore[arg-type]


@pytest.mark.parametrize("mode", MODES)
def test_mtu_is_set_on_both_veth_ends_and_reported_in_a_1_1_0_result(lab6: Lab,
                                                                      mode: str) -> None:
    bridge = f"{lab6.prefix}m{mode[:2]}"  # a bridge this test creates, so its MTU is ours
    conf = _conf(lab6, mode, cniVersion="1.1.0", mtu=1400, bridge=bridge)
    if mode == "l2bridge":  # subnets of its own: the lab's bridge holds the usual gateways
        conf = _conf(lab6, mode, cniVersion="1.1.0", mtu=1400, bridge=bridge,
                     subnet="10.244.208.0/24", subnet6="fd00:244:1082::/64")
    pod = lab6.pod()
    cid = f"mtu{mode[:2]}{mode[-2:]}"
    result = lab6.add(conf, cid, pod)
    try:
        host, inner = result["interfaces"]  # type: ignore[misc]
        assert host["mtu"] == inner["mtu"] == 1400
        assert _mtu(lab6.node, host["name"]) == 1400
        assert _mtu(pod, "eth0") == 1400
        if mode == "l2bridge":
            assert _mtu(lab6.node, bridge) == 1400
        rc, out = lab6.run("CHECK", dict(conf, prevResult=result), cid, pod)
        assert rc == 0, out
        in_ns(pod, "ip", "link", "set", "eth0", "mtu", "1300")
        rc, out = lab6.run("CHECK", dict(conf, prevResult=result), cid, pod)
        assert rc == 1 and out is not None and "MTU of eth0 is 1300, not 1400" in str(out["msg"])
    finally:
        lab6.delete(conf, cid, pod)
        in_ns(lab6.node, "ip", "link", "del", bridge, check=False)
    _assert_clean(lab6)


@pytest.mark.parametrize("version", ["0.4.0", "1.0.0"])
def test_mtu_is_applied_but_absent_from_results_before_1_1_0(lab6: Lab, version: str) -> None:
    conf = _conf(lab6, "transparent", cniVersion=version, mtu=1400)
    pod = lab6.pod()
    cid = "mtuv" + version.replace(".", "")
    result = lab6.add(conf, cid, pod)
    try:
        assert result["cniVersion"] == version
        assert all("mtu" not in i for i in result["interfaces"])  # type: ignore[attr-defined]
        assert _mtu(pod, "eth0") == 1400
    finally:
        lab6.delete(conf, cid, pod)
    _assert_clean(lab6)


@pytest.mark.parametrize(("mtu", "v4_only", "says"), [
    (100, True, "mtu: 100 is outside 576..65535"),
    (70000, True, "mtu: 70000 is outside 576..65535"),
    ("1500", True, "mtu: '1500' must be an integer"),
    (True, True, "mtu: True must be an integer"),
    (1000, False, "mtu: 1000 is below 1280, the IPv6 minimum"),
])
def test_invalid_mtu_is_error_7_naming_mtu_and_creates_nothing(
    lab6: Lab, mtu: object, v4_only: bool, says: str,
) -> None:
    conf = lab6.netconf("l2bridge", mtu=mtu) if v4_only else _conf(lab6, "l2bridge", mtu=mtu)
    pod = lab6.pod()
    rc, out = lab6.run("ADD", conf, "badmtu", pod)
    assert rc == 1 and out is not None and out["code"] == 7, out
    assert says in str(out["msg"]), out
    assert in_ns(pod, "ip", "link", "show", "eth0", check=False).returncode != 0
    _assert_clean(lab6)


def test_mtu_below_1280_with_an_ipv6_address_from_prev_result_is_refused(lab6: Lab) -> None:
    """Netconf cannot see this IPv6 address (no ipam section): the backend refuses it once
    the address is known, and the rollback leaves nothing."""
    conf = lab6.netconf("transparent", mtu=1000)
    del conf["ipam"]
    conf["prevResult"] = {"cniVersion": "1.0.0", "interfaces": [],
                          "ips": [{"address": "fd00:244:108::200/64"}]}
    pod = lab6.pod()
    rc, out = lab6.run("ADD", conf, "badmtu6", pod)
    assert rc == 1 and out is not None and out["code"] == 7, out
    assert "mtu: 1000 is below 1280" in str(out["msg"])
    assert "fd00:244:108::200/64" in str(out["msg"])
    assert in_ns(pod, "ip", "link", "show", "eth0", check=False).returncode != 0
    _assert_clean(lab6)
