"""The nftables driver on a real kernel: atomic batches, deltas, drift repair, our table only."""

from __future__ import annotations

import copy
import os
import secrets
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest

from agent_dataplane.casesetup import endpoints_of, snapshot_of
from cases import Step, case_steps, step_id
from vfpnet.agent.calc import Calculator
from vfpnet.agent.datastore.events import EventType, ObjectEvent
from vfpnet.agent.datastore.kinds import ObjectKey
from vfpnet.agent.driver import DataplaneError
from vfpnet.agent.nft_runner import LibNft
from vfpnet.agent.nftables_driver import NftablesDriver, _actual, _expected
from vfpnet.agent.render_nftables import render_endpoint

pytestmark = [
    pytest.mark.net,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root for network namespaces"),
]

STEPS = {step_id(c, s): s for c, s in case_steps(suite="e2e")}


class CountingRunner(LibNft):
    def __init__(self, netns: str) -> None:
        super().__init__(netns)
        self.writes = 0

    def run(self, commands: list[dict[str, Any]]) -> Any:
        if any("list" not in c for c in commands):
            self.writes += 1
        return super().run(commands)


@pytest.fixture
def netns() -> Iterator[str]:
    name = f"vt{secrets.token_hex(4)}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False)


def _nft(netns: str, *args: str) -> str:
    return subprocess.run(
        ["ip", "netns", "exec", netns, "nft", *args], capture_output=True, text=True, check=True
    ).stdout


def _synced(netns: str, step: Step) -> tuple[Calculator, NftablesDriver, CountingRunner]:
    calc = Calculator("node1", "test")
    calc.set_endpoints(endpoints_of(step))
    calc.load(snapshot_of(step))
    runner = CountingRunner(netns)
    driver = NftablesDriver(runner)
    driver.resync(calc.desired)
    return calc, driver, runner


def _table_matches(driver: NftablesDriver, calc: Calculator) -> bool:
    programs = {h: render_endpoint(d) for h, d in calc.desired.items()}
    return _actual(driver._list()) == _expected(programs)


def test_resync_of_an_unchanged_table_writes_nothing(netns: str) -> None:
    calc, driver, runner = _synced(netns, STEPS["e2e/ingress-and-egress-together"])
    assert _table_matches(driver, calc)
    writes = runner.writes
    result = driver.resync(calc.desired)
    assert runner.writes == writes
    assert not result.programmed and not result.repaired


def test_rule_deleted_by_hand_comes_back_on_resync(netns: str) -> None:
    calc, driver, _ = _synced(netns, STEPS["e2e/ingress-and-egress-together"])
    listing = _nft(netns, "-a", "list", "table", "inet", "vfpnet")
    victim = next(line for line in listing.splitlines() if "drop" in line)
    chain = next(
        line.split()[1] for line in listing.splitlines()
        if line.strip().startswith("chain ") and listing.index(line) < listing.index(victim)
        and line.split()[1].startswith(("i-", "e-"))
    )
    handle = victim.rsplit("# handle ", 1)[1].strip()
    _nft(netns, "delete", "rule", "inet", "vfpnet", chain, "handle", handle)
    assert not _table_matches(driver, calc)
    result = driver.resync(calc.desired)
    assert result.repaired
    assert _table_matches(driver, calc)


def test_deltas_leave_the_same_table_as_a_full_sync(netns: str) -> None:
    step = STEPS["e2e/allow-from-pods-in-server-namespace-by-podselector"]
    calc, driver, runner = _synced(netns, step)
    key = ObjectKey("Pod", "x", "b")
    pod = copy.deepcopy(dict(snapshot_of(step).objects[key]))
    pod["metadata"]["labels"] = {"pod": "zzz"}
    writes = runner.writes
    delta = calc.apply_event(ObjectEvent(EventType.MODIFIED, key, pod, "2"))
    assert delta
    driver.apply(delta)
    assert runner.writes == writes + 1  # one batch per sync
    assert _table_matches(driver, calc)
    gone = next(iter(calc.endpoints))
    driver.apply(calc.set_endpoints([e for h, e in calc.endpoints.items() if h != gone]))
    assert _table_matches(driver, calc)
    assert not driver.resync(calc.desired).repaired


def test_other_tables_are_never_touched(netns: str) -> None:
    subprocess.run(
        ["ip", "netns", "exec", netns, "nft", "-f", "-"], check=True, text=True,
        input="table inet theirs {\n chain c {\n  type filter hook forward priority -5\n"
              "  tcp dport 22 counter accept\n }\n}\ntable ip filter {\n chain x {\n }\n}\n",
    )
    before = _nft(netns, "list", "table", "inet", "theirs") + _nft(netns, "list", "table", "ip",
                                                                   "filter")
    calc, driver, _ = _synced(netns, STEPS["e2e/default-deny-all"])
    driver.resync(calc.desired)
    driver.cleanup()
    after = _nft(netns, "list", "table", "inet", "theirs") + _nft(netns, "list", "table", "ip",
                                                                  "filter")
    assert after == before
    assert "vfpnet" not in _nft(netns, "list", "tables")


def test_a_refused_batch_changes_nothing(netns: str) -> None:
    _, driver, _ = _synced(netns, STEPS["e2e/default-deny-all"])
    before = _nft(netns, "list", "table", "inet", "vfpnet")
    with pytest.raises(DataplaneError, match="nftables"):
        driver.runner.run([
            {"add": {"chain": {"family": "inet", "table": "vfpnet", "name": "zz"}}},
            {"add": {"rule": {"family": "inet", "table": "vfpnet", "chain": "nope",
                              "expr": [{"accept": None}]}}},
        ])
    assert _nft(netns, "list", "table", "inet", "vfpnet") == before
