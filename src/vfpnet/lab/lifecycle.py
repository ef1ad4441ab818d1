"""`lab up`, `lab probe`, `lab status`, `lab down`, step by step.

`up` validates everything before it creates anything, writes the prefix to the run dir,
then builds; any failure tears down what was built. `probe` first converges the running
lab on the manifests as they are now (datastore, NSG, agents, Windows-twin realization),
so a policy edited while the lab runs is what the next probe sees.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vfpnet.errors import InputError
from vfpnet.k8s.load import load_cluster
from vfpnet.lab import topology
from vfpnet.lab.agents import run_agent
from vfpnet.lab.commands import LabError, netns_list
from vfpnet.lab.config import ClusterConfig, load_config
from vfpnet.lab.expect import expect
from vfpnet.lab.fabric_nsg import resolve_pod_refs
from vfpnet.lab.placement import PodSpec, place_pods, write_datastore
from vfpnet.lab.probing import ProbeResult, probe_specs, send_probes
from vfpnet.lab.runstate import LabState, PodRecord, load_state, new_prefix, run_dir, save_state
from vfpnet.lab.runtime import cni_add, hns_namespace, netconf, result_ip, start_responder
from vfpnet.lab.teardown import teardown
from vfpnet.lab.vfp_answer import expected_slice, vfp_answer
from vfpnet.vfp import save_nsg
from vfpnet.vfp.nsg import Nsg, parse_nsg
from vfpnet.vfp.path import NodeSnapshot


@dataclass(frozen=True)
class ProbeReport:
    prefix: str
    pods: tuple[PodRecord, ...]
    results: tuple[ProbeResult, ...]
    windows_nodes: frozenset[str]

    @property
    def disagreements(self) -> list[ProbeResult]:
        return [r for r in self.results if not r.agrees]


def up(config_path: str, root: Path | None = None) -> LabState:
    root = root or run_dir()
    if os.geteuid() != 0:
        raise LabError("lab up: needs root (it creates network namespaces)")
    previous = load_state(root)
    if previous is not None and previous.phase == "up" and topology.fabric_ns(
            previous.prefix) in netns_list():
        raise InputError(f"a lab is already up (prefix {previous.prefix}, run dir {root}): "
                         "run `vfpnet lab down` first")
    teardown(root, previous)  # whatever a crashed `up` or a lost lab left
    config = load_config(config_path)
    _, pods = place_pods(config)
    _nsg(config, {p.id: "192.0.2.1" for p in pods})  # validate before building anything
    state = LabState(prefix=new_prefix(), config=str(Path(config_path).resolve()))
    save_state(root, state)
    try:
        _build(root, config, pods, state)
        converge(root, config, state)
        for pod in state.pods.values():
            spec = next(p for p in pods if p.id == pod.id)
            state.pids.append(start_responder(state.prefix, pod.netns, spec))
        state.phase = "up"
        save_state(root, state)
    except BaseException:
        teardown(root, state)
        raise
    return state


def _build(root: Path, config: ClusterConfig, pods: tuple[PodSpec, ...], state: LabState) -> None:
    prefix = state.prefix
    topology.build_fabric(prefix)
    for node_conf in config.nodes:
        topology.build_node(prefix, config, node_conf)
        (root / "nodes" / node_conf.name).mkdir(parents=True, exist_ok=True)
    for pod in pods:
        node = config.node(pod.node)
        assert node is not None
        netns = topology.pod_ns(prefix, pod.namespace, pod.name)
        topology.add_netns(netns)
        container = f"{prefix}-{pod.namespace}-{pod.name}"
        record = PodRecord(pod.namespace, pod.name, pod.node, pod.mode, netns, container)
        state.pods[pod.id] = record
        save_state(root, state)
        sandbox = f"/var/run/netns/{netns}"
        if node.os == "windows":
            # The pod's namespace is made physical by the node's realization, from HNS.
            sandbox = hns_namespace(root / "nodes" / node.name / "hns.db")
        result = cni_add(prefix, netconf(prefix, root, config, node, pod.mode), container,
                         sandbox, pod)
        record.ip = result_ip(result, pod)
    save_state(root, state)


def _nsg(config: ClusterConfig, addresses: dict[str, str]) -> Nsg:
    doc = resolve_pod_refs(config.nsg, addresses, config.source)
    if isinstance(doc, dict) and "virtualNetwork" not in doc:
        doc = {**doc, "virtualNetwork": [str(config.vnet)]}
    return parse_nsg(doc, f"{config.source}: nsg")


def converge(root: Path, config: ClusterConfig, state: LabState) -> dict[str, NodeSnapshot]:
    """Bring the running lab to the manifests and NSG as they are now."""
    from vfpnet.lab import windows_node

    addresses = {k: p.ip for k, p in state.pods.items()}
    write_datastore(config, addresses, root / "datastore")
    nsg = _nsg(config, addresses)
    topology.apply_nsg(state.prefix, nsg, str(config.vnet))
    snapshots: dict[str, NodeSnapshot] = {}
    for node in config.nodes:
        if node.os == "windows":
            save_nsg(str(windows_node.state_file(root, node.name)), nsg)
        run_agent(state.prefix, root, node)
        if node.os == "windows":
            on_node = [p for p in state.pods.values() if p.node == node.name]
            snapshots[node.name] = windows_node.realize(state.prefix, root, config, node,
                                                        on_node)
    save_state(root, state)
    return snapshots


def running_state(root: Path) -> LabState:
    state = load_state(root)
    if state is None or state.phase != "up":
        raise InputError(f"no lab is up (run dir {root}): run `vfpnet lab up -f CLUSTER.yaml`")
    return state


def probe(root: Path | None = None) -> ProbeReport:
    root = root or run_dir()
    state = running_state(root)
    config = load_config(state.config)
    _, pods = place_pods(config)
    if sorted(p.id for p in pods) != sorted(state.pods):
        raise InputError(f"{config.manifests}: the set of Pods changed while the lab runs "
                         "(policies may change; pods need `lab down` and `lab up`)")
    snapshots = converge(root, config, state)
    cluster = load_cluster([str(root / "datastore")])
    workloads = {w.id: w for w in cluster.workloads}
    nsg = _nsg(config, {k: p.ip for k, p in state.pods.items()})
    windows = frozenset(n.name for n in config.nodes if n.os == "windows")
    ports: dict[str, list[tuple[str, int]]] = {
        p.id: [(cp.protocol, cp.port) for cp in p.ports] for p in pods
    }
    specs = probe_specs(state.pods, ports)
    observed = send_probes(state.pods, specs)
    results = []
    for spec in specs:
        exp = expect(cluster, state.pods, workloads, nsg, str(config.vnet), windows, spec)
        src, dst = state.pods[spec.src], state.pods[spec.dst]
        answer = vfp_answer(snapshots, src, dst, spec)
        slice_ = expected_slice(exp, src, dst, windows) if answer is not None else None
        results.append(ProbeResult(spec, exp, observed[spec.key], answer, slice_))
    report = ProbeReport(state.prefix, tuple(state.pods[k] for k in sorted(state.pods)),
                         tuple(results), windows)
    from vfpnet.lab.report import report_json

    (root / "last-probe.json").write_text(json.dumps(report_json(report)), encoding="utf-8")
    return report


def status(root: Path | None = None) -> dict[str, Any]:
    root = root or run_dir()
    state = load_state(root)
    if state is None:
        return {"run_dir": str(root), "phase": "down"}
    alive = [ns for ns in netns_list() if ns.startswith(state.prefix + "-")]
    return {
        "run_dir": str(root),
        "prefix": state.prefix,
        "phase": state.phase if alive else f"{state.phase} (no namespaces left)",
        "config": state.config,
        "namespaces": len(alive),
        "pods": [{"pod": p.id, "node": p.node, "mode": p.mode, "ip": p.ip}
                 for p in sorted(state.pods.values(), key=lambda p: (p.node, p.id))],
    }


def down(root: Path | None = None) -> list[str]:
    root = root or run_dir()
    return teardown(root)


__all__ = ["LabError", "ProbeReport", "down", "probe", "status", "up"]
