"""HNS emulator speed: endpoint create+delete (goal: median < 5 ms).

Run: .venv/bin/python bench/hns_emulator.py [--rounds N]
Prints the median and 95th percentile of one create_endpoint + delete_endpoint pair on a
fresh state file, on one already holding 1,000 endpoints, and with an ACL-laden endpoint.
(The VFP verdict figures live in bench/vfp_verdicts.py.)
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from vfpnet.hns.emulator import Emulator

NETWORK = {
    "Name": "bench",
    "Type": "L2Bridge",
    "Ipams": [
        {
            "Type": "Static",
            "Subnets": [
                {
                    "IpAddressPrefix": "10.240.0.0/16",
                    "Routes": [{"NextHop": "10.240.0.1", "DestinationPrefix": "0.0.0.0/0"}],
                }
            ],
        }
    ],
    "SchemaVersion": {"Major": 2, "Minor": 0},
}

ACL_ENDPOINT = {
    "Name": "bench-acl",
    "Policies": [
        {
            "Type": "ACL",
            "Settings": {
                "Protocols": "6",
                "Action": "Allow",
                "Direction": "In",
                "RemoteAddresses": f"10.{i}.0.0/16",
                "LocalPorts": "80,443",
                "RuleType": "Switch",
                "Priority": 100 + i,
            },
        }
        for i in range(50)
    ],
}


def measure(emu: Emulator, network_id: str, settings: dict[str, Any], rounds: int) -> list[float]:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        ep = emu.create_endpoint(network_id, settings)
        emu.delete_endpoint(ep["ID"])
        times.append((time.perf_counter() - start) * 1000)
    return times


def report(label: str, times: list[float]) -> None:
    p95 = sorted(times)[int(len(times) * 0.95) - 1]
    print(f"{label:<48} median {statistics.median(times):6.3f} ms   p95 {p95:6.3f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=500)
    rounds = parser.parse_args().rounds
    with tempfile.TemporaryDirectory(prefix="vt-bench-hns") as tmp:
        emu = Emulator(str(Path(tmp) / "state.db"))
        net = emu.create_network(NETWORK)
        measure(emu, net["ID"], {}, 20)  # warm up
        report("create+delete endpoint (allocated address)", measure(emu, net["ID"], {}, rounds))
        report("create+delete endpoint with 50 ACLs", measure(emu, net["ID"], ACL_ENDPOINT, rounds))
        for _ in range(1000):
            emu.create_endpoint(net["ID"], {})
        report(
            "create+delete endpoint, 1,000 endpoints present", measure(emu, net["ID"], {}, rounds)
        )
        emu.close()
    print("goal: median < 5 ms")


if __name__ == "__main__":
    main()
