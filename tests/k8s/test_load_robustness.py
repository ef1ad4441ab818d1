"""Whatever a manifest holds, loading either succeeds or raises one-line InputError: valid
manifests of every kind with one field replaced by a value of a random JSON type."""

from __future__ import annotations

import copy
import json
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vfpnet.errors import InputError
from vfpnet.k8s.load import load_cluster

SELECTOR = {"matchLabels": {"a": "b"},
            "matchExpressions": [{"key": "k", "operator": "In", "values": ["v"]}]}
VALID: list[dict[str, Any]] = [
    {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "x", "labels": {"a": "b"}}},
    {"apiVersion": "v1", "kind": "Pod",
     "metadata": {"name": "p", "namespace": "x", "labels": {"a": "b"}},
     "spec": {"hostNetwork": False, "nodeName": "n",
              "containers": [{"name": "c", "ports": [{"containerPort": 80, "name": "http",
                                                      "protocol": "TCP"}]}],
              "initContainers": [{"name": "s", "restartPolicy": "Always",
                                  "ports": [{"containerPort": 81}]}]},
     "status": {"podIP": "10.0.0.1", "podIPs": [{"ip": "10.0.0.1"}]}},
    {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "cj"},
     "spec": {"jobTemplate": {"spec": {"template": {"metadata": {"labels": {"a": "b"}},
                                                    "spec": {"containers": []}}}}}},
    {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
     "metadata": {"name": "np", "namespace": "x"},
     "spec": {"podSelector": SELECTOR, "policyTypes": ["Ingress", "Egress"],
              "ingress": [{"from": [{"podSelector": SELECTOR, "namespaceSelector": {}},
                                    {"ipBlock": {"cidr": "10.0.0.0/8",
                                                 "except": ["10.1.0.0/16"]}}],
                           "ports": [{"protocol": "UDP", "port": 53, "endPort": 60},
                                     {"port": "http"}]}],
              "egress": [{"to": [{"namespaceSelector": SELECTOR}]}]}},
    {"apiVersion": "policy.networking.k8s.io/v1alpha2", "kind": "ClusterNetworkPolicy",
     "metadata": {"name": "c"},
     "spec": {"tier": "Admin", "priority": 1,
              "subject": {"pods": {"namespaceSelector": SELECTOR, "podSelector": {}}},
              "ingress": [{"name": "r", "action": "Pass",
                           "from": [{"namespaces": SELECTOR}],
                           "protocols": [{"tcp": {"destinationPort": {"number": 80}}},
                                         {"udp": {"destinationPort": {"range": {"start": 1,
                                                                               "end": 2}}}},
                                         {"destinationNamedPort": "http"}]}],
              "egress": [{"action": "Deny", "to": [{"networks": ["10.0.0.0/8"]},
                                                   {"domainNames": ["a.example.com"]},
                                                   {"nodes": {}}]}]}},
    {"apiVersion": "policy.networking.k8s.io/v1alpha1", "kind": "AdminNetworkPolicy",
     "metadata": {"name": "a"},
     "spec": {"priority": 3, "subject": {"namespaces": {}},
              "egress": [{"action": "Allow", "to": [{"pods": {"namespaceSelector": {},
                                                             "podSelector": SELECTOR}}],
                          "ports": [{"portNumber": {"protocol": "SCTP", "port": 9}},
                                    {"portRange": {"start": 1, "end": 9}},
                                    {"namedPort": "http"}]}]}},
    {"apiVersion": "policy.networking.k8s.io/v1alpha1", "kind": "BaselineAdminNetworkPolicy",
     "metadata": {"name": "default"},
     "spec": {"subject": {"namespaces": {}},
              "ingress": [{"action": "Deny", "from": [{"namespaces": {}}]}]}},
]

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 70000) | st.floats(allow_nan=False)
    | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner,
                                                                max_size=3),
    max_leaves=6,
)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            out += _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            out += _paths(item, (*prefix, i))
    return out


def _replace(doc: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    doc = copy.deepcopy(doc)
    parent = doc
    for step in path[:-1]:
        parent = parent[step]
    parent[path[-1]] = new
    return doc


@st.composite
def mutated_documents(draw: st.DrawFn) -> dict[str, Any]:
    doc = draw(st.sampled_from(VALID))
    path = draw(st.sampled_from(_paths(doc)))
    return _replace(doc, path, draw(json_values))  # type: ignore[no-any-return]


def test_every_valid_template_loads() -> None:
    with tempfile.TemporaryDirectory(prefix="vt") as tmp:
        path = Path(tmp) / "all.json"
        path.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": VALID}))
        cluster = load_cluster([str(path)])
    assert len(cluster.workloads) == 2 and len(cluster.cluster_policies) == 3


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_documents())
def test_any_field_of_any_type_loads_or_fails_with_one_line(doc: dict[str, Any]) -> None:
    with tempfile.TemporaryDirectory(prefix="vt") as tmp:
        path = Path(tmp) / "m.json"
        path.write_text(json.dumps(doc))
        try:
            load_cluster([str(path)])
        except InputError as exc:
            message = str(exc)
            assert message.startswith(f"{path}: ")
            assert "\n" not in message
