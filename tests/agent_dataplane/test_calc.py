"""The calculation: desired rules per local endpoint, incremental, bad objects isolated."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from agent_dataplane.casesetup import endpoints_of, snapshot_of
from cases import Step, case_steps, step_id
from vfpnet.agent.calc import Calculator
from vfpnet.agent.datastore.events import EventType, ObjectEvent, Snapshot
from vfpnet.agent.datastore.kinds import ObjectKey
from vfpnet.agent.endpoints import LocalEndpoint
from vfpnet.agent.flatten import first_match
from vfpnet.policy.ir import Action

ALL_STEPS = [pytest.param(s, id=step_id(c, s)) for c, s in case_steps()]


def _calculator(step: Step) -> Calculator:
    calc = Calculator("node1", "test")
    calc.set_endpoints(endpoints_of(step))
    delta = calc.load(snapshot_of(step))
    assert set(delta.changed) == set(calc.endpoints)
    return calc


@pytest.mark.parametrize("step", ALL_STEPS)
def test_flattened_rules_give_every_case_expectation(step: Step) -> None:
    calc = _calculator(step)
    pods = step.pods()
    by_pod = {d.pod: d for d in calc.desired.values()}
    for e in step.expectations:
        src, dst = by_pod[e.src], by_pod[e.dst]
        out = first_match(src.egress, pods[e.dst].ips[0], e.protocol, e.port)
        into = first_match(dst.ingress, pods[e.src].ips[0], e.protocol, e.port)
        allowed = out.action is Action.ALLOW and into.action is Action.ALLOW
        assert allowed == e.allowed, f"{e}: egress {out.origin}, ingress {into.origin}"


E2E = {step_id(c, s): s for c, s in case_steps(suite="e2e")}


def _event(kind: EventType, key: ObjectKey, obj: Any) -> ObjectEvent:
    return ObjectEvent(kind, key, obj, "2")


def _step(name: str) -> Step:
    return next(s for k, s in E2E.items() if k.startswith(name))


def test_pod_label_change_recomputes_only_endpoints_whose_rules_change() -> None:
    step = _step("e2e/allow-from-pods-in-server-namespace-by-podselector")
    snapshot = snapshot_of(step)
    calc = _calculator(step)
    before = dict(calc.desired)
    key = ObjectKey("Pod", "x", "b")
    pod = copy.deepcopy(dict(snapshot.objects[key]))
    pod["metadata"]["labels"] = {"pod": "zzz"}
    delta = calc.apply_event(_event(EventType.MODIFIED, key, pod))
    changed = {d.pod for d in delta.changed.values()}
    assert changed, "a relabel that changes peer sets must change some endpoint"
    assert changed < {d.pod for d in before.values()}
    for handle, desired in calc.desired.items():
        if desired.pod not in changed:
            assert desired == before[handle]
    # The same event again changes nothing at all.
    assert not calc.apply_event(_event(EventType.MODIFIED, key, pod))


def test_invalid_policy_edit_keeps_last_valid_version_enforced() -> None:
    step = _step("e2e/default-deny-ingress")
    snapshot = snapshot_of(step)
    calc = _calculator(step)
    before = dict(calc.desired)
    key = next(k for k in snapshot.objects if k.kind == "NetworkPolicy")
    broken = copy.deepcopy(dict(snapshot.objects[key]))
    broken["spec"]["policyTypes"] = ["Sideways"]
    delta = calc.apply_event(_event(EventType.MODIFIED, key, broken))
    assert not delta
    assert calc.desired == before
    assert "spec.policyTypes" in calc.store.errors[key]


def test_invalid_new_policy_is_reported_and_the_rest_stays_enforced() -> None:
    step = _step("e2e/default-deny-ingress")
    calc = _calculator(step)
    before = dict(calc.desired)
    key = ObjectKey("NetworkPolicy", "y", "bad")
    bad = {
        "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
        "metadata": {"name": "bad", "namespace": "y"},
        "spec": {"podSelector": {"matchLabels": {"pod": 7}}},
    }
    assert not calc.apply_event(_event(EventType.ADDED, key, bad))
    assert calc.desired == before
    assert "NetworkPolicy y/bad" in calc.store.errors[key]
    # Deleting it clears the error.
    calc.apply_event(_event(EventType.DELETED, key, bad))
    assert key not in calc.store.errors


def test_endpoint_without_pod_is_left_alone_and_reported() -> None:
    step = _step("e2e/default-deny-ingress")
    calc = _calculator(step)
    stray = LocalEndpoint("cstray:eth0", ("10.240.9.9",), "x", "ghost")
    delta = calc.set_endpoints([*calc.endpoints.values(), stray])
    assert "cstray:eth0" not in delta.changed
    assert "x/ghost" in calc.unjoined["cstray:eth0"]


def test_removed_endpoint_is_in_delta_removed() -> None:
    step = _step("e2e/default-deny-ingress")
    calc = _calculator(step)
    gone = next(iter(calc.endpoints))
    delta = calc.set_endpoints([e for h, e in calc.endpoints.items() if h != gone])
    assert delta.removed == {gone}
    assert gone not in calc.desired


def test_pod_on_another_node_is_a_peer_not_a_local_endpoint() -> None:
    step = _step("e2e/default-deny-ingress")
    snapshot = snapshot_of(step)
    objects = dict(snapshot.objects)
    key = ObjectKey("Pod", "x", "a")
    pod = copy.deepcopy(dict(objects[key]))
    pod["spec"]["nodeName"] = "node2"
    objects[key] = pod
    calc = Calculator("node1", "test")
    calc.set_endpoints(endpoints_of(step))
    calc.load(Snapshot(objects, "1"))
    assert "x/a" in next(r for r in calc.unjoined.values())
    assert "x/a" not in {d.pod for d in calc.desired.values()}


def test_nothing_is_computed_before_the_datastore_answers() -> None:
    step = _step("e2e/default-deny-ingress")
    calc = Calculator("node1", "test")
    assert not calc.set_endpoints(endpoints_of(step))
    assert calc.desired == {}


LABEL_SETS = [{"pod": "a"}, {"pod": "b"}, {"pod": "zzz"}, {}, {"pod": "c", "app": "x"}]


@pytest.mark.parametrize("step", ALL_STEPS[::5])
def test_incremental_relabels_give_the_same_rules_as_a_fresh_calculation(step: Step) -> None:
    calc = _calculator(step)
    objects = dict(snapshot_of(step).objects)
    pods = sorted(k for k in objects if k.kind == "Pod")
    for i, key in enumerate(pods):
        pod = copy.deepcopy(dict(objects[key]))
        pod["metadata"]["labels"] = LABEL_SETS[i % len(LABEL_SETS)]
        objects[key] = pod
        calc.apply_event(_event(EventType.MODIFIED, key, pod))
        fresh = Calculator("node1", "test")
        fresh.set_endpoints(endpoints_of(step))
        fresh.load(Snapshot(objects, "9"))
        assert calc.desired == fresh.desired, f"after relabelling {key}"


def test_second_endpoint_with_a_taken_address_is_left_alone_and_reported() -> None:
    step = _step("e2e/default-deny-ingress")
    calc = _calculator(step)
    first = next(iter(sorted(calc.endpoints.values(), key=lambda e: e.handle)))
    twin = LocalEndpoint("zzztwin:eth0", first.ips, "y", "b")
    delta = calc.set_endpoints([*calc.endpoints.values(), twin])
    assert "zzztwin:eth0" not in delta.changed and "zzztwin:eth0" not in calc.desired
    assert first.handle in calc.unjoined["zzztwin:eth0"]
