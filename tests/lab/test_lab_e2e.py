"""The lab end to end: real CNI, real agent, real packets; three answers that agree.

A small mixed cluster (a Linux node in transparent-tunnel mode, a Windows-twin node with
transparent-tunnel pods and one l2bridge pod) is brought up once for the module; each
test then probes it. Everything lives under a private run dir and a random prefix.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import needs_root
from test_lab_teardown import killed_once_built

from vfpnet.lab import lifecycle
from vfpnet.lab.commands import netns_list
from vfpnet.lab.report import report_json

pytestmark = [needs_root, pytest.mark.net, pytest.mark.slow]
VFPNET = str(Path(sys.executable).with_name("vfpnet"))

CLUSTER = """
vnet: 10.250.0.0/16
manifests: manifests
nodes:
  - {name: lin1, os: linux, mode: transparent-tunnel}
  - {name: win1, os: windows, mode: transparent-tunnel}
nsg:
  securityRules:
    - name: deny-a2-to-b2
      properties: {priority: 100, direction: Inbound, access: Deny, protocol: Tcp,
                   sourceAddressPrefix: "pod:app/a2", sourcePortRange: "*",
                   destinationAddressPrefix: "pod:app/b2", destinationPortRange: "80"}
    - name: deny-c2-to-a2
      properties: {priority: 110, direction: Inbound, access: Deny, protocol: Tcp,
                   sourceAddressPrefix: "pod:app/c2", sourcePortRange: "*",
                   destinationAddressPrefix: "pod:app/a2", destinationPortRange: "80"}
    - name: deny-a2-to-c2
      properties: {priority: 120, direction: Inbound, access: Deny, protocol: Tcp,
                   sourceAddressPrefix: "pod:app/a2", sourcePortRange: "*",
                   destinationAddressPrefix: "pod:app/c2", destinationPortRange: "80"}
    - name: deny-c2-to-c3
      properties: {priority: 125, direction: Inbound, access: Deny, protocol: Tcp,
                   sourceAddressPrefix: "pod:app/c2", sourcePortRange: "*",
                   destinationAddressPrefix: "pod:app/c3", destinationPortRange: "80"}
    - name: deny-c2-to-b1-sctp
      properties: {priority: 130, direction: Outbound, access: Deny, protocol: "*",
                   sourceAddressPrefix: "pod:app/c2", sourcePortRange: "*",
                   destinationAddressPrefix: "pod:app/b1", destinationPortRange: "9999"}
"""


def _pod(name: str, node: str, app: str, ports: str, mode: str = "") -> str:
    ann = f", annotations: {{vfpnet.io/mode: {mode}}}" if mode else ""
    return (f"apiVersion: v1\nkind: Pod\nmetadata: {{name: {name}, namespace: app, "
            f"labels: {{app: {app}}}{ann}}}\nspec: {{nodeName: {node}, containers: "
            f"[{{name: c, image: x, ports: [{ports}]}}]}}\n")


PODS = "---\n".join([
    _pod("a1", "lin1", "a", "{containerPort: 80}"),
    _pod("b1", "lin1", "b", "{containerPort: 80}, {containerPort: 53, protocol: UDP}, "
         "{containerPort: 9999, protocol: SCTP}"),
    _pod("a2", "win1", "a", "{containerPort: 80}"),
    _pod("b2", "win1", "b", "{containerPort: 80}, {containerPort: 53, protocol: UDP}, "
         "{containerPort: 9999, protocol: SCTP}"),
    _pod("c2", "win1", "c", "{containerPort: 80}", mode="l2bridge"),
    _pod("c3", "win1", "c", "{containerPort: 80}", mode="l2bridge"),
])
# b takes TCP 80 from a only, UDP 53 from anyone in the namespace, SCTP 9999 from c.
POLICY = """apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: b-ingress, namespace: app}
spec:
  podSelector: {matchLabels: {app: b}}
  ingress:
  - from: [{podSelector: {matchLabels: {app: a}}}]
    ports: [{port: 80}]
  - from: [{podSelector: {}}]
    ports: [{port: 53, protocol: UDP}]
  - from: [{podSelector: {matchLabels: {app: c}}}]
    ports: [{port: 9999, protocol: SCTP}]
"""


def _outcomes(report: lifecycle.ProbeReport) -> dict[str, str]:
    return {r.spec.key: r.expected.outcome for r in report.results}


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path]]:
    tmp = tmp_path_factory.mktemp("lab")
    (tmp / "manifests").mkdir()
    (tmp / "manifests" / "pods.yaml").write_text(PODS)
    (tmp / "manifests" / "policy.yaml").write_text(POLICY)
    (tmp / "cluster.yaml").write_text(CLUSTER)
    root = tmp / "run"
    try:
        lifecycle.up(str(tmp / "cluster.yaml"), root)
        yield tmp, root
    finally:
        lifecycle.down(root)


def test_small_mixed_cluster_probes_agree_on_every_pair(lab: tuple[Path, Path]) -> None:
    _, root = lab
    report = lifecycle.probe(root)
    assert report.disagreements == []
    outcomes = _outcomes(report)
    assert len(report.results) == 6 * 5 + 2 * 5 * 2  # every pod's TCP 80, b's UDP 53 + SCTP
    # The NSG applies to the same-node pair on the Windows-twin node (transparent-tunnel)...
    assert outcomes["app/a2>app/b2:TCP/80"] == "denied-nsg"
    # ...to traffic into a tunnel pod from an l2bridge pod (the host route sends it out) and
    # between HNS networks (via the gateway); not between two l2bridge pods of one network:
    # that stays on the vSwitch.
    assert outcomes["app/c2>app/a2:TCP/80"] == "denied-nsg"
    assert outcomes["app/a2>app/c2:TCP/80"] == "denied-nsg"
    assert outcomes["app/c2>app/c3:TCP/80"] == "allowed"
    assert outcomes["app/a1>app/b1:TCP/80"] == "allowed"
    assert outcomes["app/c2>app/b1:TCP/80"] == "denied-policy"
    assert outcomes["app/c2>app/b2:UDP/53"] == "allowed"
    assert outcomes["app/c2>app/b2:SCTP/9999"] == "allowed"
    assert outcomes["app/c2>app/b1:SCTP/9999"] == "denied-nsg"  # across nodes, Outbound rule
    assert outcomes["app/a1>app/b2:SCTP/9999"] == "denied-policy"
    # Windows-twin pairs carry the VFP model's answer, and it was compared.
    on_win = {p.id for p in report.pods if p.node == "win1"}
    vfp = [r for r in report.results if r.vfp is not None]
    assert len(vfp) == len([r for r in report.results
                            if r.spec.src in on_win or r.spec.dst in on_win]) > 0
    assert json.loads((root / "last-probe.json").read_text())["disagreements"] == 0


def test_policy_change_in_running_lab_is_seen_by_the_next_probe(lab: tuple[Path, Path]) -> None:
    tmp, root = lab
    before = _outcomes(lifecycle.probe(root))
    assert before["app/a1>app/a2:TCP/80"] == "allowed"
    (tmp / "manifests" / "a-policy.yaml").write_text(
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\n"
        "metadata: {name: a-from-c-only, namespace: app}\n"
        "spec: {podSelector: {matchLabels: {app: a}}, ingress: "
        "[{from: [{podSelector: {matchLabels: {app: c}}}]}]}\n")
    try:
        report = lifecycle.probe(root)
        after = _outcomes(report)
        assert report.disagreements == []
        assert after["app/a1>app/a2:TCP/80"] == "denied-policy"
        assert after["app/b1>app/a1:TCP/80"] == "denied-policy"
        assert after["app/c2>app/a1:TCP/80"] == "allowed"
        assert lifecycle.status(root)["phase"] == "up"
    finally:
        (tmp / "manifests" / "a-policy.yaml").unlink()


def test_up_after_killed_up_cleans_it_first(tmp_path: Path) -> None:
    (tmp_path / "manifests").mkdir()
    (tmp_path / "manifests" / "pods.yaml").write_text(PODS)
    (tmp_path / "cluster.yaml").write_text(CLUSTER)
    root = tmp_path / "run"
    env = {**os.environ, "VFPNET_LAB_DIR": str(root)}
    proc = subprocess.Popen([VFPNET, "lab", "up", "-f", str(tmp_path / "cluster.yaml")],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    first = killed_once_built(proc, root, lambda doc: f"{doc['prefix']}-fabric" in netns_list())
    try:
        second = lifecycle.up(str(tmp_path / "cluster.yaml"), root).prefix
        assert [ns for ns in netns_list() if ns.startswith(first + "-")] == []
        assert second != first
    finally:
        lifecycle.down(root)
    assert [ns for ns in netns_list() if ns.startswith(first + "-") or ns.startswith(second)] == []


def test_report_json_counts_pairs(lab: tuple[Path, Path]) -> None:
    _, root = lab
    doc = report_json(lifecycle.probe(root))
    assert doc["pairsProbed"] == 30 and doc["disagreements"] == 0
    assert doc["agreement"] == "agreement: 30 pairs probed, 0 disagreements"
