"""Which pods the lab runs, where, in which CNI mode; and the datastore the agents read.

The lab plays the API server and kubelet: pods come from the manifests (kind Pod, with
`spec.nodeName` naming a node of CLUSTER.yaml), and once the CNI has given a pod its
address the lab writes the manifests again into the datastore directory with
`status.podIP`/`status.podIPs` filled in, which is what the agents and the expectation
read.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vfpnet.errors import InputError
from vfpnet.k8s.load import load_cluster
from vfpnet.k8s.model import Cluster, ContainerPort
from vfpnet.lab.config import MODE_ANNOTATION, MODES, ClusterConfig

SUFFIXES = (".yaml", ".yml", ".json")


@dataclass(frozen=True)
class PodSpec:
    namespace: str
    name: str
    node: str
    mode: str
    ports: tuple[ContainerPort, ...]

    @property
    def id(self) -> str:
        return f"{self.namespace}/{self.name}"


def manifest_files(root: Path) -> list[Path]:
    if root.is_file():
        return [root]
    return sorted(p for p in root.rglob("*") if p.suffix in SUFFIXES and p.is_file()
                  and not any(part.startswith(".") for part in p.relative_to(root).parts))


def place_pods(config: ClusterConfig) -> tuple[Cluster, tuple[PodSpec, ...]]:
    """The manifests' model and the lab's pods; InputError names file, object and field."""
    cluster = load_cluster([str(config.manifests)])
    modes = _mode_annotations(config.manifests)
    pods: list[PodSpec] = []
    for wl in cluster.workloads:
        where = f"{wl.source or config.manifests}: {wl.kind} {wl.id}"
        if wl.kind != "Pod":
            raise InputError(f"{where}: field 'kind': the lab runs Pods only (place each pod "
                             "on a node with spec.nodeName)")
        if wl.host_network:
            raise InputError(f"{where}: field 'spec.hostNetwork': the lab runs pod-network "
                             "pods only")
        if not wl.node_name:
            raise InputError(f"{where}: field 'spec.nodeName': required (one of "
                             f"{', '.join(n.name for n in config.nodes)})")
        node = config.node(wl.node_name)
        if node is None:
            raise InputError(f"{where}: field 'spec.nodeName': {wl.node_name!r} is not a node "
                             f"of {config.source}")
        mode = modes.get(wl.id, node.mode)
        if mode not in MODES:
            raise InputError(f"{where}: field 'metadata.annotations[{MODE_ANNOTATION}]': "
                             f"{mode!r} is not one of {', '.join(MODES)}")
        pods.append(PodSpec(wl.namespace, wl.name, node.name, mode, wl.ports))
    if not pods:
        raise InputError(f"{config.manifests}: no Pods to run")
    return cluster, tuple(pods)


def write_datastore(config: ClusterConfig, addresses: Mapping[str, str], out: Path) -> None:
    """The manifests as the API server would serve them: Pods with their addresses.

    Written to a temporary name and renamed, file by file, so an agent never reads half."""
    out.mkdir(parents=True, exist_ok=True)
    root = config.manifests if config.manifests.is_dir() else config.manifests.parent
    written: set[Path] = set()
    for path in manifest_files(config.manifests):
        docs = [_with_status(doc, addresses) for doc in _documents(path)]
        # Named for the source file, so an edit replaces its own copy and nothing else.
        target = out / (str(path.relative_to(root)).replace("/", "__") + ".json")
        tmp = target.with_suffix(".tmp")
        tmp.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": docs}),
                       encoding="utf-8")
        tmp.rename(target)
        written.add(target)
    for stale in out.glob("*.json"):
        if stale not in written:  # a manifest file deleted while the lab runs
            stale.unlink()


def _documents(path: Path) -> Iterator[dict[str, Any]]:
    import yaml

    try:
        loaded = list(yaml.safe_load_all(path.read_text(encoding="utf-8")))
    except (OSError, yaml.YAMLError) as exc:
        raise InputError(f"{path}: cannot read: {exc}") from None
    for doc in loaded:
        if not isinstance(doc, dict):
            continue
        kind = str(doc.get("kind", ""))
        if kind.endswith("List") and isinstance(doc.get("items"), list):
            yield from (d for d in doc["items"] if isinstance(d, dict))
        else:
            yield doc


def _with_status(doc: dict[str, Any], addresses: Mapping[str, str]) -> dict[str, Any]:
    if doc.get("kind") != "Pod":
        return doc
    meta = doc.get("metadata") or {}
    pod_id = f"{meta.get('namespace') or 'default'}/{meta.get('name')}"
    ip = addresses.get(pod_id)
    if ip is None:
        return doc
    status = dict(doc.get("status") or {})
    status.update({"phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}]})
    return {**doc, "status": status}


def _mode_annotations(root: Path) -> dict[str, str]:
    modes: dict[str, str] = {}
    for path in manifest_files(root):
        for doc in _documents(path):
            if doc.get("kind") != "Pod":
                continue
            meta = doc.get("metadata") or {}
            annotations = meta.get("annotations") or {}
            if isinstance(annotations, dict) and MODE_ANNOTATION in annotations:
                pod_id = f"{meta.get('namespace') or 'default'}/{meta.get('name')}"
                modes[pod_id] = str(annotations[MODE_ANNOTATION])
    return modes
