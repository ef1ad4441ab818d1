"""Fault injection: the Nth call of any operation fails with the HRESULT asked for."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import pytest

from vfpnet.hns.emulator import Emulator
from vfpnet.hns.errors import HcnError
from vfpnet.hns.faults import OPERATIONS, parse_fault_plan
from vfpnet.hns.schema.route import host_route

from .conftest import acl, l2bridge

ADD_ACL = {"ResourceType": "Policy", "RequestType": "Add", "Settings": {"Policies": [acl()]}}


def calls(emu: Emulator) -> dict[str, Callable[[], Any]]:
    """One call of every operation, on objects made for it."""
    net = emu.create_network(l2bridge())
    ep = emu.create_endpoint(net["ID"], {})
    ns = emu.create_namespace()
    spare_ns = emu.create_namespace()
    attached = emu.create_endpoint(net["ID"], {})
    emu.attach_endpoint(spare_ns["ID"], attached["ID"])
    route = host_route("10.240.0.50", "10.240.0.1")
    n = itertools.count()
    emu.add_route(host_route("10.240.0.51", "10.240.0.1"))
    return {
        "create_network": lambda: emu.create_network(l2bridge("n2", "10.9.0.0/24", "10.9.0.1")),
        "get_network": lambda: emu.get_network(net["ID"]),
        "list_networks": emu.list_networks,
        "modify_network": lambda: emu.modify_network(
            net["ID"], {"ResourceType": "DNS", "RequestType": "Update", "Settings": {"Domain": "x"}}
        ),
        "delete_network": lambda: emu.delete_network(
            emu.create_network(l2bridge(f"gone{next(n)}", "10.8.0.0/24", "10.8.0.1"))["ID"]
        ),
        "create_endpoint": lambda: emu.create_endpoint(net["ID"], {}),
        "get_endpoint": lambda: emu.get_endpoint(ep["ID"]),
        "list_endpoints": emu.list_endpoints,
        "modify_endpoint": lambda: emu.modify_endpoint(ep["ID"], ADD_ACL),
        "delete_endpoint": lambda: emu.delete_endpoint(emu.create_endpoint(net["ID"], {})["ID"]),
        "create_namespace": emu.create_namespace,
        "get_namespace": lambda: emu.get_namespace(ns["ID"]),
        "list_namespaces": emu.list_namespaces,
        "modify_namespace": lambda: emu.modify_namespace(
            ns["ID"],
            {"ResourceType": "Container", "RequestType": "Add", "Settings": {"ContainerId": "c1"}},
        ),
        "delete_namespace": lambda: emu.delete_namespace(emu.create_namespace()["ID"]),
        "attach_endpoint": lambda: emu.attach_endpoint(ns["ID"], ep["ID"]),
        "detach_endpoint": lambda: emu.detach_endpoint(spare_ns["ID"], attached["ID"]),
        "add_route": lambda: emu.add_route(route),
        "delete_route": lambda: emu.delete_route(host_route("10.240.0.51", "10.240.0.1")),
        "list_routes": emu.list_routes,
    }


def snapshot(emu: Emulator) -> Any:
    return (emu.list_networks(), emu.list_endpoints(), emu.list_namespaces(), emu.list_routes())


@pytest.mark.parametrize("operation", OPERATIONS)
def test_fault_at_each_operation_fails_that_call_only_and_changes_nothing(
    emu: Emulator, operation: str
) -> None:
    call = calls(emu)[operation]
    before = snapshot(emu)
    emu.inject_fault(operation, 1, "HCN_E_MANAGER_STOPPED")
    with pytest.raises(HcnError) as err:
        call()
    assert err.value.hresult == 0x803B0020
    if operation not in ("delete_network", "delete_endpoint", "delete_namespace"):
        assert snapshot(emu) == before  # those create their victim first
    call()  # the fault fired once and is gone


def test_fault_fires_on_the_nth_call_counted_from_when_it_was_set(
    emu: Emulator, net: dict[str, Any]
) -> None:
    emu.create_endpoint(net["ID"], {})
    emu.inject_fault("create_endpoint", 3, 0x803B0002)
    emu.create_endpoint(net["ID"], {})
    emu.create_endpoint(net["ID"], {})
    with pytest.raises(HcnError) as err:
        emu.create_endpoint(net["ID"], {})
    assert err.value.code == 0x803B0002
    emu.create_endpoint(net["ID"], {})
    assert len(emu.list_endpoints()) == 4


def test_fault_set_by_one_process_fails_a_call_of_another(state: str) -> None:
    emu = Emulator(state)
    net = emu.create_network(l2bridge())
    emu.inject_fault("create_endpoint", 1, "0x803B001E")
    emu.close()
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "vfpnet",
            "hns",
            "--state",
            state,
            "create-endpoint",
            net["ID"],
            "-",
        ],
        input="{}",
        capture_output=True,
        text=True,
        env=_env(),
    )
    assert res.returncode == 1
    assert res.stderr.startswith("vfpnet: 0x803B001E HCN_E_INVALID_IP")
    assert "Traceback" not in res.stderr


def test_fault_plan_in_the_environment_counts_this_process_calls(state: str) -> None:
    emu = Emulator(state)
    net = emu.create_network(l2bridge())
    emu.close()
    script = (
        "import sys\n"
        "from vfpnet.hns.emulator import Emulator\n"
        "from vfpnet.hns.errors import HcnError\n"
        "from vfpnet.hns.schema.route import host_route\n"
        f"e = Emulator({state!r})\n"
        f"e.create_endpoint({net['ID']!r}, {{}})\n"
        "try:\n"
        "    e.add_route(host_route('10.240.0.2', '10.240.0.1'))\n"
        "except HcnError as x:\n"
        "    print(hex(x.hresult)); sys.exit(0)\n"
        "sys.exit(3)\n"
    )
    env = _env() | {"VFPNET_HNS_FAULTS": "add_route:1:ERROR_NOT_FOUND"}
    res = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "0x80070490"


@pytest.mark.parametrize(
    "plan", ["create_endpoint:0:0x1", "frobnicate:1:0x1", "create_endpoint:1:NOPE", "x:y"]
)
def test_malformed_fault_plan_is_refused_naming_the_item(plan: str) -> None:
    with pytest.raises(ValueError, match="VFPNET_HNS_FAULTS"):
        parse_fault_plan(plan)


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("CNI_", "VFPNET_HNS"))}
