"""CLUSTER.yaml and the manifests it names: every bad input is one line naming file, object
and field, and is refused before the lab creates anything."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from vfpnet.errors import InputError
from vfpnet.lab.config import load_config
from vfpnet.lab.placement import place_pods

POD = """apiVersion: v1
kind: Pod
metadata: {{name: {name}, namespace: ns{annotations}}}
spec: {{nodeName: {node}, containers: [{{name: c, image: x, ports: [{{containerPort: 80}}]}}]}}
"""


def _write(tmp: Path, cluster: str, pods: str = "") -> Path:
    (tmp / "m").mkdir(exist_ok=True)
    (tmp / "m" / "pods.yaml").write_text(pods or POD.format(name="a", node="n1", annotations=""))
    path = tmp / "cluster.yaml"
    path.write_text(cluster)
    return path


GOOD = ("vnet: 10.250.0.0/16\nmanifests: m\n"
        "nodes: [{name: n1, os: linux}, {name: w1, os: windows, mode: l2bridge}]\n")


def test_valid_cluster_gives_nodes_with_their_subnets_and_uplinks(tmp_path: Path) -> None:
    config = load_config(str(_write(tmp_path, GOOD)))
    n1, w1 = config.nodes
    assert (n1.os, n1.mode, w1.os, w1.mode) == ("linux", "transparent-tunnel", "windows",
                                                "l2bridge")
    assert str(n1.subnet(config.vnet)) == "10.250.10.0/24"
    assert str(w1.subnet(config.vnet)) == "10.250.11.0/24"
    assert w1.uplink(config.vnet) == ("10.250.0.5", "10.250.0.6")


@pytest.mark.parametrize(("cluster", "message"), [
    ("vnet: 10.250.0.0/16\nnodes: [{name: n1, os: linux}]\n", "field 'manifests': required"),
    ("vnet: 10.250.0.0/33\nmanifests: m\nnodes: [{name: n1, os: linux}]\n",
     "field 'vnet': '10.250.0.0/33' is not"),
    ("vnet: 8.8.0.0/16\nmanifests: m\nnodes: [{name: n1, os: linux}]\n",
     "field 'vnet': 8.8.0.0/16 is not a private range"),
    ("vnet: 10.250.0.0/24\nmanifests: m\nnodes: [{name: n1, os: linux}]\n",
     "smaller than a /16"),
    ("vnet: 10.250.0.0/16\nmanifests: nowhere\nnodes: [{name: n1, os: linux}]\n",
     "field 'manifests': nowhere does not exist"),
    ("vnet: 10.250.0.0/16\nmanifests: m\nnodes: []\n", "field 'nodes': required"),
    ("vnet: 10.250.0.0/16\nmanifests: m\nnodes: [{name: n1, os: macos}]\n",
     "node 'n1': field 'os': 'macos' is not linux or windows"),
    ("vnet: 10.250.0.0/16\nmanifests: m\nnodes: [{name: n1, os: linux, mode: overlay}]\n",
     "node 'n1': field 'mode': 'overlay' is not one of"),
    ("vnet: 10.250.0.0/16\nmanifests: m\nnodes: [{name: N_1, os: linux}]\n",
     "nodes[0]: field 'name': 'N_1' is not a node name"),
    ("vnet: 10.250.0.0/16\nmanifests: m\nnodes: [{name: n1, os: linux}, {name: n1, os: linux}]\n",
     "node 'n1': field 'name': duplicate"),
    ("vnet: 10.250.0.0/16\nmanifests: m\nnodes: [{name: n1, os: linux, cpu: 2}]\n",
     "nodes[0]: field 'cpu': unknown"),
    ("vnet: 10.250.0.0/16\nmanifests: m\nnodes: [{name: n1, os: linux}]\nextra: 1\n",
     "field 'extra': unknown"),
    ("vnet: [\n", "invalid YAML at line"),
])
def test_bad_cluster_yaml_names_the_field(tmp_path: Path, cluster: str, message: str) -> None:
    path = _write(tmp_path, cluster)
    with pytest.raises(InputError, match=None) as err:
        load_config(str(path))
    assert message in str(err.value)
    assert str(path) in str(err.value)


@pytest.mark.parametrize(("pods", "message"), [
    (POD.format(name="a", node="n9", annotations=""),
     "Pod ns/a: field 'spec.nodeName': 'n9' is not a node of"),
    (POD.format(name="a", node="n1", annotations=", annotations: {vfpnet.io/mode: vxlan}"),
     "field 'metadata.annotations[vfpnet.io/mode]': 'vxlan' is not one of"),
    ("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d, namespace: ns}\n"
     "spec: {selector: {matchLabels: {a: b}}, template: {metadata: {labels: {a: b}}, "
     "spec: {containers: [{name: c, image: x}]}}}\n",
     "Deployment ns/d: field 'kind': the lab runs Pods only"),
    ("apiVersion: v1\nkind: Pod\nmetadata: {name: a, namespace: ns}\n"
     "spec: {containers: [{name: c, image: x}]}\n", "Pod ns/a: field 'spec.nodeName': required"),
    ("apiVersion: v1\nkind: Pod\nmetadata: {name: a, namespace: ns}\n"
     "spec: {nodeName: n1, hostNetwork: true, containers: [{name: c, image: x}]}\n",
     "field 'spec.hostNetwork'"),
])
def test_bad_pod_placement_names_file_object_and_field(tmp_path: Path, pods: str,
                                                       message: str) -> None:
    config = load_config(str(_write(tmp_path, GOOD, pods)))
    with pytest.raises(InputError) as err:
        place_pods(config)
    assert message in str(err.value)
    assert "pods.yaml" in str(err.value)


def test_mode_annotation_overrides_the_node_mode(tmp_path: Path) -> None:
    pods = (POD.format(name="a", node="w1", annotations="") + "---\n"
            + POD.format(name="b", node="w1",
                         annotations=", annotations: {vfpnet.io/mode: transparent-tunnel}"))
    _, placed = place_pods(load_config(str(_write(tmp_path, GOOD, pods))))
    assert {p.name: p.mode for p in placed} == {"a": "l2bridge", "b": "transparent-tunnel"}


def test_cli_up_with_bad_nsg_exits_2_with_one_line_and_creates_nothing(tmp_path: Path) -> None:
    cluster = GOOD + ("nsg: {securityRules: [{name: r, properties: {priority: 100, direction: "
                      "Inbound, access: Deny, protocol: Tcp, sourceAddressPrefix: 'pod:ns/zz', "
                      "destinationAddressPrefix: '*'}}]}\n")
    path = _write(tmp_path, cluster)
    run_dir = tmp_path / "run"
    res = subprocess.run([str(Path(sys.executable).with_name("vfpnet")), "lab", "up", "-f",
                          str(path)], capture_output=True, text=True,
                         env={"VFPNET_LAB_DIR": str(run_dir), "PATH": "/usr/sbin:/usr/bin"})
    assert res.returncode == 2
    assert res.stdout == ""
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and "'pod:ns/zz' names no pod" in lines[0] and str(path) in lines[0]
    assert not (run_dir / "state.json").exists()


def test_cli_probe_without_a_lab_exits_2(tmp_path: Path) -> None:
    res = subprocess.run([str(Path(sys.executable).with_name("vfpnet")), "lab", "probe"],
                         capture_output=True, text=True,
                         env={"VFPNET_LAB_DIR": str(tmp_path), "PATH": "/usr/sbin:/usr/bin"})
    assert res.returncode == 2 and "no lab is up" in res.stderr
