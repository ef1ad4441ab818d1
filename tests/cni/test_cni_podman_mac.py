"""`podman run --mac-address` on a vfpnet network: the container's eth0 has that MAC.

Uses the Podman harness of test_cni_podman (its own instance, removed at the end).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from test_cni_podman import Podman, _per_pod_objects, pytestmark  # noqa: F401

MAC = "c2:5a:11:22:33:44"


@pytest.fixture(scope="module")
def pm() -> Iterator[Podman]:
    podman = Podman()
    try:
        yield podman
    finally:
        podman.close()


@pytest.mark.parametrize("mode", ["l2bridge", "transparent"])
def test_podman_mac_address_is_the_containers_eth0_mac(pm: Podman, mode: str) -> None:
    net = pm.network(mode)
    before = _per_pod_objects(pm)
    name = f"{pm.prefix}mac{mode[:2]}"
    pm.run("run", "-d", "--name", name, "--network", net, "--mac-address", MAC,
           "localhost/vtbb:1", "sleep", "600")
    try:
        link = pm.run("exec", name, "ip", "-o", "link", "show", "eth0").stdout
        assert f"link/ether {MAC} " in link, link
        inspect = pm.run("inspect", "--format",
                         "{{range .NetworkSettings.Networks}}{{.MacAddress}}{{end}}",
                         name).stdout.strip()
        assert inspect == MAC
    finally:
        pm.run("rm", "-f", "-t", "0", name)
    assert _per_pod_objects(pm) == before
