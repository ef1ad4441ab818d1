"""VFP model speed: warm verdicts through the flow table, first packets through 1,000 rules.

Goals (issue 4, section 5): >= 200,000 warm verdicts/s; a new flow's first packet through
1,000 ACL rules in < 1 ms. Run: .venv/bin/python bench/vfp_verdicts.py
"""

from __future__ import annotations

import statistics
import time
from typing import Any

from vfpnet.vfp import Packet, build_port
from vfpnet.vfp.packet import TCP

POD = "10.240.0.5"


def acl(i: int, **settings: Any) -> dict[str, Any]:
    base = {"Protocols": "6", "Action": "Allow", "Direction": "In", "RuleType": "Switch"}
    return {"Type": "ACL", "Settings": {**base, "Priority": 1000 + i, "Id": f"r{i}", **settings}}


def endpoint(policies: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "ID": "bench-ep",
        "IpConfigurations": [{"IpAddress": POD, "PrefixLength": 16}],
        "Policies": policies,
    }


def warm_verdicts(flows: int = 1000, rounds: int = 200) -> float:
    """Verdicts per second for packets of established flows (forward and reply)."""
    port = build_port(endpoint([acl(0, RemoteAddresses="10.0.0.0/8", LocalPorts="80")]))
    packets = [
        Packet(TCP, f"10.1.{i // 250}.{i % 250 + 1}", 30000 + i, POD, 80) for i in range(flows)
    ]
    replies = [p.reply() for p in packets]
    for p in packets:
        assert port.process(p, "in").verdict == "allow"
    process = port.process
    start = time.perf_counter()
    for _ in range(rounds):
        for p in packets:
            process(p, "in")
        for r in replies:
            process(r, "out")
    elapsed = time.perf_counter() - start
    return 2 * flows * rounds / elapsed


def first_packet_latency(
    rules: int = 1000, samples: int = 2000, same_peer: bool = False
) -> tuple[float, float]:
    """Median and p99 seconds for a new flow whose only matching rule is the last one.

    With `same_peer` every rule names the packet's source, so each rule is rejected only
    at its port test (the slowest walk).
    """
    policies = [
        acl(
            i,
            RemoteAddresses="10.0.0.0/8" if same_peer else f"192.168.{i // 250}.{i % 250 + 1}/32",
            LocalPorts=str(1000 + i),
        )
        for i in range(rules - 1)
    ]
    policies.append(acl(rules, RemoteAddresses="10.0.0.0/8", LocalPorts="80,443,8000-9000"))
    port = build_port(endpoint(policies))
    assert sum(len(g.rules) for g in port.layers[0].groups) == rules
    times: list[float] = []
    for i in range(samples):
        packet = Packet(TCP, f"10.2.{i // 250}.{i % 250 + 1}", 20000 + i, POD, 8080)
        t0 = time.perf_counter()
        verdict = port.process(packet, "in")
        times.append(time.perf_counter() - t0)
        assert verdict.verdict == "allow" and verdict.flow == "new", verdict
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.99)]


def main() -> None:
    rate = warm_verdicts()
    print(f"warm verdicts through the flow table: {rate:,.0f}/s (goal >= 200,000/s)")
    for same_peer, label in ((False, "distinct peers"), (True, "same peer, ports differ")):
        median, p99 = first_packet_latency(same_peer=same_peer)
        print(
            f"first packet of a new flow through 1,000 ACL rules ({label}): "
            f"median {median * 1e3:.3f} ms, p99 {p99 * 1e3:.3f} ms (goal < 1 ms)"
        )


if __name__ == "__main__":
    main()
