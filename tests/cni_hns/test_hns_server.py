"""The HNS backend through `vfpnet cni serve`: a worker opens the HNS (here the emulator's
state file) itself, so a call through the server makes the same endpoint, namespace
attachment and host routes as one run in-process, and its DEL removes them."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hnsnode import NOTHING, VFPNET, HnsNode

pytestmark = pytest.mark.skipif(
    not VFPNET.read_bytes().startswith(b"\x7fELF"),
    reason="the native vfpnet front is not installed (make setup builds it with a C compiler)",
)


@pytest.fixture
def server(node: HnsNode) -> Iterator[tuple[str, Path]]:
    sock, log = str(node.tmp / "cni.sock"), node.tmp / "server.log"
    with log.open("w") as log_file:
        proc = subprocess.Popen([str(VFPNET), "cni", "serve", "--socket", sock, "--spares", "1"],
                                stderr=log_file, stdout=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while "listening on" not in log.read_text():
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.05)
        yield sock, log
    finally:
        proc.terminate()
        assert proc.wait(timeout=30) == 0


@pytest.mark.parametrize("mode", ["l2bridge", "transparent-tunnel"])
def test_hns_add_and_del_through_the_server(node: HnsNode, server: tuple[str, Path],
                                            mode: str) -> None:
    sock, log = server
    conf = node.netconf(mode)
    namespace = node.namespace()
    result = node.add(conf, "c1", namespace, VFPNET_CNI_SOCKET=sock)
    [endpoint] = node.endpoints()
    assert endpoint["HostComputeNamespace"].upper() == namespace.upper()
    address = result["ips"][0]["address"].split("/")[0]
    routes = node.leftovers()["routes"]
    assert bool(routes) == (mode == "transparent-tunnel"), routes  # the /32 via the gateway
    rc, out = node.run("DEL", conf, "c1", namespace, VFPNET_CNI_SOCKET=sock)
    assert rc == 0, out
    assert node.leftovers() == NOTHING
    calls = log.read_text()
    assert "ADD container=c1 " in calls and "DEL container=c1 " in calls, calls
    assert address.startswith("10.240.0.")
