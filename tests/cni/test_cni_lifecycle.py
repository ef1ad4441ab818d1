"""ADD/DEL/CHECK/GC life cycle: rollback at every step, crashes, concurrency, drift."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from netlab import VFPNET, Lab, in_ns, needs_root, pod_ip

from vfpnet.cni import errors

pytestmark = [needs_root, pytest.mark.net]
SUBNET_OCTET = 102

STEPS = ["after-veth", "after-ipam", "after-pod-config", "after-steering-member",
         "after-host-route", "before-record-ready"]


@pytest.mark.parametrize("step", STEPS)
def test_failure_at_each_add_step_leaves_nothing(lab: Lab, step: str) -> None:
    conf = lab.netconf("transparent-tunnel")
    pod = lab.pod()
    rc, out = lab.run("ADD", conf, f"fault{step[:8]}", pod, VFPNET_CNI_FAULT=step)
    assert rc == 1 and out is not None and out["code"] == 100 and step in str(out["msg"])
    lab.assert_clean()
    assert in_ns(pod, "ip", "-o", "link", "show", "eth0", check=False).returncode != 0


def test_failure_in_l2bridge_mode_after_pod_config_leaves_nothing(lab: Lab) -> None:
    pod = lab.pod()
    rc, _ = lab.run("ADD", lab.netconf("l2bridge"), "faultl2", pod,
                    VFPNET_CNI_FAULT="after-pod-config")
    assert rc == 1
    lab.assert_clean()


def test_existing_interface_in_pod_is_refused_and_the_ip_is_released(lab: Lab) -> None:
    pod = lab.pod()
    in_ns(pod, "ip", "link", "add", "eth0", "type", "veth", "peer", "name", "eth0p")
    rc, out = lab.run("ADD", lab.netconf("transparent"), "exists", pod)
    assert rc == 1 and out is not None and "CNI_IFNAME" in str(out["msg"])
    lab.assert_clean()


def test_ipam_exhaustion_removes_the_veth_made_before_the_answer(lab: Lab) -> None:
    conf = lab.netconf("transparent")
    conf["ipam"] = dict(conf["ipam"], ranges=[[{"subnet": "10.244.102.248/30"}]])  # one address
    pod_a, pod_b = lab.pod(), lab.pod()
    lab.add(conf, "full-a", pod_a)
    rc, out = lab.run("ADD", conf, "full-b", pod_b)
    assert rc == 1 and out is not None and "host-local" in str(out["msg"])
    assert lab.leftovers()["links"] and len(lab.leftovers()["links"]) == 1  # only pod A's
    lab.delete(conf, "full-a", pod_a)
    lab.assert_clean()


def test_del_of_unknown_container_succeeds_and_del_is_repeatable(lab: Lab) -> None:
    conf = lab.netconf("transparent-tunnel")
    rc, out = lab.run("DEL", conf, "never-added", None)
    assert rc == 0 and out is None
    pod = lab.pod()
    lab.add(conf, "twice", pod)
    lab.delete(conf, "twice", pod)
    lab.delete(conf, "twice", pod)
    lab.assert_clean()


def test_del_uses_the_stored_mode_not_the_netconf(lab: Lab) -> None:
    pod = lab.pod()
    lab.add(lab.netconf("transparent-tunnel"), "stored", pod)
    assert lab.leftovers()["set_members"]
    lab.delete(lab.netconf("l2bridge"), "stored", pod)  # the runtime's config changed since
    lab.assert_clean()


def test_second_add_of_the_same_attachment_is_refused_and_keeps_the_first(lab: Lab) -> None:
    conf = lab.netconf("transparent")
    pod = lab.pod()
    first = lab.add(conf, "dup", pod)
    rc, out = lab.run("ADD", conf, "dup", pod)
    assert rc == 1 and out is not None and "already attached" in str(out["msg"])
    record = json.loads(next(lab.state_dir.rglob("dup:eth0.json")).read_text())
    assert record["status"] == "ready" and record["ips"] == [first["ips"][0]["address"]]  # type: ignore[index]
    lab.delete(conf, "dup", pod)
    lab.assert_clean()


def test_record_names_the_pod_for_the_agent(lab: Lab) -> None:
    conf = lab.netconf("l2bridge")
    pod = lab.pod()
    result = lab.add(conf, "named", pod)
    try:
        record = json.loads(next(lab.state_dir.rglob("named:eth0.json")).read_text())
        assert (record["podNamespace"], record["podName"]) == ("ns1", "named")
        assert record["mode"] == "l2bridge" and record["backend"] == "linux"
        assert record["ips"] == [result["ips"][0]["address"]]  # type: ignore[index]
    finally:
        lab.delete(conf, "named", pod)


@pytest.mark.parametrize("mode", ["l2bridge", "transparent", "transparent-tunnel"])
def test_check_passes_after_add_and_reports_a_deleted_link(lab: Lab, mode: str) -> None:
    conf = lab.netconf(mode)
    pod = lab.pod()
    cid = f"chk{mode[:5]}{mode[-3:]}"
    result = lab.add(conf, cid, pod)
    conf_check = dict(conf, prevResult=result)
    try:
        rc, out = lab.run("CHECK", conf_check, cid, pod)
        assert rc == 0, out
        in_ns(pod, "ip", "link", "del", "eth0")
        rc, out = lab.run("CHECK", conf_check, cid, pod)
        assert rc == 1 and out is not None and out["code"] == 101
        assert "missing" in str(out["msg"])
    finally:
        lab.delete(conf, cid, pod)
    lab.assert_clean()


def test_check_reports_a_deleted_host_route(lab: Lab) -> None:
    conf = lab.netconf("transparent-tunnel")
    pod = lab.pod()
    result = lab.add(conf, "chkroute", pod)
    try:
        in_ns(lab.node, "ip", "route", "del", pod_ip(result))
        rc, out = lab.run("CHECK", dict(conf, prevResult=result), "chkroute", pod)
        assert rc == 1 and out is not None and "host route" in str(out["msg"])
    finally:
        lab.delete(conf, "chkroute", pod)
    lab.assert_clean()


def test_gc_removes_everything_not_in_valid_attachments(lab: Lab) -> None:
    conf = lab.netconf("transparent-tunnel", cniVersion="1.1.0")
    pods = [lab.pod() for _ in range(3)]
    for i, pod in enumerate(pods):
        lab.add(conf, f"gc{i}", pod)
    gc_conf = dict(conf, **{"cni.dev/valid-attachments": [{"containerID": "gc1",
                                                           "ifname": "eth0"}]})
    rc, out = lab.run("GC", gc_conf, "", None)
    assert rc == 0, out
    left = lab.leftovers()
    assert len(left["links"]) == 1 and len(left["set_members"]) == 1
    assert len(left["ipam_allocations"]) == 1 and left["records"] == ["gc1:eth0.json"]
    lab.delete(conf, "gc1", pods[1])
    lab.assert_clean()


def _start_add(lab: Lab, conf: dict[str, object], cid: str, pod: str,
               **extra: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen(["ip", "netns", "exec", lab.node, VFPNET], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True,
                            env=lab.env("ADD", cid, pod, **extra))
    assert proc.stdin is not None
    proc.stdin.write(json.dumps(conf))
    proc.stdin.close()
    return proc


def _kill_when(lab: Lab, proc: subprocess.Popen[str], ready: object) -> None:
    deadline = time.monotonic() + 20
    while not ready():  # type: ignore[operator]
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.02)
    # `ip netns exec` execs the plugin, so this pid is the plugin itself
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()


@pytest.mark.parametrize("cleanup", ["DEL", "GC"])
def test_plugin_killed_mid_add_is_cleaned_by_the_next_del_or_gc(lab: Lab, cleanup: str) -> None:
    conf = lab.netconf("transparent-tunnel", cniVersion="1.1.0")
    pod = lab.pod()
    cid = f"kill{cleanup}"
    proc = _start_add(lab, conf, cid, pod, VFPNET_CNI_FAULT="after-steering-member:pause")
    _kill_when(lab, proc, lambda: lab.leftovers()["set_members"])
    left = lab.leftovers()
    assert left["links"] and left["set_members"] and left["ipam_allocations"] and left["records"]
    if cleanup == "DEL":
        lab.delete(conf, cid, pod)
    else:
        rc, out = lab.run("GC", dict(conf, **{"cni.dev/valid-attachments": []}), "", None)
        assert rc == 0, out
    lab.assert_clean()


def test_plugin_killed_while_ipam_runs_is_cleaned_by_del(lab: Lab, tmp_path: object) -> None:
    # an IPAM plugin that takes its time: the kill lands while it is still allocating
    bin_dir = lab.tmp / "slowbin"
    bin_dir.mkdir(exist_ok=True)
    slow = bin_dir / "slow-ipam"
    slow.write_text("#!/bin/sh\nsleep 0.5\nexec /usr/lib/cni/host-local\n")
    slow.chmod(0o755)
    conf = lab.netconf("transparent")
    conf["ipam"] = dict(conf["ipam"], type="slow-ipam")
    pod = lab.pod()
    path = f"{bin_dir}:/usr/lib/cni"
    proc = _start_add(lab, conf, "killipam", pod, CNI_PATH=path)
    _kill_when(lab, proc, lambda: lab.leftovers()["links"])
    deadline = time.monotonic() + 15  # the orphaned IPAM plugin finishes its allocation
    while not lab.leftovers()["ipam_allocations"]:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    rc, out = lab.run("DEL", conf, "killipam", pod, CNI_PATH=path)
    assert rc == 0, out
    lab.assert_clean()


def test_50_concurrent_add_del_pairs_leak_nothing(lab: Lab) -> None:
    conf = lab.netconf("transparent-tunnel")
    pods = [lab.pod() for _ in range(50)]

    def pair(i: int) -> tuple[int, object, int, object]:
        add_rc, add_out = lab.run("ADD", conf, f"conc{i}", pods[i])
        del_rc, del_out = lab.run("DEL", conf, f"conc{i}", pods[i])
        return add_rc, add_out if add_rc else None, del_rc, del_out

    with ThreadPoolExecutor(max_workers=50) as pool:
        outcomes = list(pool.map(pair, range(50)))
    failed = [o for o in outcomes if o[0] or o[2]]
    assert not failed, failed
    lab.assert_clean()
    # the node-wide steering survived every pod's DEL
    assert in_ns(lab.node, "nft", "list", "chain", "ip", "vfpnet_tunnel", "steer").returncode == 0


def test_del_without_a_record_still_removes_the_pods_steering_member(lab: Lab) -> None:
    conf = lab.netconf("transparent-tunnel")
    pod = lab.pod()
    lab.add(conf, "lostrec", pod)
    next(lab.state_dir.rglob("lostrec:eth0.json")).unlink()  # e.g. a wiped state dir
    lab.delete(conf, "lostrec", pod)
    lab.assert_clean()


def test_add_retried_after_a_killed_add_finishes_the_old_one_and_succeeds(lab: Lab) -> None:
    conf = lab.netconf("transparent-tunnel")
    pod = lab.pod()
    proc = _start_add(lab, conf, "retry", pod, VFPNET_CNI_FAULT="after-steering-member:pause")
    _kill_when(lab, proc, lambda: lab.leftovers()["set_members"])
    result = lab.add(conf, "retry", pod)
    left = lab.leftovers()
    assert len(left["links"]) == 1 and len(left["set_members"]) == 1
    assert len(left["ipam_allocations"]) == 1 and left["records"] == ["retry:eth0.json"]
    record = json.loads(next(lab.state_dir.rglob("retry:eth0.json")).read_text())
    assert record["status"] == "ready" and record["ips"] == [result["ips"][0]["address"]]  # type: ignore[index]
    lab.delete(conf, "retry", pod)
    lab.assert_clean()


def test_agent_sees_ready_endpoints_of_every_network_and_not_unfinished_ones(lab: Lab) -> None:
    from vfpnet.cni.state import ready_endpoints

    conf_a = lab.netconf("transparent")
    conf_b = lab.netconf("l2bridge", name=f"{lab.prefix}other")
    pod_a, pod_b, pod_c = lab.pod(), lab.pod(), lab.pod()
    lab.add(conf_a, "agent-a", pod_a)
    lab.add(conf_b, "agent-b", pod_b)
    proc = _start_add(lab, conf_a, "agent-c", pod_c, VFPNET_CNI_FAULT="after-ipam:pause")
    try:
        deadline = time.monotonic() + 20
        while len(list(lab.state_dir.rglob("*.json"))) < 3:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        seen = {(r["network"], r["podNamespace"], r["podName"], r["mode"])
                for r in ready_endpoints(str(lab.state_dir))}
        assert seen == {(conf_a["name"], "ns1", "agent-a", "transparent"),
                        (conf_b["name"], "ns1", "agent-b", "l2bridge")}
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        lab.delete(conf_a, "agent-c", pod_c)
        lab.delete(conf_a, "agent-a", pod_a)
        lab.delete(conf_b, "agent-b", pod_b)
    lab.assert_clean()


def test_a_failed_rollback_keeps_the_record_so_del_finishes_the_cleanup(lab: Lab) -> None:
    conf = lab.netconf("transparent")
    pod = lab.pod()
    rc, out = lab.run("ADD", conf, "undofail", pod, VFPNET_CNI_FAULT="after-ipam,undo-veth")
    assert rc == 1 and out is not None and "undo veth" in str(out.get("details"))
    left = lab.leftovers()
    assert left["links"] and left["records"] == ["undofail:eth0.json"]
    assert left["ipam_allocations"] == []  # the rest of the rollback still ran
    lab.delete(conf, "undofail", pod)
    lab.assert_clean()


def test_an_ipam_plugin_that_answers_without_reading_stdin_is_fine(lab: Lab) -> None:
    # The plugin closes its stdin at once; a config far above the pipe buffer makes the
    # plugin's side of the write end in EPIPE every time.
    bin_dir = lab.tmp / "lazybin"
    bin_dir.mkdir(exist_ok=True)
    lazy = bin_dir / "lazy-ipam"
    lazy.write_text('#!/bin/sh\nexec 0<&-\nsleep 0.2\n[ "$CNI_COMMAND" = ADD ] && '
                    'echo \'{"cniVersion":"1.0.0","ips":[{"address":"10.244.102.99/24"}]}\'\n'
                    "exit 0\n")
    lazy.chmod(0o755)
    conf = lab.netconf("transparent", padding="x" * 200_000)
    conf["ipam"] = {"type": "lazy-ipam"}
    pod = lab.pod()
    path = f"{bin_dir}:/usr/lib/cni"
    rc, out = lab.run("ADD", conf, "lazy", pod, CNI_PATH=path)
    assert rc == 0, out
    assert out is not None and out["ips"][0]["address"] == "10.244.102.99/32"  # type: ignore[index]
    rc, out = lab.run("DEL", conf, "lazy", pod, CNI_PATH=path)
    assert rc == 0, out
    lab.assert_clean()


def test_ill_typed_dns_from_the_ipam_plugin_is_code_6_and_rolls_back(lab: Lab,
                                                                      tmp_path: Path) -> None:
    # the pod's DNS is chosen once (vfpnet.cni.dns) for the result and the backend: an IPAM
    # answer whose dns is not the spec's shape fails ADD before the attachment is ready
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "baddns").write_text(
        "#!/bin/sh\ncat >/dev/null\n"
        'if [ "$CNI_COMMAND" = ADD ]; then echo \'{"cniVersion": "1.0.0", "ips": '
        '[{"address": "10.244.102.77/24"}], "dns": {"nameservers": "10.0.0.10"}}\'; fi\n')
    (bin_dir / "baddns").chmod(0o755)
    conf = lab.netconf("transparent")
    conf["ipam"] = {"type": "baddns"}
    rc, out = lab.run("ADD", conf, "baddns", lab.pod(), CNI_PATH=str(bin_dir))
    assert rc == 1 and out is not None and out["code"] == errors.DECODE_FAILURE, out
    assert out["msg"] == "ipam result.dns.nameservers: must be an array of strings"
    lab.assert_clean()
