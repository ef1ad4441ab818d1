"""The HNS dataplane proven on the twin: every case, verdicts from VFP port traces.

One HNS emulator node holds an endpoint for every pod of the cases (e2e: 10.240.x.y,
houses: 10.241.x.y) on one L2Bridge network. For each case step the agent programs the
endpoints (files datastore, HNS dataplane, one full sync, endpoints joined to Pods by
address), then every expectation (TCP, UDP and SCTP) is traced through the VFP model
(`vfpnet.vfp.path_trace`: source port out, vSwitch, destination port in): the verdicts
must equal the case's truth table.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agent_dataplane.agentrun import run_agent, write_manifests
from cases import Step, case_steps, step_id
from vfpnet.agent.daemon import Agent, AgentConfig, open_dataplane, open_datastore
from vfpnet.agent.hns_driver import HnsDriver
from vfpnet.hns.emulator import Emulator
from vfpnet.vfp import Packet, build_port, load_node, path_trace

HOST = "10.240.0.1"
PROTOCOL_NUMBERS = {"TCP": 6, "UDP": 17, "SCTP": 132}
ALL = [pytest.param(s, id=step_id(c, s)) for c, s in case_steps()]


class HnsNode:
    def __init__(self, state: Path) -> None:
        self.state = str(state)
        self.client = Emulator(self.state)
        network = self.client.create_network({
            "Name": "podnet", "Type": "L2Bridge",
            "Ipams": [{"Type": "Static", "Subnets": [{
                "IpAddressPrefix": "10.240.0.0/15",
                "Routes": [{"NextHop": HOST, "DestinationPrefix": "0.0.0.0/0"}],
            }]}],
            "SchemaVersion": {"Major": 2, "Minor": 0},
        })
        self.network = str(network["ID"])
        self.endpoints: dict[str, str] = {}  # pod IP -> endpoint ID

    def ensure_pods(self, step: Step) -> None:
        for pod in step.pods().values():
            ip = pod.ips[0]
            if ip not in self.endpoints:
                ep = self.client.create_endpoint(self.network, {
                    "Name": f"{pod.namespace}-{pod.name}", "HostComputeNetwork": self.network,
                    "IpConfigurations": [{"IpAddress": ip, "PrefixLength": 15}],
                    "Policies": [{"Type": "OutBoundNAT", "Settings": {"Exceptions": []}}],
                    "SchemaVersion": {"Major": 2, "Minor": 0},
                })
                self.endpoints[ip] = str(ep["ID"])


@pytest.fixture(scope="module")
def hns(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[HnsNode, Path]]:
    work = tmp_path_factory.mktemp("hnsnode")
    node = HnsNode(work / "hns.db")
    try:
        yield node, work
    finally:
        node.client.close()


def _sync(node: HnsNode, work: Path, step: Step) -> Agent:
    node.ensure_pods(step)
    write_manifests(work / "manifests", step)
    config = AgentConfig(
        datastore=f"files:{work / 'manifests'}", dataplane="hns", node="node1", once=True,
        run_dir=str(work / "run"), hns_state=node.state, host_addresses=(HOST,),
    )
    driver, source = open_dataplane(config)
    agent = Agent(config, open_datastore(config.datastore), driver, source)
    assert agent.run() == 0
    return agent


@pytest.mark.parametrize("step", ALL)
def test_case_holds_on_hns_by_vfp_traces(step: Step, hns: tuple[HnsNode, Path]) -> None:
    node, work = hns
    _sync(node, work, step)
    snapshot = load_node(node.state)
    pods = step.pods()
    wrong = []
    for e in step.expectations:
        src = node.endpoints[pods[e.src].ips[0]]
        trace = path_trace(snapshot, src, pods[e.dst].ips[0], e.port, PROTOCOL_NUMBERS[e.protocol])
        if (trace.verdict == "allow") != e.allowed:
            wrong.append(f"{e}: VFP says {trace.verdict}: {[h.detail for h in trace.hops]}")
    assert not wrong, "\n".join(wrong)


def _acls(node: HnsNode, endpoint: str) -> list[dict[str, Any]]:
    policies = node.client.get_endpoint(endpoint).get("Policies") or []
    return [p for p in policies if p["Type"] == "ACL"]


STEPS = {step_id(c, s): s for c, s in case_steps()}


def test_unchanged_endpoints_get_no_modify_call_and_other_policies_stay(
    hns: tuple[HnsNode, Path],
) -> None:
    node, work = hns
    step = STEPS["e2e/default-deny-ingress"]
    _sync(node, work, step)
    agent = _sync(node, work, step)
    assert isinstance(agent.driver, HnsDriver)
    assert agent.driver.modify_calls == 0
    for endpoint in node.endpoints.values():
        types = [p["Type"] for p in node.client.get_endpoint(endpoint)["Policies"]]
        assert "OutBoundNAT" in types


def test_node_itself_reaches_isolated_pods(hns: tuple[HnsNode, Path]) -> None:
    node, work = hns
    step = STEPS["e2e/default-deny-all"]
    _sync(node, work, step)
    pods = step.pods()
    target = node.endpoints[pods["x/a"].ips[0]]
    endpoint = node.client.get_endpoint(target)
    from_host = Packet(6, HOST, 40000, pods["x/a"].ips[0], 80)
    assert build_port(endpoint).process(from_host, "in").verdict == "allow"
    snapshot = load_node(node.state)
    src = node.endpoints[pods["y/a"].ips[0]]
    assert path_trace(snapshot, src, pods["x/a"].ips[0], 80, 6).verdict == "block"


def test_priorities_put_admin_before_networkpolicy_before_baseline(
    hns: tuple[HnsNode, Path],
) -> None:
    node, work = hns
    step = next(s for k, s in STEPS.items() if k.startswith("cnp/") and "Baseline" in k)
    agent = _sync(node, work, step)
    for handle, desired in agent.calc.desired.items():
        acls = [a["Settings"] for a in _acls(node, handle) if a["Settings"]["Id"] != "vfpnet-host"]
        for direction in ("In", "Out"):
            mine = [a for a in acls if a["Direction"] == direction]
            priorities = [a["Priority"] for a in mine]
            assert priorities == sorted(priorities) and len(set(priorities)) == len(priorities)
            # The last ACL is the explicit lowest-precedence Allow unless isolated.
            rules = desired.ingress if direction == "In" else desired.egress
            assert (mine[-1]["Action"] == "Allow") == (rules[-1].origin == "Default")


def test_hns_cleanup_removes_only_our_acls(hns: tuple[HnsNode, Path]) -> None:
    node, work = hns
    _sync(node, work, STEPS["e2e/default-deny-all"])
    done = run_agent(None, "cleanup", "--dataplane", "hns", "--hns-state", node.state)
    assert done.returncode == 0, done.stderr
    for endpoint in node.endpoints.values():
        policies = node.client.get_endpoint(endpoint)["Policies"]
        assert [p["Type"] for p in policies] == ["OutBoundNAT"], json.dumps(policies)


def test_acl_removed_by_hand_comes_back_with_one_call_for_that_endpoint(
    hns: tuple[HnsNode, Path],
) -> None:
    node, work = hns
    agent = _sync(node, work, STEPS["e2e/default-deny-ingress"])
    victim = next(iter(agent.calc.desired))
    policies = node.client.get_endpoint(victim)["Policies"]
    node.client.modify_endpoint(victim, {
        "ResourceType": "Policy", "RequestType": "Update",
        "Settings": {"Policies": [p for p in policies if p["Type"] != "ACL"]},
    })
    assert isinstance(agent.driver, HnsDriver)
    before = agent.driver.modify_calls
    result = agent.full_sync()
    assert result.repaired and result.programmed == (victim,)
    assert agent.driver.modify_calls == before + 1
    assert node.client.get_endpoint(victim)["Policies"] == policies


def test_rules_hns_cannot_hold_fail_closed_for_that_endpoint(
    hns: tuple[HnsNode, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    node, work = hns
    step = STEPS["e2e/allow-ingress-for-a-target"]
    _sync(node, work, STEPS["e2e/allow-all"])
    import vfpnet.agent.render_hns as render_hns

    monkeypatch.setattr(render_hns, "LAST_PRIORITY", render_hns.FIRST_PRIORITY)
    node.ensure_pods(step)
    write_manifests(work / "manifests", step)
    config = AgentConfig(
        datastore=f"files:{work / 'manifests'}", dataplane="hns", node="node1", once=True,
        run_dir=str(work / "run"), hns_state=node.state, host_addresses=(HOST,),
    )
    driver, source = open_dataplane(config)
    agent = Agent(config, open_datastore(config.datastore), driver, source)
    with pytest.raises(Exception, match="failed closed"):
        agent.run()
    pods = step.pods()
    snapshot = load_node(node.state)
    # x/a's ingress (an allow, then the isolation block: 2 ACLs, 1 priority left) is
    # closed even from y/a, which the policy allows; its egress (1 ACL) still works.
    src = node.endpoints[pods["y/a"].ips[0]]
    assert path_trace(snapshot, src, pods["x/a"].ips[0], 80, 6).verdict == "block"
    x_a = node.endpoints[pods["x/a"].ips[0]]
    assert path_trace(snapshot, x_a, pods["y/a"].ips[0], 80, 6).verdict == "allow"
    status = json.loads((work / "run" / "status.json").read_text())
    closed = [ep for ep in status["endpoints"] if "failClosed" in ep]
    assert closed and "cannot express" in closed[0]["failClosed"]
