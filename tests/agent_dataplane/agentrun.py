"""Running the agent as a user would (`vfpnet agent ... --once`) on a test's files."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from cases import Step

VFPNET = str(Path(sys.executable).with_name("vfpnet"))


def write_manifests(directory: Path, step: Step) -> None:
    """The step's manifests, and only those, in the files datastore's directory."""
    if directory.exists():
        shutil.rmtree(directory)
    directory.mkdir(parents=True)
    for index, path in enumerate(step.manifest_files()):
        shutil.copy(path, directory / f"{index:03d}-{path.name}")


def write_cni_state(state_dir: Path, pods: dict[str, str], network: str = "podnet") -> None:
    """Records as the CNI plugin leaves them after ADD (one per pod `NS/NAME` -> IP)."""
    endpoints = state_dir / network / "endpoints"
    endpoints.mkdir(parents=True, exist_ok=True)
    for pod_id, ip in pods.items():
        namespace, name = pod_id.split("/")
        container = f"c{namespace}{name}"
        record = {
            "containerID": container, "ifname": "eth0", "status": "ready",
            "mode": "l2bridge", "ips": [f"{ip}/15"],
            "podNamespace": namespace, "podName": name,
        }
        (endpoints / f"{container}:eth0.json").write_text(json.dumps(record))


def run_agent(
    netns: str | None, *args: str, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    prefix = ["ip", "netns", "exec", netns] if netns else []
    return subprocess.run(
        [*prefix, VFPNET, "agent", *args], capture_output=True, text=True, check=False,
        timeout=timeout, env={**os.environ, **(env or {})},
    )
