"""Running the policy agent on a node, as a node's service manager would.

`vfpnet agent --datastore files:DIR --dataplane nftables|hns --node NAME --once` inside
the node's namespace, with the node's CNI state dir (where the CNI recorded each pod's
K8S_POD_NAMESPACE/K8S_POD_NAME), its own run dir (status file) and, on a Windows-twin
node, its HNS emulator state (`--hns-state`).
The lab never computes a rule itself.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from vfpnet.lab.commands import LabError, in_ns
from vfpnet.lab.config import NodeConfig
from vfpnet.lab.runtime import node_dir
from vfpnet.lab.topology import node_ns

AGENT_ENV = "VFPNET_LAB_AGENT"  # the agent executable; default: `vfpnet` beside this Python


def agent_executable() -> str:
    return os.environ.get(AGENT_ENV) or str(Path(sys.executable).with_name("vfpnet"))


def run_agent(prefix: str, root: Path, node: NodeConfig) -> None:
    """One reconciliation pass of the node's agent; LabError with its message on failure."""
    ndir = node_dir(root, node.name)
    dataplane = "hns" if node.os == "windows" else "nftables"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CNI_", "VFPNET_"))}
    args = ["--datastore", f"files:{root / 'datastore'}", "--dataplane", dataplane,
            "--node", node.name, "--once", "--run-dir", str(ndir / "agent"),
            "--cni-state-dir", str(ndir / "cni")]
    if node.os == "windows":
        args += ["--hns-state", str(ndir / "hns.db")]
    res = in_ns(node_ns(prefix, node.name), agent_executable(), "agent", *args, env=env,
                check=False, timeout=120)
    (ndir / "agent.log").write_text(res.stdout + res.stderr, encoding="utf-8")
    if res.returncode != 0:
        lines = (res.stderr or res.stdout).strip().splitlines()
        raise LabError(f"node {node.name}: agent ({dataplane}) failed: "
                       f"{lines[-1] if lines else 'exit ' + str(res.returncode)}")
