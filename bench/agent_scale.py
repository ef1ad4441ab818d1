"""How fast the agent gets a big cluster's policies into each dataplane.

A synthetic cluster: --pods pods (default 1,000) in 20 namespaces, --local of them on
this node (default 100; the rest on other nodes, known by their IPs), --policies
NetworkPolicies (default 200: ingress from a pod/namespace selector on TCP ports, every
fourth one also egress to a CIDR with an except). For each dataplane:

- cold: datastore snapshot + endpoints -> desired rules (the calculation) -> applied
  (nftables: one batch into a throwaway network namespace; HNS: the emulator, one
  ModifyEndpoint per endpoint);
- label change: a remote pod's label flips so that it leaves/enters the peer sets of
  several policies; the event is calculated and applied; median and p90 over --changes;
- memory: the process's peak RSS.

Goals (issue 6): cold < 2 s per dataplane, label change median < 50 ms, memory < 200 MB.
Run as root (nftables in a namespace): `.venv/bin/python bench/agent_scale.py`.
"""

from __future__ import annotations

import argparse
import copy
import os
import resource
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any

from vfpnet.agent.calc import Calculator, Delta
from vfpnet.agent.datastore.events import EventType, ObjectEvent, Snapshot
from vfpnet.agent.datastore.kinds import ObjectKey, RawObject
from vfpnet.agent.driver import Driver
from vfpnet.agent.endpoints import LocalEndpoint

NAMESPACES = 20
APPS = 40


def _ip(i: int) -> str:
    return f"10.64.{i // 250}.{i % 250 + 1}"


def cluster(pods: int, local: int, policies: int) -> tuple[dict[ObjectKey, RawObject], list[str]]:
    objects: dict[ObjectKey, RawObject] = {}
    for n in range(NAMESPACES):
        name = f"ns{n}"
        objects[ObjectKey("Namespace", "", name)] = {
            "apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": name, "labels": {"team": f"t{n % 5}"}},
        }
    ips = []
    for i in range(pods):
        ns, name, ip = f"ns{i % NAMESPACES}", f"pod{i}", _ip(i + 250)
        ips.append(ip)
        objects[ObjectKey("Pod", ns, name)] = {
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": ns,
                         "labels": {"app": f"app{i % APPS}", "role": f"r{i % 3}"}},
            "spec": {"nodeName": "node1" if i < local else f"node{2 + i % 9}",
                     "containers": [{"name": "c", "ports": [
                         {"containerPort": 8080, "name": "http"}]}]},
            "status": {"podIP": ip, "podIPs": [{"ip": ip}]},
        }
    for p in range(policies):
        ns = f"ns{p % NAMESPACES}"
        spec: dict[str, Any] = {
            "podSelector": {"matchLabels": {"app": f"app{p % APPS}"}},
            "ingress": [{
                "from": [
                    {"podSelector": {"matchLabels": {"app": f"app{(p * 7 + 1) % APPS}"}}},
                    {"namespaceSelector": {"matchLabels": {"team": f"t{p % 5}"}},
                     "podSelector": {"matchLabels": {"role": f"r{p % 3}"}}},
                ],
                "ports": [{"port": 80}, {"port": "http"}, {"port": 9000, "endPort": 9100}],
            }],
        }
        if p % 4 == 0:
            spec["egress"] = [{
                "to": [{"ipBlock": {"cidr": "172.16.0.0/12", "except": ["172.16.1.0/24"]}},
                       {"podSelector": {"matchLabels": {"app": f"app{(p + 3) % APPS}"}}}],
                "ports": [{"protocol": "UDP", "port": 53}, {"port": 443}],
            }]
            spec["policyTypes"] = ["Ingress", "Egress"]
        objects[ObjectKey("NetworkPolicy", ns, f"np{p}")] = {
            "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"name": f"np{p}", "namespace": ns}, "spec": spec,
        }
    return objects, ips


def local_endpoints(local: int, ips: list[str], handles: list[str]) -> list[LocalEndpoint]:
    return [
        LocalEndpoint(handles[i], (ips[i],), f"ns{i % NAMESPACES}", f"pod{i}")
        for i in range(local)
    ]


def measure(
    label: str, driver: Driver, objects: dict[ObjectKey, RawObject],
    endpoints: list[LocalEndpoint], changes: int,
) -> dict[str, float]:
    calc = Calculator("node1", "bench")
    t0 = time.perf_counter()
    calc.set_endpoints(endpoints)
    calc.load(Snapshot(objects, "1"))
    t1 = time.perf_counter()
    driver.resync(calc.desired)
    t2 = time.perf_counter()
    rules = sum(len(d.ingress) + len(d.egress) for d in calc.desired.values())
    # A remote pod whose app label decides its membership in several policies' peers.
    key = ObjectKey("Pod", "ns1", "pod901") if len(objects) > 1000 else next(
        k for k in objects if k.kind == "Pod")
    pod = copy.deepcopy(dict(objects[key]))
    latencies, touched = [], []
    for i in range(changes):
        pod["metadata"]["labels"]["app"] = f"app{(i * 11 + 3) % APPS}"
        event = ObjectEvent(EventType.MODIFIED, key, copy.deepcopy(pod), str(i + 2))
        start = time.perf_counter()
        delta: Delta = calc.apply_event(event)
        if delta:
            driver.apply(delta)
        latencies.append(time.perf_counter() - start)
        touched.append(len(delta.changed))
    figures = {
        "calc_s": t1 - t0, "apply_s": t2 - t1, "cold_s": t2 - t0,
        "change_median_ms": statistics.median(latencies) * 1000,
        "change_p90_ms": sorted(latencies)[int(len(latencies) * 0.9)] * 1000,
        "endpoints_per_change": statistics.mean(touched),
    }
    print(f"{label:9s} cold {figures['cold_s']:.3f} s (calculation {figures['calc_s']:.3f} s"
          f" + apply {figures['apply_s']:.3f} s); {len(calc.desired)} endpoints, {rules} rules")
    print(f"{label:9s} label change: median {figures['change_median_ms']:.1f} ms, p90 "
          f"{figures['change_p90_ms']:.1f} ms, {figures['endpoints_per_change']:.1f} endpoints "
          f"re-applied per change (of {len(calc.desired)})")
    return figures


def bench_nftables(objects: dict[ObjectKey, RawObject], ips: list[str], local: int,
                   changes: int) -> None:
    from vfpnet.agent.nft_runner import LibNft
    from vfpnet.agent.nftables_driver import NftablesDriver

    netns = f"vtb{secrets.token_hex(3)}"
    subprocess.run(["ip", "netns", "add", netns], check=True)
    try:
        driver = NftablesDriver(LibNft(netns))
        handles = [f"c{i}:eth0" for i in range(local)]
        measure("nftables", driver, objects, local_endpoints(local, ips, handles), changes)
    finally:
        subprocess.run(["ip", "netns", "del", netns], check=False)


def bench_hns(objects: dict[ObjectKey, RawObject], ips: list[str], local: int,
              changes: int) -> None:
    from vfpnet.agent.hns_driver import HnsDriver
    from vfpnet.hns.emulator import Emulator

    with tempfile.TemporaryDirectory(prefix="vtbench") as tmp:
        client = Emulator(os.path.join(tmp, "hns.db"))
        net = client.create_network({
            "Name": "podnet", "Type": "L2Bridge",
            "Ipams": [{"Type": "Static", "Subnets": [{"IpAddressPrefix": "10.64.0.0/14"}]}],
            "SchemaVersion": {"Major": 2, "Minor": 0},
        })
        handles = []
        for i in range(local):
            ep = client.create_endpoint(net["ID"], {
                "Name": f"ep{i}", "HostComputeNetwork": net["ID"],
                "IpConfigurations": [{"IpAddress": ips[i], "PrefixLength": 14}],
                "SchemaVersion": {"Major": 2, "Minor": 0},
            })
            handles.append(str(ep["ID"]))
        driver = HnsDriver(client, ("10.64.0.1",))
        measure("hns", driver, objects, local_endpoints(local, ips, handles), changes)
        print(f"hns       ModifyEndpoint calls: {driver.modify_calls} "
              f"(cold: one per endpoint; changes: one per changed endpoint)")
        client.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pods", type=int, default=1000)
    parser.add_argument("--local", type=int, default=100)
    parser.add_argument("--policies", type=int, default=200)
    parser.add_argument("--changes", type=int, default=21)
    parser.add_argument("--dataplane", choices=("nftables", "hns", "both"), default="both")
    args = parser.parse_args()
    objects, ips = cluster(args.pods, args.local, args.policies)
    print(f"cluster: {args.pods} pods ({args.local} local), {args.policies} NetworkPolicies, "
          f"{NAMESPACES} namespaces")
    if args.dataplane in ("nftables", "both"):
        if os.geteuid() != 0:
            print("nftables: skipped (needs root for a network namespace)", file=sys.stderr)
        else:
            bench_nftables(objects, ips, args.local, args.changes)
    if args.dataplane in ("hns", "both"):
        bench_hns(objects, ips, args.local, args.changes)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"memory: peak RSS {peak:.0f} MB (goal < 200 MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
