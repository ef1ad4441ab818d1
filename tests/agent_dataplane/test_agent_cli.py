"""`vfpnet agent` as a user runs it: --once, status, cleanup, bad input, failures."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent_dataplane.agentrun import run_agent, write_cni_state, write_manifests
from cases import case_steps, step_id
from vfpnet.agent.endpoints import CniStateEndpoints
from vfpnet.hns.emulator import Emulator

STEPS = {step_id(c, s): s for c, s in case_steps(suite="e2e")}
HOST = "10.240.0.1"


@pytest.fixture
def hns_node(tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    """An emulator node with an endpoint per e2e pod; (state path, pod -> endpoint id)."""
    state = str(tmp_path / "hns.db")
    client = Emulator(state)
    network = client.create_network({
        "Name": "podnet", "Type": "L2Bridge",
        "Ipams": [{"Type": "Static", "Subnets": [{"IpAddressPrefix": "10.240.0.0/15"}]}],
        "SchemaVersion": {"Major": 2, "Minor": 0},
    })
    ids = {}
    for pod in next(iter(STEPS.values())).pods().values():
        ep = client.create_endpoint(network["ID"], {
            "Name": pod.id.replace("/", "-"), "HostComputeNetwork": network["ID"],
            "IpConfigurations": [{"IpAddress": pod.ips[0], "PrefixLength": 15}],
            "SchemaVersion": {"Major": 2, "Minor": 0},
        })
        ids[pod.id] = str(ep["ID"])
    client.close()
    yield state, ids


def _once(tmp_path: Path, state: str, datastore: str) -> subprocess.CompletedProcess[str]:
    return run_agent(
        None, "--datastore", datastore, "--dataplane", "hns", "--hns-state", state,
        "--node", "node1", "--once", "--run-dir", str(tmp_path / "run"),
        "--host-address", HOST,
    )


def _acls(state: str, endpoint: str) -> list[object]:
    client = Emulator(state)
    try:
        return [p for p in client.get_endpoint(endpoint)["Policies"] if p["Type"] == "ACL"]
    finally:
        client.close()


def test_once_then_status_shows_endpoints_policies_and_last_sync(
    tmp_path: Path, hns_node: tuple[str, dict[str, str]]
) -> None:
    state, _ = hns_node
    write_manifests(tmp_path / "m", STEPS["e2e/default-deny-ingress"])
    done = _once(tmp_path, state, f"files:{tmp_path / 'm'}")
    assert done.returncode == 0, done.stderr
    assert "full sync: 9 endpoints programmed" in done.stderr
    text = run_agent(None, "status", "--run-dir", str(tmp_path / "run"))
    assert text.returncode == 0, text.stderr
    assert "policies: 1 NetworkPolicy" in text.stdout
    assert "x/a 10.240.1.10: 1 in / 1 out rules; ingress isolated by x/deny-ingress" in (
        text.stdout
    )
    data = json.loads(run_agent(None, "status", "--format", "json", "--run-dir",
                                str(tmp_path / "run")).stdout)
    assert data["syncs"] == 1 and data["lastSync"] and len(data["endpoints"]) == 9


def test_datastore_that_does_not_answer_fails_once_and_leaves_dataplane_as_it_was(
    tmp_path: Path, hns_node: tuple[str, dict[str, str]]
) -> None:
    state, ids = hns_node
    write_manifests(tmp_path / "m", STEPS["e2e/default-deny-ingress"])
    assert _once(tmp_path, state, f"files:{tmp_path / 'm'}").returncode == 0
    before = {pod: _acls(state, ep) for pod, ep in ids.items()}
    done = _once(tmp_path, state, f"files:{tmp_path / 'missing'}")
    assert done.returncode != 0
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("vfpnet: datastore files:") and "did not answer" in last
    assert {pod: _acls(state, ep) for pod, ep in ids.items()} == before


def test_invalid_policy_is_reported_and_the_rest_is_enforced(
    tmp_path: Path, hns_node: tuple[str, dict[str, str]]
) -> None:
    state, _ = hns_node
    write_manifests(tmp_path / "m", STEPS["e2e/default-deny-ingress"])
    (tmp_path / "m" / "zz-bad.yaml").write_text(
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\n"
        "metadata: {name: bad, namespace: y}\nspec: {podSelector: {}, policyTypes: [Up]}\n"
    )
    done = _once(tmp_path, state, f"files:{tmp_path / 'm'}")
    assert done.returncode == 0, done.stderr
    assert "NetworkPolicy y/bad" in done.stderr and "spec.policyTypes" in done.stderr
    status = json.loads((tmp_path / "run" / "status.json").read_text())
    assert [o["object"] for o in status["invalidObjects"]] == ["NetworkPolicy y/bad"]
    x_a = next(e for e in status["endpoints"] if e["pod"] == "x/a")
    y_a = next(e for e in status["endpoints"] if e["pod"] == "y/a")
    assert x_a["isolatedIngressBy"] and not y_a["isolatedIngressBy"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--datastore", "nosuch:x", "--dataplane", "hns", "--node", "n"], "--datastore"),
        (["--datastore", "files:/tmp", "--dataplane", "hns"], "--node: required"),
        (["--datastore", "files:/tmp", "--node", "n"], "--dataplane: required"),
    ],
)
def test_bad_arguments_exit_2_with_one_line(args: list[str], message: str) -> None:
    done = run_agent(None, *args)
    assert done.returncode == 2
    assert len(done.stderr.strip().splitlines()) == 1 and message in done.stderr
    assert done.stdout == ""


def test_status_before_any_run_exits_2(tmp_path: Path) -> None:
    done = run_agent(None, "status", "--run-dir", str(tmp_path / "nothing"))
    assert done.returncode == 2 and "no agent status" in done.stderr


def test_cni_state_records_become_endpoints_bad_ones_reported(tmp_path: Path) -> None:
    write_cni_state(tmp_path, {"x/a": "10.240.1.10", "x/b": "10.240.1.11"})
    endpoints = tmp_path / "podnet" / "endpoints"
    (endpoints / "cadding:eth0.json").write_text(json.dumps(
        {"containerID": "cadding", "ifname": "eth0", "status": "adding", "ips": []}))
    (endpoints / "cbroken:eth0.json").write_text("{not json")
    found, problems = CniStateEndpoints(str(tmp_path)).local_endpoints()
    assert sorted((e.pod, e.ips) for e in found) == [
        ("x/a", ("10.240.1.10",)), ("x/b", ("10.240.1.11",))]
    assert len(problems) == 1 and "cbroken:eth0.json" in problems[0]


@pytest.mark.net
@pytest.mark.skipif(os.geteuid() != 0, reason="needs root for network namespaces")
def test_nftables_cleanup_removes_our_table_only(tmp_path: Path) -> None:
    ns = f"vt{secrets.token_hex(4)}"
    subprocess.run(["ip", "netns", "add", ns], check=True)
    try:
        subprocess.run(["ip", "netns", "exec", ns, "nft", "add", "table", "inet", "theirs"],
                       check=True)
        write_manifests(tmp_path / "m", STEPS["e2e/default-deny-all"])
        write_cni_state(tmp_path / "cni", {"x/a": "10.240.1.10"})
        done = run_agent(ns, "--datastore", f"files:{tmp_path / 'm'}", "--dataplane",
                         "nftables", "--node", "node1", "--once", "--cni-state-dir",
                         str(tmp_path / "cni"), "--run-dir", str(tmp_path / "run"))
        assert done.returncode == 0, done.stderr
        tables = subprocess.run(["ip", "netns", "exec", ns, "nft", "list", "tables"],
                                capture_output=True, text=True, check=True).stdout
        assert "table inet vfpnet" in tables
        done = run_agent(ns, "cleanup", "--dataplane", "nftables")
        assert done.returncode == 0, done.stderr
        tables = subprocess.run(["ip", "netns", "exec", ns, "nft", "list", "tables"],
                                capture_output=True, text=True, check=True).stdout
        assert tables.split() == ["table", "inet", "theirs"]
    finally:
        subprocess.run(["ip", "netns", "del", ns], check=False)
