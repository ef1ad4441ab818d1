"""evaluate_flow's ends and arguments: workloads, external addresses, bad input."""

from __future__ import annotations

import pytest
from evaluate_setup import build, cnp, flow, netpol, pod

from vfpnet.policy.evaluate import evaluate_flow


def test_external_source_has_no_egress_policy() -> None:
    c = build(cnp("deny-all-egress", "Admin", 1, egress=[
        {"action": "Deny", "to": [{"networks": ["0.0.0.0/0"]}]}]))
    verdict = flow(c, "192.0.2.1", "x/a")
    assert verdict.allowed
    assert (verdict.egress.tier, verdict.egress.policy, verdict.egress.rule) == (
        "Default", None, None
    )
    assert "outside the cluster" in verdict.egress.reason


def test_external_destination_has_no_ingress_policy() -> None:
    c = build(netpol("deny-in", "x"))
    verdict = flow(c, "x/a", "192.0.2.1")
    assert verdict.allowed and verdict.ingress.tier == "Default"


def test_an_address_of_a_pod_given_as_a_string_is_not_matched_by_selectors() -> None:
    c = build(netpol("from-y", "x", ingress=[{"from": [{"namespaceSelector": {}}]}]))
    assert flow(c, "y/a", "x/b").allowed
    assert not flow(c, "10.0.2.1", "x/b").allowed  # y/a's address, but not the pod


def test_controller_workload_is_selected_by_its_template_labels() -> None:
    deployment = {"apiVersion": "apps/v1", "kind": "Deployment",
                  "metadata": {"name": "web", "namespace": "x"},
                  "spec": {"template": {"metadata": {"labels": {"pod": "web"}}, "spec": {}}}}
    c = build(deployment, netpol("deny-web", "x", podSelector={"matchLabels": {"pod": "web"}}))
    assert not flow(c, "y/a", "x/web").allowed
    assert flow(c, "y/a", "x/a").allowed


def test_protocol_name_is_case_insensitive() -> None:
    c = build()
    assert evaluate_flow(c, pod(c, "x/a"), pod(c, "y/a"), "sctp", 80).allowed


@pytest.mark.parametrize(
    ("protocol", "port", "dst", "message"),
    [
        ("ICMP", 80, "10.0.0.1", "protocol 'ICMP' is not TCP, UDP or SCTP"),
        ("TCP", 0, "10.0.0.1", "port 0 is not in 1-65535"),
        ("TCP", 65536, "10.0.0.1", "port 65536 is not in 1-65535"),
        ("TCP", 80, "not-an-ip", "does not appear to be an IPv4 or IPv6 address"),
    ],
)
def test_bad_arguments_raise_value_error(protocol: str, port: int, dst: str, message: str) -> None:
    c = build()
    with pytest.raises(ValueError, match=message):
        evaluate_flow(c, pod(c, "x/a"), dst, protocol, port)
