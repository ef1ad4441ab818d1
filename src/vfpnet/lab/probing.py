"""Real connections between pods: every ordered pair, every declared port (TCP, UDP, SCTP).

One prober process per source pod runs inside that pod's namespace (so traffic starts
where the pod's would), a bounded number of them at once, each with a bounded number of
connections in flight and a per-connection timeout. Targets are only the lab's own pod
addresses.
"""

from __future__ import annotations

import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from vfpnet.lab.commands import LabError
from vfpnet.lab.expect import Expectation, ProbeSpec
from vfpnet.lab.runstate import PodRecord
from vfpnet.lab.vfp_answer import VfpAnswer

PROBE_TIMEOUT = 0.8
PROCESSES = 8
CONNECTIONS_PER_PROCESS = 32
# SCTP is probed with a raw INIT / INIT-ACK exchange (the kernel has no SCTP stack).
PROBED_PROTOCOLS = ("TCP", "UDP", "SCTP")


@dataclass(frozen=True)
class ProbeResult:
    spec: ProbeSpec
    expected: Expectation
    observed: bool
    vfp: VfpAnswer | None = None
    vfp_expected: bool | None = None

    @property
    def packets_agree(self) -> bool:
        return self.observed == self.expected.allowed

    @property
    def vfp_agrees(self) -> bool:
        return self.vfp is None or self.vfp.allowed == self.vfp_expected

    @property
    def agrees(self) -> bool:
        return self.packets_agree and self.vfp_agrees


def probe_specs(pods: dict[str, PodRecord], ports: dict[str, list[tuple[str, int]]]
                ) -> list[ProbeSpec]:
    specs = []
    for src in sorted(pods):
        for dst in sorted(pods):
            if src == dst:
                continue
            for proto, port in ports.get(dst, []):
                if proto in PROBED_PROTOCOLS:
                    specs.append(ProbeSpec(src, dst, proto, port))
    return specs


def send_probes(pods: dict[str, PodRecord], specs: list[ProbeSpec]) -> dict[str, bool]:
    """Whether each probe got its answer, keyed by `ProbeSpec.key`."""
    by_source: dict[str, list[ProbeSpec]] = {}
    for spec in specs:
        by_source.setdefault(spec.src, []).append(spec)

    def one(src: str) -> dict[str, bool]:
        request = {
            "timeout": PROBE_TIMEOUT,
            "parallel": CONNECTIONS_PER_PROCESS,
            "targets": [[s.key, s.protocol, pods[s.dst].ip, s.port] for s in by_source[src]],
        }
        try:
            res = subprocess.run(
                ["ip", "netns", "exec", pods[src].netns, sys.executable, "-m",
                 "vfpnet.lab.prober"],
                input=json.dumps(request), capture_output=True, text=True, timeout=120,
            )
        except subprocess.TimeoutExpired:
            raise LabError(f"pod {src}: prober timed out") from None
        if res.returncode != 0:
            raise LabError(f"pod {src}: prober failed: {res.stderr.strip()[-200:]}")
        out: dict[str, bool] = json.loads(res.stdout)
        return out

    results: dict[str, bool] = {}
    with ThreadPoolExecutor(max_workers=PROCESSES) as pool:
        for part in pool.map(one, sorted(by_source)):
            results.update(part)
    return results
