"""The running agent over time, proven by packets on real namespaces (nftables).

The agent runs as a daemon (`vfpnet agent` without --once) inside a node namespace with
the files datastore; probes are real TCP connections between pod namespaces.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from agent_dataplane.agentrun import VFPNET, write_cni_state
from agent_dataplane.podnet import Node, node_with_pods, probe_all, sh
from cases import case_steps, step_id

pytestmark = [
    pytest.mark.net,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root for network namespaces"),
]

CASE = {step_id(c, s): s for c, s in case_steps(suite="e2e")}
BEFORE = CASE["e2e/ingress-from-updated-pod:before-label"]
CASE_DIR = BEFORE.manifests[1].parent
BASE = CASE_DIR.parent / "_base"
DENIED = ("x/b", "x/a", "TCP", 80)  # until x/b gets the label the policy asks for
ALLOWED = ("y/a", "x/b", "TCP", 80)


class Daemon:
    def __init__(self, node: Node, work: Path, datastore: Path) -> None:
        self.work = work
        self.log = open(work / "agent.log", "ab")  # noqa: SIM115 (closed in stop)
        self.proc = subprocess.Popen(
            ["ip", "netns", "exec", node.netns, VFPNET, "agent", "--datastore",
             f"files:{datastore}", "--dataplane", "nftables", "--node", "node1",
             "--cni-state-dir", str(work / "cni"), "--run-dir", str(work / "run"),
             "--resync-seconds", "1"],
            stdout=self.log, stderr=self.log,
        )

    def status(self) -> dict[str, object]:
        try:
            data: dict[str, object] = json.loads((self.work / "run" / "status.json").read_text())
            return data
        except (FileNotFoundError, json.JSONDecodeError):
            return {}

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def wait_for(what: str, check: Callable[[], bool], timeout: float = 15) -> float:
    start = time.monotonic()
    while not check():
        if time.monotonic() - start > timeout:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)
    return time.monotonic() - start


@pytest.fixture
def node(tmp_path: Path) -> Iterator[tuple[Node, Path]]:
    pods = {pod.id: pod.ips[0] for pod in BEFORE.pods().values()}
    write_cni_state(tmp_path / "cni", pods)
    with node_with_pods(pods) as n:
        yield n, tmp_path


def _datastore(directory: Path) -> Path:
    directory.mkdir(parents=True)
    shutil.copy(BASE / "namespaces.yaml", directory / "namespaces.yaml")
    shutil.copy(BASE / "pods.yaml", directory / "pods.yaml")
    shutil.copy(CASE_DIR / "policy.yaml", directory / "policy.yaml")
    return directory


def _verdict(n: Node, flow: tuple[str, str, str, int]) -> bool:
    return probe_all(n, [flow], timeout=0.2)[flow]


def _synced(daemon: Daemon) -> bool:
    return daemon.status().get("state") == "running"


def test_label_change_reaches_the_dataplane_and_flips_the_verdict(
    node: tuple[Node, Path],
) -> None:
    n, work = node
    store = _datastore(work / "m")
    daemon = Daemon(n, work, store)
    try:
        wait_for("first sync", lambda: _synced(daemon))
        assert not _verdict(n, DENIED) and _verdict(n, ALLOWED)
        tmp = store / ".pods.tmp"
        shutil.copy(CASE_DIR / "pods-x-b-updated.yaml", tmp)
        os.replace(tmp, store / "pods.yaml")
        took = wait_for("x/b -> x/a to open", lambda: _verdict(n, DENIED))
        print(f"label change to packets: {took * 1000:.0f} ms")
        assert not _verdict(n, ("y/a", "x/a", "TCP", 80))
    finally:
        daemon.stop()


def test_resync_timer_restores_a_rule_deleted_by_hand(node: tuple[Node, Path]) -> None:
    n, work = node
    daemon = Daemon(n, work, _datastore(work / "m"))
    try:
        wait_for("first sync", lambda: _synced(daemon))
        listing = sh("ip", "netns", "exec", n.netns, "nft", "-a", "list", "table", "inet",
                     "vfpnet")
        chain = ""
        for line in listing.splitlines():
            words = line.split()
            if words[:1] == ["chain"]:
                chain = words[1]
            if "drop" in line and chain.startswith("i-"):
                handle = line.rsplit("# handle ", 1)[1].strip()
                sh("ip", "netns", "exec", n.netns, "nft", "delete", "rule", "inet", "vfpnet",
                   chain, "handle", handle)
                break
        n.flush_conntrack()
        wait_for("the deleted deny to come back", lambda: not _verdict(n, DENIED))
    finally:
        daemon.stop()


def test_restart_and_slow_datastore_never_open_a_denied_flow(node: tuple[Node, Path]) -> None:
    n, work = node
    store = _datastore(work / "m")
    first = Daemon(n, work, store)
    leaks: list[float] = []
    stop = threading.Event()

    def keep_probing() -> None:
        while not stop.is_set():
            if _verdict(n, DENIED):
                leaks.append(time.monotonic())

    try:
        wait_for("first sync", lambda: _synced(first))
        prober = threading.Thread(target=keep_probing, daemon=True)
        prober.start()
        first.stop()
        # Restarted while the datastore does not answer yet (its directory is missing):
        # the table stays as the last agent left it.
        later = work / "later"
        second = Daemon(n, work, later)
        try:
            wait_for("the agent to wait", lambda: "waiting" in str(second.status().get("state")))
            time.sleep(1.0)
            staged = _datastore(work / "staged")
            os.rename(staged, later)
            wait_for("the second agent's sync", lambda: _synced(second))
            time.sleep(0.5)
        finally:
            stop.set()
            prober.join(timeout=5)
            second.stop()
        assert not leaks, f"{len(leaks)} denied connections got through during the restart"
        assert _verdict(n, ALLOWED)
    finally:
        first.stop()
