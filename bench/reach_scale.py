"""Benchmark: `vfpnet reach` and `vfpnet explain` on a generated cluster of N workloads.

    python bench/reach_scale.py 1000 [10000 ...] [--keep DIR] [--repeat R]

For each N it writes a cluster to a temporary directory (one multi-document YAML file per
namespace plus one for the cluster policies) and times whole `vfpnet` processes (start-up,
loading, analysis, output), the way a user runs them:

- N workloads in N/20 namespaces (at least 2), each with its own `app` label, one of three
  tiers, and named container ports (`http`, some `metrics`, some `grpc`); every sixth is
  a Pod with a status IP; kinds cycle through Deployment, StatefulSet, DaemonSet, Job,
  CronJob, Pod;
- N/2 NetworkPolicies: per namespace a default-deny (Ingress and, in half of them,
  Egress), per-app ingress allows from the web tier on the named port `http`, from public
  namespaces, egress allows to DNS and to an ipBlock with an except, endPort ranges;
- 20 ClusterNetworkPolicies (Admin and Baseline; Accept/Deny/Pass; namespaces, pods and
  networks peers; destinationNamedPort; port ranges), one AdminNetworkPolicy and the
  BaselineAdminNetworkPolicy.

It prints one line per measurement: wall-clock and CPU seconds of the best of R runs (CPU
time says more when other work shares the machine), and for reach the number of
workloads, equivalence classes and connections.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

KINDS = ("Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob", "Pod")
TIERS = ("web", "api", "db")
PUBLIC_NAMESPACES = 5


def _pod_spec(j: int) -> dict[str, Any]:
    ports: list[dict[str, Any]] = [{"name": "http", "containerPort": 8080 if j % 2 else 80}]
    if j % 3 == 0:
        ports.append({"name": "metrics", "containerPort": 9090})
    if j % 4 == 1:
        ports.append({"name": "grpc", "containerPort": 50051})
    if j % 7 == 2:
        ports.append({"name": "dns", "containerPort": 53, "protocol": "UDP"})
    return {"containers": [{"name": "main", "image": "app", "ports": ports}]}


def _workload(ns: str, j: int, serial: int) -> dict[str, Any]:
    kind = KINDS[serial % len(KINDS)]
    labels = {"app": f"svc-{j}", "tier": TIERS[j % 3]}
    name = f"svc-{j}"
    if kind == "Pod":
        return {
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": ns, "labels": labels},
            "spec": _pod_spec(j),
            "status": {"podIP": f"10.{serial // 65536 % 256}.{serial // 256 % 256}.{serial % 256}"},
        }
    template = {"metadata": {"labels": labels}, "spec": _pod_spec(j)}
    if kind in ("Job", "CronJob"):
        template["spec"]["restartPolicy"] = "OnFailure"
    api = "batch/v1" if kind in ("Job", "CronJob") else "apps/v1"
    spec: dict[str, Any]
    if kind == "CronJob":
        spec = {"schedule": "0 * * * *", "jobTemplate": {"spec": {"template": template}}}
    elif kind == "Job":
        spec = {"template": template}
    else:
        spec = {"selector": {"matchLabels": labels}, "template": template}
        if kind == "StatefulSet":
            spec["serviceName"] = name
    return {"apiVersion": api, "kind": kind, "metadata": {"name": name, "namespace": ns},
            "spec": spec}


def _np(ns: str, name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"name": name, "namespace": ns}, "spec": spec}


def _namespace_policies(ns: str, index: int, apps: int, budget: int) -> list[dict[str, Any]]:
    types = ["Ingress", "Egress"] if index % 2 else ["Ingress"]
    out = [_np(ns, "default-deny", {"podSelector": {}, "policyTypes": types})]
    if index % 2:
        out.append(_np(ns, "egress-dns-and-net", {
            "podSelector": {},
            "policyTypes": ["Egress"],
            "egress": [
                {"to": [{"namespaceSelector": {}, "podSelector": {"matchLabels": {"tier": "api"}}}],
                 "ports": [{"port": 53, "protocol": "UDP"}, {"port": "http"}]},
                {"to": [{"ipBlock": {"cidr": "10.0.0.0/8", "except": ["10.0.128.0/17"]}}]},
                {"to": [{"podSelector": {}}]},
            ],
        }))
    j = 0
    while len(out) < budget and j < apps:
        rules: list[dict[str, Any]] = [
            {"from": [{"podSelector": {"matchLabels": {"tier": "web"}}}],
             "ports": [{"port": "http"}]},
            {"from": [{"namespaceSelector": {"matchLabels": {"exposure": "public"}},
                       "podSelector": {"matchExpressions": [
                           {"key": "tier", "operator": "In", "values": ["web", "api"]}]}}],
             "ports": [{"port": 8000, "endPort": 8100}, {"port": "grpc"}]},
        ]
        if j % 5 == 0:
            rules.append({"from": [{"ipBlock": {"cidr": "10.0.0.0/24",
                                                "except": ["10.0.0.128/26"]}}]})
        out.append(_np(ns, f"allow-svc-{j}", {
            "podSelector": {"matchLabels": {"app": f"svc-{j}"}}, "ingress": rules,
        }))
        j += 1
    return out


def _cnp(name: str, tier: str, priority: int, subject: dict[str, Any],
         ingress: list[dict[str, Any]] | None = None,
         egress: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"tier": tier, "priority": priority, "subject": subject}
    if ingress:
        spec["ingress"] = ingress
    if egress:
        spec["egress"] = egress
    return {"apiVersion": "policy.networking.k8s.io/v1alpha2", "kind": "ClusterNetworkPolicy",
            "metadata": {"name": name}, "spec": spec}


def _cluster_policies() -> list[dict[str, Any]]:
    env = "env"
    out: list[dict[str, Any]] = []
    for i in range(10):
        team = f"t{i % 7}"
        out.append(_cnp(
            f"admin-{i}", "Admin", i * 10,
            {"namespaces": {"matchLabels": {"team": team}}},
            ingress=[
                {"name": "monitoring", "action": "Accept",
                 "from": [{"namespaces": {"matchLabels": {"role": "monitoring"}}}],
                 "protocols": [{"destinationNamedPort": "metrics"}]},
                {"name": "dev-to-prod", "action": "Deny",
                 "from": [{"namespaces": {"matchLabels": {env: "dev"}}}],
                 "protocols": [{"tcp": {"destinationPort": {"range": {"start": 1,
                                                                       "end": 1024}}}}]},
                {"name": "same-team", "action": "Pass",
                 "from": [{"pods": {"namespaceSelector": {"matchLabels": {"team": team}},
                                    "podSelector": {"matchLabels": {"tier": "web"}}}}]},
            ],
            egress=[
                {"name": "no-metadata", "action": "Deny",
                 "to": [{"networks": ["169.254.169.254/32", "192.168.0.0/16"]}]},
                {"name": "dns", "action": "Accept",
                 "to": [{"pods": {"namespaceSelector": {},
                                  "podSelector": {"matchLabels": {"tier": "api"}}}}],
                 "protocols": [{"udp": {"destinationPort": {"number": 53}}}]},
            ],
        ))
    for i in range(10):
        out.append(_cnp(
            f"baseline-{i}", "Baseline", i,
            {"pods": {"namespaceSelector": {"matchLabels": {"env": ("prod", "staging")[i % 2]}},
                      "podSelector": {"matchLabels": {"tier": TIERS[i % 3]}}}},
            ingress=[
                {"action": "Accept", "from": [{"namespaces": {"matchLabels": {"team": "t1"}}}]},
                {"action": "Deny", "from": [{"namespaces": {}}],
                 "protocols": [{"sctp": {"destinationPort": {"range": {"start": 1, "end": 65535}}}},
                               {"tcp": {"destinationPort": {"number": 22}}}]},
            ],
        ))
    out.append({
        "apiVersion": "policy.networking.k8s.io/v1alpha1", "kind": "AdminNetworkPolicy",
        "metadata": {"name": "deny-ssh"},
        "spec": {"priority": 5, "subject": {"namespaces": {}}, "ingress": [
            {"name": "ssh", "action": "Deny", "from": [{"namespaces": {}}],
             "ports": [{"portNumber": {"protocol": "TCP", "port": 22}}]}]},
    })
    out.append({
        "apiVersion": "policy.networking.k8s.io/v1alpha1",
        "kind": "BaselineAdminNetworkPolicy", "metadata": {"name": "default"},
        "spec": {"subject": {"namespaces": {}}, "ingress": [
            {"name": "cross-ns", "action": "Deny",
             "from": [{"namespaces": {"matchExpressions": [
                 {"key": "exposure", "operator": "DoesNotExist"}]}}]}]},
    })
    return out


def write_cluster(n: int, root: Path) -> dict[str, int]:
    """Write the cluster of `n` workloads under `root`; return its counts."""
    namespaces = max(2, n // 20)
    per_ns = [n // namespaces + (1 if i < n % namespaces else 0) for i in range(namespaces)]
    np_budget = max(1, n // 2)
    nps = 0
    serial = 0
    for i, count in enumerate(per_ns):
        ns = f"ns-{i}"
        labels = {"env": ("prod", "staging", "dev")[i % 3], "team": f"t{i % 7}"}
        if i < PUBLIC_NAMESPACES:
            labels["exposure"] = "public"
        if i == namespaces - 1:
            labels["role"] = "monitoring"
        docs: list[dict[str, Any]] = [
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns, "labels": labels}}
        ]
        for j in range(count):
            docs.append(_workload(ns, j, serial))
            serial += 1
        share = np_budget // namespaces + (1 if i < np_budget % namespaces else 0)
        policies = _namespace_policies(ns, i, count, share)
        nps += len(policies)
        docs.extend(policies)
        (root / f"{ns}.yaml").write_text(yaml.safe_dump_all(docs, sort_keys=False))
    cluster_docs = _cluster_policies()
    (root / "cluster-policies.yaml").write_text(yaml.safe_dump_all(cluster_docs, sort_keys=False))
    return {"workloads": n, "namespaces": namespaces, "network_policies": nps,
            "cluster_policies": len(cluster_docs)}


def _vfpnet() -> list[str]:
    exe = Path(sys.executable).with_name("vfpnet")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "vfpnet"]


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _time(argv: list[str], repeat: int) -> tuple[float, float, bytes]:
    """Best wall-clock seconds, and the CPU seconds of that run (less sensitive to other
    load on the machine), and its output."""
    best = (float("inf"), 0.0)
    out = b""
    for _ in range(repeat):
        cpu_before = _children_cpu()
        start = time.perf_counter()
        res = subprocess.run(argv, capture_output=True, check=False)
        elapsed = time.perf_counter() - start
        cpu = _children_cpu() - cpu_before
        if res.returncode != 0:
            raise SystemExit(f"{' '.join(argv)} failed: {res.stderr.decode().strip()}")
        best = min(best, (elapsed, cpu))
        out = res.stdout
    return best[0], best[1], out


def _classes(root: Path) -> int:
    from vfpnet.analysis.classes import workload_classes
    from vfpnet.k8s.load import load_cluster

    return len(workload_classes(load_cluster([str(root)]).workloads))


def bench(n: int, repeat: int, keep: Path | None) -> None:
    root = Path(tempfile.mkdtemp(prefix="vt-reach-")) if keep is None else keep
    root.mkdir(parents=True, exist_ok=True)
    try:
        counts = write_cluster(n, root)
        print(f"N={n}: {counts['namespaces']} namespaces, {counts['network_policies']} "
              f"NetworkPolicies, {counts['cluster_policies']} cluster policies; "
              f"{_classes(root)} equivalence classes")
        for fmt in ("json", "table") if n <= 1000 else ("json",):
            secs, cpu, out = _time(
                [*_vfpnet(), "reach", "-f", str(root), "--format", fmt], repeat
            )
            extra = ""
            if fmt == "json":
                extra = f", {len(json.loads(out)['connections'])} connections"
            print(f"  reach --format {fmt}: {secs:.2f} s wall, {cpu:.2f} s CPU "
                  f"({len(out) / 1e6:.1f} MB{extra})")
        last = f"ns-{counts['namespaces'] - 1}"
        secs, cpu, out = _time(
            [*_vfpnet(), "explain", "-f", str(root), "--from", f"{last}/svc-0",
             "--to", "ns-0/svc-3", "--port", "9090", "--format", "json"], repeat,
        )
        print(f"  explain: {secs:.2f} s wall, {cpu:.2f} s CPU "
              f"(allowed={json.loads(out)['allowed']})")
    finally:
        if keep is None:
            shutil.rmtree(root, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sizes", type=int, nargs="+", metavar="N", help="numbers of workloads")
    parser.add_argument("--repeat", type=int, default=1, help="runs per measurement (best)")
    parser.add_argument("--keep", type=Path, help="write the cluster here and keep it")
    args = parser.parse_args()
    for n in args.sizes:
        bench(n, args.repeat, args.keep)


if __name__ == "__main__":
    main()
