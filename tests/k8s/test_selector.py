"""Label selector matching and named port resolution."""

from __future__ import annotations

import pytest

from vfpnet.k8s.model import (
    ContainerPort,
    Labels,
    LabelSelector,
    LabelSelectorRequirement,
    Workload,
)
from vfpnet.k8s.namedport import resolve_named_port
from vfpnet.k8s.selector import selector_matches

WEB = Labels.of({"app": "web", "tier": "front"})


def expr(key: str, op: str, *values: str) -> LabelSelector:
    return LabelSelector(match_expressions=(LabelSelectorRequirement(key, op, values),))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("selector", "matches"),
    [
        (LabelSelector(), True),
        (LabelSelector(Labels.of({"app": "web"})), True),
        (LabelSelector(Labels.of({"app": "web", "tier": "back"})), False),
        (LabelSelector(Labels.of({"missing": ""})), False),
        (expr("app", "In", "db", "web"), True),
        (expr("app", "In", "db"), False),
        (expr("missing", "In", "x"), False),
        (expr("app", "NotIn", "web"), False),
        (expr("app", "NotIn", "db"), True),
        (expr("missing", "NotIn", "x"), True),
        (expr("tier", "Exists"), True),
        (expr("missing", "Exists"), False),
        (expr("tier", "DoesNotExist"), False),
        (expr("missing", "DoesNotExist"), True),
        (LabelSelector(Labels.of({"app": "web"}),
                       (LabelSelectorRequirement("tier", "In", ("back",)),)), False),
    ],
)
def test_selector_matches_as_metav1_defines(selector: LabelSelector, matches: bool) -> None:
    assert selector_matches(selector, WEB) is matches


def test_empty_selector_matches_pod_without_labels() -> None:
    assert selector_matches(LabelSelector(), Labels())


def test_named_port_resolves_by_name_and_protocol() -> None:
    w = Workload("Pod", "x", "p", ports=(ContainerPort(53, "UDP", "dns"),
                                         ContainerPort(5353, "TCP", "dns-tcp"),
                                         ContainerPort(80, "TCP", None)))
    assert resolve_named_port(w, "dns", "UDP") == (53,)
    assert resolve_named_port(w, "dns", "TCP") == ()
    assert resolve_named_port(w, "http", "TCP") == ()
