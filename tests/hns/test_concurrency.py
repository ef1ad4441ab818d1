"""Many processes share one state file: nothing lost, nothing duplicated, no address twice."""

from __future__ import annotations

import multiprocessing
from typing import Any

from vfpnet.hns.emulator import Emulator
from vfpnet.hns.errors import HcnError

from .conftest import l2bridge

PROCESSES = 20
PER_PROCESS = 8


def _create_endpoints(state: str, network_id: str, worker: int, start: Any, out: Any) -> None:
    emu = Emulator(state)
    ids: list[str] = []
    start.wait()
    for i in range(PER_PROCESS):
        ep = emu.create_endpoint(network_id, {"Name": f"w{worker}-{i}"})
        ids.append(ep["ID"])
        if i % 3 == 0:  # churn: delete some and create again, as pods come and go
            emu.delete_endpoint(ep["ID"])
            ids.pop()
            ids.append(emu.create_endpoint(network_id, {"Name": f"w{worker}-{i}b"})["ID"])
    # every worker also races for the same fixed address: exactly one may win
    try:
        emu.create_endpoint(
            network_id,
            {"Name": f"fixed-{worker}", "IpConfigurations": [{"IpAddress": "10.240.3.250"}]},
        )
        ids.append("fixed")
    except HcnError as exc:
        assert exc.hresult == 0x803B0013
    emu.close()
    out.put((worker, ids))


def test_twenty_processes_creating_endpoints_at_once_lose_and_duplicate_nothing(
    state: str,
) -> None:
    emu = Emulator(state)
    net = emu.create_network(l2bridge("azure", "10.240.0.0/22", "10.240.0.1"))
    ctx = multiprocessing.get_context("fork")
    start = ctx.Barrier(PROCESSES)
    out = ctx.Queue()
    procs = [
        ctx.Process(target=_create_endpoints, args=(state, net["ID"], w, start, out))
        for w in range(PROCESSES)
    ]
    for p in procs:
        p.start()
    results = [out.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    reported = [i for _, ids in results for i in ids if i != "fixed"]
    winners = sum(1 for _, ids in results if "fixed" in ids)
    endpoints = emu.list_endpoints()
    emu.close()
    assert winners == 1
    assert len(reported) == PROCESSES * PER_PROCESS
    stored = {e["ID"] for e in endpoints}
    assert len(endpoints) == len(stored) == PROCESSES * PER_PROCESS + 1
    assert set(reported) <= stored
    addresses = [c["IpAddress"] for e in endpoints for c in e["IpConfigurations"]]
    assert len(addresses) == len(set(addresses))
