"""GC of one transparent-tunnel network leaves the node-wide steering set of the others alone.

The set `ip vfpnet_tunnel pods` holds the members of every vfpnet network on the node.
Network B here keeps its records either in its own stateDir (where A's GC cannot see them)
or in A's: either way, A's GC must not un-steer B's pods (they would then bypass the
gateway's NSG), nor the member of an ADD still in flight, and must still drop a member
whose host veth no longer exists.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator

import pytest
from netlab import UPLINK_NODE, VFPNET, Lab, in_ns, needs_root, pod_ip, sh

pytestmark = [needs_root, pytest.mark.net]
SUBNET_OCTET = 112
SUBNET_B = "10.244.113.0/24"
STALE = ("10.244.113.250", "vfpdeadbeef00")  # a member whose veth is long gone


@pytest.fixture(scope="module")
def lab2(lab: Lab) -> Iterator[Lab]:
    """The lab's fabric also routes network B's subnet back to the node."""
    in_ns(lab.fabric, "ip", "route", "add", SUBNET_B, "via", UPLINK_NODE)
    yield lab


def conf_b(lab: Lab, shared_state: bool) -> dict[str, object]:
    conf = lab.netconf("transparent-tunnel", cniVersion="1.1.0")
    state = lab.state_dir if shared_state else lab.tmp / "state-b"
    conf.update(name=f"{lab.prefix}netb", stateDir=str(state),
                ipam={"type": "host-local", "ranges": [[{"subnet": SUBNET_B}]],
                      "dataDir": str(lab.tmp / "ipam-b")})
    return conf


def members(lab: Lab) -> set[tuple[str, str]]:
    out = in_ns(lab.node, "nft", "-j", "list", "set", "ip", "vfpnet_tunnel", "pods").stdout
    found = set()
    for item in json.loads(out)["nftables"]:
        for elem in item.get("set", {}).get("elem", []):
            found.add((str(elem["concat"][0]), str(elem["concat"][1])))
    return found


def host_veth(lab: Lab, address: str) -> str:
    route = json.loads(in_ns(lab.node, "ip", "-j", "route", "show", address).stdout)
    return str(route[0]["dev"])


def start_paused_add(lab: Lab, conf: dict[str, object], cid: str,
                     pod: str) -> tuple[subprocess.Popen[str], tuple[str, str]]:
    """An ADD that stops for good right after its steering member went in; the member."""
    before = members(lab)
    proc = subprocess.Popen(
        ["ip", "netns", "exec", lab.node, VFPNET], stdin=subprocess.PIPE,
        stdout=subprocess.PIPE, text=True,
        env=lab.env("ADD", cid, pod, VFPNET_CNI_FAULT="after-steering-member:pause"))
    assert proc.stdin is not None
    proc.stdin.write(json.dumps(conf))
    proc.stdin.close()
    deadline = time.monotonic() + 20
    while not (new := members(lab) - before):
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.02)
    [member] = new
    return proc, member


def b_leftovers(lab: Lab) -> list[str]:
    """Network B's IPAM allocations and records (A's are in `lab.leftovers()`)."""
    ipam, state = lab.tmp / "ipam-b", lab.tmp / "state-b"
    allocations = [p.name for p in ipam.rglob("*") if p.is_file() and p.name != "lock"
                   and not p.name.startswith("last_reserved_ip")] if ipam.exists() else []
    return allocations + [p.name for p in state.rglob("*.json")]


@pytest.mark.parametrize("shared_state", [False, True], ids=["own-stateDir", "shared-stateDir"])
def test_gc_of_one_network_keeps_the_other_networks_pods_steered(
        lab2: Lab, shared_state: bool) -> None:
    lab = lab2
    tag = "sh" if shared_state else "own"
    conf_a = lab.netconf("transparent-tunnel", cniVersion="1.1.0")
    b_conf = conf_b(lab, shared_state)
    a_pods = {f"a{tag}{i}": lab.pod() for i in range(2)}
    b_pods = {f"b{tag}{i}": lab.pod() for i in range(2)}
    ips: dict[str, str] = {}
    paused: subprocess.Popen[str] | None = None
    in_flight = (f"bfly{tag}", lab.pod())
    try:
        for cid, pod in a_pods.items():
            ips[cid] = pod_ip(lab.add(conf_a, cid, pod))
        for cid, pod in b_pods.items():
            ips[cid] = pod_ip(lab.add(b_conf, cid, pod))
        paused, flying = start_paused_add(lab, b_conf, *in_flight)
        in_ns(lab.node, "nft", "add", "element", "ip", "vfpnet_tunnel", "pods",
              f'{{ {STALE[0]} . "{STALE[1]}" }}')
        kept_a, gone_a = sorted(a_pods)[1], sorted(a_pods)[0]
        gc = dict(conf_a, **{"cni.dev/valid-attachments": [{"containerID": kept_a,
                                                            "ifname": "eth0"}]})
        rc, out = lab.run("GC", gc, "", None)
        assert rc == 0, out
        after = members(lab)
        b_members = {(ips[cid], host_veth(lab, ips[cid])) for cid in b_pods}
        assert b_members <= after, "GC of network A removed network B's members"
        assert flying in after, "GC of network A removed the member of an ADD in flight"
        assert (ips[kept_a], host_veth(lab, ips[kept_a])) in after
        assert not any(m[0] == ips[gone_a] for m in after)
        assert STALE not in after
        # B's pods still go through the fabric: its NSG still decides between them
        (b0, pod0), (b1, pod1) = sorted(b_pods.items())
        lab.serve(pod1, "tcp", 8090)
        assert lab.tcp_ok(pod0, ips[b1], 8090)
        lab.nsg_drop(ips[b0], ips[b1])
        assert not lab.tcp_ok(pod0, ips[b1], 8090, attempts=1)
    finally:
        lab.nsg_clear()
        if paused is not None:
            os.kill(paused.pid, signal.SIGKILL)  # `ip netns exec` execs the plugin
            paused.wait()
            lab.delete(b_conf, *in_flight)
        for cid, pod in a_pods.items():
            lab.delete(conf_a, cid, pod)
        for cid, pod in b_pods.items():
            lab.delete(b_conf, cid, pod)
        sh("ip", "netns", "exec", lab.node, "nft", "delete", "element", "ip", "vfpnet_tunnel",
           "pods", f'{{ {STALE[0]} . "{STALE[1]}" }}', check=False)
    lab.assert_clean()
    assert not members(lab) and not b_leftovers(lab)
