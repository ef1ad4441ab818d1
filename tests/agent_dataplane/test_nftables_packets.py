"""The nftables dataplane proven by packets: every e2e case on real namespaces.

One node namespace (a bridge) and nine pod namespaces (x, y, z / a, b, c) serve TCP and
UDP on 80 and 81 for the whole module. For each case step the agent runs as a user runs
it (`vfpnet agent --datastore files:DIR --dataplane nftables --once` inside the node
namespace); then every expectation of the step is probed with a real connection from
inside the source pod (TCP connect, UDP echo, SCTP: a crafted INIT over a raw socket,
since this kernel has no SCTP sockets; see `sctp_raw`), and the observed verdicts must
equal the case's truth table and `vfpnet reach`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent_dataplane.agentrun import run_agent, write_cni_state, write_manifests
from agent_dataplane.podnet import Node, node_with_pods, probe_all
from cases import Step, case_steps, step_id
from vfpnet.agent.daemon import Agent, AgentConfig, open_datastore
from vfpnet.agent.endpoints import CniStateEndpoints
from vfpnet.agent.nft_runner import LibNft
from vfpnet.agent.nftables_driver import NftablesDriver
from vfpnet.analysis.reach import reach
from vfpnet.k8s.load import load_cluster

pytestmark = [
    pytest.mark.net,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root for network namespaces"),
]

E2E = [pytest.param(s, id=step_id(c, s)) for c, s in case_steps(suite="e2e")]
TIERS = [
    pytest.param(s, id=step_id(c, s))
    for suite in ("anp", "cnp") for c, s in case_steps(suite=suite)
]


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Node, Path]]:
    first = next(s for _, s in case_steps(suite="e2e"))
    pods = {pod.id: pod.ips[0] for pod in first.pods().values()}
    work = tmp_path_factory.mktemp("nftnode")
    write_cni_state(work / "cni", pods)
    with node_with_pods(pods) as n:
        yield n, work


@pytest.fixture(scope="module")
def houses(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Node, Path]]:
    pods: dict[str, str] = {}
    for param in TIERS:
        step = param.values[0]
        assert isinstance(step, Step)
        pods.update((pod.id, pod.ips[0]) for pod in step.pods().values())
    work = tmp_path_factory.mktemp("housesnode")
    write_cni_state(work / "cni", pods)
    with node_with_pods(pods, ports=(53, 80, 5353, 8080)) as n:
        yield n, work


def _check(n: Node, step: Step) -> None:
    n.flush_conntrack()
    expected = {(e.src, e.dst, e.protocol, e.port): e.allowed for e in step.expectations}
    observed = probe_all(n, list(expected))
    wrong = [f"{f} expected {expected[f]} observed {observed[f]}"
             for f in expected if observed[f] != expected[f]]
    assert not wrong, "\n".join(wrong)
    by_reach = reach_allows(step)
    assert {f: by_reach[f] for f in expected} == observed


def reach_allows(step: Step) -> dict[tuple[str, str, str, int], bool]:
    result = reach(load_cluster([str(p) for p in step.manifests]))
    ports = {(c.src, c.dst): c.allowed for c in result.connections}
    out = {}
    for e in step.expectations:
        allowed = ports.get((e.src, e.dst))
        out[(e.src, e.dst, e.protocol, e.port)] = bool(
            allowed and allowed.contains(e.protocol, e.port)
        )
    return out


@pytest.mark.parametrize("step", E2E)
def test_e2e_case_matrix_holds_on_nftables(step: Step, node: tuple[Node, Path]) -> None:
    n, work = node
    write_manifests(work / "manifests", step)
    done = run_agent(
        n.netns, "--datastore", f"files:{work / 'manifests'}", "--dataplane", "nftables",
        "--node", "node1", "--once", "--cni-state-dir", str(work / "cni"),
        "--run-dir", str(work / "run"),
    )
    assert done.returncode == 0, done.stderr
    _check(n, step)


@pytest.mark.parametrize("step", TIERS)
def test_tier_case_holds_on_nftables(step: Step, houses: tuple[Node, Path]) -> None:
    """Admin/Baseline tiers, Pass, priorities (ANP/BANP, CNP) by packets; the agent runs
    in-process here (the same code as the CLI's, without a process start per step)."""
    n, work = houses
    write_manifests(work / "manifests", step)
    config = AgentConfig(
        datastore=f"files:{work / 'manifests'}", dataplane="nftables", node="node1",
        once=True, run_dir=str(work / "run"), cni_state_dir=str(work / "cni"),
    )
    agent = Agent(
        config, open_datastore(config.datastore), NftablesDriver(LibNft(n.netns)),
        CniStateEndpoints(config.cni_state_dir),
    )
    assert agent.run() == 0
    _check(n, step)
