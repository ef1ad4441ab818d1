"""The run dir of a lab and the record of what it created.

Layout of the run dir (`VFPNET_LAB_DIR`, default /run/vfpnet-lab):

    state.json              prefix, CLUSTER.yaml path, phase, pods and their addresses, pids
    datastore/              the manifests as the agents read them (Pods with status.podIP)
    nodes/NODE/cni/         the CNI's state dir of that node (netconf stateDir)
    nodes/NODE/ipam/        host-local's data dir
    nodes/NODE/hns.db       a Windows-twin node's HNS emulator state (and its NSG)
    nodes/NODE/*.log        agent and CNI output of the last run
    last-probe.json         the last probe's results

The prefix (`vl` + 6 hex digits) starts the name of every namespace, link, nftables table
and process marker the lab makes; it is written to state.json before anything is created,
so whatever a crashed `up` left can be found and removed.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_RUN_DIR = "/run/vfpnet-lab"
RUN_DIR_ENV = "VFPNET_LAB_DIR"


def run_dir() -> Path:
    return Path(os.environ.get(RUN_DIR_ENV) or DEFAULT_RUN_DIR)


def new_prefix() -> str:
    return "vl" + secrets.token_hex(3)


@dataclass
class PodRecord:
    namespace: str
    name: str
    node: str
    mode: str
    netns: str
    container: str
    ip: str = ""
    endpoint: str = ""  # the HNS endpoint id on a Windows-twin node

    @property
    def id(self) -> str:
        return f"{self.namespace}/{self.name}"


@dataclass
class LabState:
    prefix: str
    config: str
    phase: str = "building"  # building -> up
    pods: dict[str, PodRecord] = field(default_factory=dict)
    pids: list[int] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "prefix": self.prefix,
            "config": self.config,
            "phase": self.phase,
            "pods": {k: vars(v) for k, v in self.pods.items()},
            "pids": self.pids,
        }

    @staticmethod
    def from_json(doc: dict[str, Any]) -> LabState:
        return LabState(
            prefix=str(doc["prefix"]),
            config=str(doc["config"]),
            phase=str(doc.get("phase", "building")),
            pods={k: PodRecord(**v) for k, v in (doc.get("pods") or {}).items()},
            pids=[int(p) for p in doc.get("pids") or []],
        )


def state_path(root: Path) -> Path:
    return root / "state.json"


def save_state(root: Path, state: LabState) -> None:
    root.mkdir(parents=True, exist_ok=True)
    tmp = root / "state.json.tmp"
    tmp.write_text(json.dumps(state.to_json(), indent=1), encoding="utf-8")
    tmp.rename(state_path(root))


def load_state(root: Path) -> LabState | None:
    path = state_path(root)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        return LabState.from_json(doc)
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError):
        # A state file torn by a crash: its prefix may still be readable.
        try:
            text = path.read_text(encoding="utf-8")
            start = text.index('"prefix": "') + len('"prefix": "')
            return LabState(prefix=text[start:start + 8], config="")
        except (OSError, ValueError):
            return None
