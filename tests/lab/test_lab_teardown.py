"""A lab that fails or is killed while it is built leaves nothing once it is cleaned.

These use a Linux-only cluster and need only the CNI (the agent never runs before the
kill or the failure).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import needs_root

from vfpnet.lab import lifecycle
from vfpnet.lab.commands import LabError, netns_list
from vfpnet.lab.teardown import lab_processes

pytestmark = [needs_root, pytest.mark.net]
VFPNET = str(Path(sys.executable).with_name("vfpnet"))

CLUSTER = """
vnet: 10.250.0.0/16
manifests: manifests
nodes:
  - {name: lin1, os: linux, mode: transparent-tunnel}
  - {name: lin2, os: linux, mode: l2bridge}
"""


def _pods(count: int) -> str:
    return "---\n".join(
        f"apiVersion: v1\nkind: Pod\nmetadata: {{name: p{i}, namespace: t}}\n"
        f"spec: {{nodeName: lin{1 + i % 2}, containers: [{{name: c, image: x, ports: "
        f"[{{containerPort: 80}}]}}]}}\n" for i in range(count))


def _cluster(tmp: Path, pods: int = 8) -> Path:
    (tmp / "manifests").mkdir()
    (tmp / "manifests" / "pods.yaml").write_text(_pods(pods))
    (tmp / "cluster.yaml").write_text(CLUSTER)
    return tmp / "cluster.yaml"


def killed_once_built(proc: subprocess.Popen[bytes], root: Path,
                       built: Callable[[dict[str, Any]], bool]) -> str:
    """SIGKILL `lab up` (and its children) once `built(state)` holds; the lab's prefix."""
    deadline = time.monotonic() + 30
    prefix = ""
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            doc = json.loads((root / "state.json").read_text())
        except (OSError, ValueError):
            time.sleep(0.005)
            continue
        prefix = doc["prefix"]
        if built(doc):
            break
        time.sleep(0.005)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert prefix, "up never wrote its state"
    return prefix


def test_down_after_killed_up_leaves_nothing(tmp_path: Path) -> None:
    cluster = _cluster(tmp_path)
    root = tmp_path / "run"
    env = {**os.environ, "VFPNET_LAB_DIR": str(root)}
    proc = subprocess.Popen([VFPNET, "lab", "up", "-f", str(cluster)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    # Killed once it has built part of the lab: some pods wired, the rest not.
    prefix = killed_once_built(proc, root, lambda doc: len(doc["pods"]) >= 3)
    assert any(ns.startswith(prefix + "-") for ns in netns_list())  # it did leave things
    res = subprocess.run([VFPNET, "lab", "down"], env=env, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert [ns for ns in netns_list() if ns.startswith(prefix + "-")] == []
    assert lab_processes(prefix) == []
    assert not root.exists()


def test_failed_up_removes_what_it_built_and_names_the_pod(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cluster = _cluster(tmp_path, pods=3)
    root = tmp_path / "run"
    monkeypatch.setenv("VFPNET_LAB_CNI", "/bin/false")  # every CNI ADD fails
    before = set(netns_list())
    with pytest.raises(LabError, match=r"pod t/p0: CNI ADD on node lin1 .* failed"):
        lifecycle.up(str(cluster), root)
    # (other test suites on this machine may add namespaces of their own meanwhile)
    assert {ns for ns in set(netns_list()) - before if ns.startswith("vl")} == set()
    assert not root.exists()
