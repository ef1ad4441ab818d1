"""Builders of manifest documents for the k8s tests."""

from __future__ import annotations

from typing import Any

Doc = dict[str, Any]


def np(spec: Doc, name: str = "np", ns: str = "x") -> Doc:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": name, "namespace": ns},
        "spec": spec,
    }


def ingress_from(*peers: Doc) -> Doc:
    return {"ingress": [{"from": list(peers)}]}


def ingress_ports(*ports: Doc) -> Doc:
    return {"ingress": [{"ports": list(ports)}]}


def pod(name: str = "p", ns: str = "x", labels: Doc | None = None, **spec: Any) -> Doc:
    meta: Doc = {"name": name, "namespace": ns}
    if labels is not None:
        meta["labels"] = labels
    status = spec.pop("status", None)
    doc: Doc = {"apiVersion": "v1", "kind": "Pod", "metadata": meta,
                "spec": {"containers": [{"name": "c", "image": "i"}], **spec}}
    if status is not None:
        doc["status"] = status
    return doc


def container_ports(*ports: Doc) -> Doc:
    return pod(containers=[{"name": "c", "image": "i", "ports": list(ports)}])


def cnp(spec: Doc, name: str = "c") -> Doc:
    base: Doc = {"tier": "Admin", "priority": 10, "subject": {"namespaces": {}}}
    base.update(spec)
    return {"apiVersion": "policy.networking.k8s.io/v1alpha2", "kind": "ClusterNetworkPolicy",
            "metadata": {"name": name}, "spec": {k: v for k, v in base.items() if v is not None}}


def cnp_egress(rule: Doc) -> Doc:
    return cnp({"egress": [{"action": "Deny", **rule}]})


def cnp_protocols(*protocols: Doc) -> Doc:
    return cnp_egress({"to": [{"namespaces": {}}], "protocols": list(protocols)})


def anp(spec: Doc, name: str = "a") -> Doc:
    base: Doc = {"priority": 10, "subject": {"namespaces": {}}}
    base.update(spec)
    return {"apiVersion": "policy.networking.k8s.io/v1alpha1", "kind": "AdminNetworkPolicy",
            "metadata": {"name": name}, "spec": {k: v for k, v in base.items() if v is not None}}


def anp_ports(*ports: Doc) -> Doc:
    return anp({"ingress": [{"action": "Deny", "from": [{"namespaces": {}}],
                             "ports": list(ports)}]})


def banp(spec: Doc, name: str = "default") -> Doc:
    base: Doc = {"subject": {"namespaces": {}}}
    base.update(spec)
    return {"apiVersion": "policy.networking.k8s.io/v1alpha1",
            "kind": "BaselineAdminNetworkPolicy", "metadata": {"name": name}, "spec": base}


def sel_expr(**expr: Any) -> Doc:
    return np({"podSelector": {"matchExpressions": [expr]}})
