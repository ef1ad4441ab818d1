"""The three Linux modes on real namespaces: addressing, reachability, the fabric's NSG."""

from __future__ import annotations

import json
import subprocess

import pytest
from netlab import Lab, get_sysctl, in_ns, needs_root, pod_ip, sh

pytestmark = [needs_root, pytest.mark.net]
SUBNET_OCTET = 101


def _add_pods(
    lab: Lab, conf: dict[str, object], count: int, tag: str
) -> list[tuple[str, str, str]]:
    out = []
    for i in range(count):
        pod = lab.pod()
        cid = f"{tag}{i}"
        out.append((cid, pod, pod_ip(lab.add(conf, cid, pod))))
    return out


def _del_pods(lab: Lab, conf: dict[str, object], pods: list[tuple[str, str, str]]) -> None:
    for cid, pod, _ in pods:
        lab.delete(conf, cid, pod)


def test_l2bridge_puts_pod_on_subnet_with_gateway_on_bridge_and_pods_talk_tcp(lab: Lab) -> None:
    conf = lab.netconf("l2bridge")
    pods = _add_pods(lab, conf, 2, "l2b")
    try:
        (_, pod_a, _), (_, pod_b, ip_b) = pods
        addrs = json.loads(in_ns(pod_a, "ip", "-j", "-4", "addr", "show", "eth0").stdout)
        assert addrs[0]["addr_info"][0]["prefixlen"] == 24
        bridge = json.loads(in_ns(lab.node, "ip", "-j", "-4", "addr", "show",
                                  f"{lab.prefix}br").stdout)
        assert bridge[0]["addr_info"][0]["local"] == "10.244.101.1"
        route = json.loads(in_ns(pod_a, "ip", "-j", "route", "show", "default").stdout)
        assert route[0]["gateway"] == "10.244.101.1"
        lab.serve(pod_b, "tcp", 8080)
        assert lab.tcp_ok(pod_a, ip_b, 8080)
    finally:
        _del_pods(lab, conf, pods)
    lab.assert_clean()


def test_transparent_gives_pod_a_slash32_link_local_gateway_and_host_route(lab: Lab) -> None:
    conf = lab.netconf("transparent")
    pods = _add_pods(lab, conf, 2, "tr")
    try:
        (_, pod_a, ip_a), (_, pod_b, ip_b) = pods
        addrs = json.loads(in_ns(pod_a, "ip", "-j", "-4", "addr", "show", "eth0").stdout)
        assert addrs[0]["addr_info"][0]["prefixlen"] == 32
        route = json.loads(in_ns(pod_a, "ip", "-j", "route", "show", "default").stdout)
        assert route[0]["gateway"] == "169.254.1.1" and route[0]["dev"] == "eth0"
        host_routes = json.loads(in_ns(lab.node, "ip", "-j", "route", "show", ip_a).stdout)
        assert host_routes and host_routes[0]["dev"].startswith("vfp")
        proxy = get_sysctl(lab.node, f"net/ipv4/conf/{host_routes[0]['dev']}/proxy_arp")
        assert proxy == "1"
        lab.serve(pod_b, "tcp", 8081)
        assert lab.tcp_ok(pod_a, ip_b, 8081)
    finally:
        _del_pods(lab, conf, pods)
    lab.assert_clean()


def test_nsg_drop_on_fabric_blocks_same_node_pods_in_tunnel_mode_only(lab: Lab) -> None:
    """transparent-tunnel sends A->B through the fabric, whose NSG drops it; C is unaffected.
    In transparent mode the same rule does not apply: A->B never leaves the node."""
    verdicts = {}
    for mode in ("transparent-tunnel", "transparent"):
        conf = lab.netconf(mode)
        pods = _add_pods(lab, conf, 3, f"nsg{mode[:6]}")
        (_, pod_a, ip_a), (_, pod_b, ip_b), (_, pod_c, ip_c) = pods
        try:
            lab.serve(pod_b, "tcp", 8082)
            lab.serve(pod_c, "tcp", 8082)
            assert lab.tcp_ok(pod_a, ip_b, 8082), mode  # open before the NSG rule
            lab.nsg_drop(ip_a, ip_b)
            verdicts[mode] = (
                lab.tcp_ok(pod_a, ip_b, 8082, attempts=1),
                lab.tcp_ok(pod_a, ip_c, 8082),
                lab.tcp_ok(pod_c, ip_b, 8082),
            )
        finally:
            lab.nsg_clear()
            _del_pods(lab, conf, pods)
    assert verdicts["transparent-tunnel"] == (False, True, True)
    assert verdicts["transparent"] == (True, True, True)
    lab.assert_clean()


def test_tunnel_same_node_udp_loses_none_of_1000_request_replies_and_tcp_works(
    lab: Lab,
) -> None:
    conf = lab.netconf("transparent-tunnel")
    pods = _add_pods(lab, conf, 2, "udp")
    (_, pod_a, _), (_, pod_b, ip_b) = pods
    try:
        counters = ("add table inet count\n"
                    "add chain inet count cntfwd {\n type filter hook forward priority 0\n}\n"
                    f"add rule inet count cntfwd ip daddr {ip_b} udp dport 5353 counter\n")
        sh("ip", "netns", "exec", lab.fabric, "nft", "-f", "-", input=counters)
        lab.serve(pod_b, "udp", 5353)
        lab.serve(pod_b, "tcp", 8083)
        assert lab.tcp_ok(pod_a, ip_b, 8083)
        assert lab.udp_lost(pod_a, ip_b, 5353, 1000) == 0
        assert lab.tcp_failed(pod_a, ip_b, 8083, 200) == 0  # 200 fresh connections
        listing = json.loads(in_ns(lab.fabric, "nft", "-j", "list", "table", "inet",
                                   "count").stdout)
        counted = [e["counter"]["packets"] for item in listing["nftables"] if "rule" in item
                   for e in item["rule"]["expr"] if "counter" in e]
        assert counted and counted[0] >= 1000  # every request crossed the fabric
    finally:
        in_ns(lab.fabric, "nft", "delete", "table", "inet", "count", check=False)
        _del_pods(lab, conf, pods)
    lab.assert_clean()


@pytest.mark.parametrize("version", ["0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"])
def test_add_result_is_in_the_requested_cni_version(lab: Lab, version: str) -> None:
    conf = lab.netconf("transparent", cniVersion=version)
    pod = lab.pod()
    cid = "ver" + version.replace(".", "")
    try:
        result = lab.add(conf, cid, pod)
        assert result["cniVersion"] == version
        ip = result["ips"][0]  # type: ignore[index]
        assert ("version" in ip) == version.startswith("0."), ip
        assert result["interfaces"][ip["interface"]]["sandbox"] == f"/var/run/netns/{pod}"  # type: ignore[index]
    finally:
        lab.delete(conf, cid, pod)
    lab.assert_clean()


def _run_reference(lab: Lab, plugin: str, command: str, conf: dict[str, object], cid: str,
                   pod: str) -> tuple[int, dict[str, object] | None]:
    res = subprocess.run(["ip", "netns", "exec", lab.node, f"/usr/lib/cni/{plugin}"],
                         input=json.dumps(conf), capture_output=True, text=True,
                         env=lab.env(command, cid, pod))
    return res.returncode, json.loads(res.stdout) if res.stdout.strip() else None


def test_chained_before_bandwidth_the_result_feeds_the_next_plugin(lab: Lab) -> None:
    conf = lab.netconf("transparent")
    pod = lab.pod()
    result = lab.add(conf, "chainbw", pod)
    bw = {"cniVersion": "1.0.0", "name": conf["name"], "type": "bandwidth",
          "ingressRate": 8_000_000, "ingressBurst": 80_000, "egressRate": 8_000_000,
          "egressBurst": 80_000, "prevResult": result}
    rc, out = _run_reference(lab, "bandwidth", "ADD", bw, "chainbw", pod)
    try:
        assert rc == 0, out
        assert out is not None and out["ips"] == result["ips"]
        host_if = result["interfaces"][0]["name"]  # type: ignore[index]
        qdisc = in_ns(lab.node, "tc", "qdisc", "show", "dev", host_if).stdout
        assert "tbf" in qdisc  # bandwidth shaped our host-side veth
    finally:
        _run_reference(lab, "bandwidth", "DEL", bw, "chainbw", pod)
        lab.delete(conf, "chainbw", pod)
    lab.assert_clean()


def test_without_ipam_the_addresses_of_prev_result_are_used_and_kept(lab: Lab) -> None:
    conf = lab.netconf("transparent")
    del conf["ipam"]
    conf["prevResult"] = {"cniVersion": "1.0.0", "interfaces": [{"name": "other0"}],
                          "ips": [{"address": "10.244.101.200/24", "interface": 0}],
                          "dns": {"nameservers": ["10.244.101.53"]}}
    pod = lab.pod()
    result = lab.add(conf, "prevonly", pod)
    try:
        assert result["interfaces"][0]["name"] == "other0"  # type: ignore[index]
        assert result["ips"][0]["address"] == "10.244.101.200/32"  # type: ignore[index]
        assert result["ips"][0]["interface"] == 2  # type: ignore[index]
        assert result["dns"] == {"nameservers": ["10.244.101.53"]}
        addrs = in_ns(pod, "ip", "-4", "-o", "addr", "show", "eth0").stdout
        assert "10.244.101.200/32" in addrs
    finally:
        lab.delete(conf, "prevonly", pod)
    lab.assert_clean()
