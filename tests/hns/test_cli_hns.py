"""`vfpnet hns` as a user (or a script) meets it: JSON out, HRESULTs on stderr, no tracebacks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from .conftest import RECORDED, acl, l2bridge


def hns(state: str, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CNI_", "VFPNET_HNS"))}
    return subprocess.run(
        [sys.executable, "-m", "vfpnet", "hns", "--state", state, *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
    )


def ok(res: subprocess.CompletedProcess[str]) -> Any:
    assert res.returncode == 0, res.stderr
    assert res.stderr == ""
    return json.loads(res.stdout) if res.stdout.strip() else None


@pytest.fixture
def network(state: str, tmp_path: Path) -> dict[str, Any]:
    path = tmp_path / "net.json"
    path.write_text(json.dumps(l2bridge()))
    created: dict[str, Any] = ok(hns(state, "create-network", str(path)))
    return created


def test_create_network_and_endpoint_print_hcn_json_with_ID(
    state: str, network: dict[str, Any]
) -> None:
    assert network["Name"] == "azure" and len(network["ID"]) == 36
    ep = ok(
        hns(state, "create-endpoint", network["ID"], str(RECORDED / "azure_cni_endpoint_v2.json"))
    )
    assert ep["HostComputeNetwork"] == network["ID"] and "Id" not in ep
    assert ok(hns(state, "get", "endpoint", ep["ID"])) == ep


def test_stdin_is_read_for_dash(state: str, network: dict[str, Any]) -> None:
    ep = ok(hns(state, "create-endpoint", network["ID"], "-", stdin='{"Name": "from-stdin"}'))
    assert ep["Name"] == "from-stdin"


def test_modify_endpoint_takes_a_modify_request(state: str, network: dict[str, Any]) -> None:
    ep = ok(hns(state, "create-endpoint", network["ID"], "-", stdin="{}"))
    request = {"ResourceType": "Policy", "RequestType": "Add", "Settings": {"Policies": [acl()]}}
    out = ok(hns(state, "modify-endpoint", ep["ID"], "-", stdin=json.dumps(request)))
    assert out["Policies"] == [acl()]


def test_modify_network_takes_npm_set_policies(state: str, network: dict[str, Any]) -> None:
    out = ok(
        hns(state, "modify-network", network["ID"], str(RECORDED / "azure_npm_setpolicy_add.json"))
    )
    assert [p["Type"] for p in out["Policies"]] == ["SetPolicy"] * 4


def test_list_json_is_an_array_and_plain_list_is_a_table(
    state: str, network: dict[str, Any]
) -> None:
    ep = ok(hns(state, "create-endpoint", network["ID"], "-", stdin='{"Name": "web-1"}'))
    assert [e["ID"] for e in ok(hns(state, "list", "endpoints", "--json"))] == [ep["ID"]]
    assert ok(hns(state, "list", "namespaces", "--json")) == []
    table = hns(state, "list", "endpoints")
    assert table.returncode == 0
    header, rule, row = table.stdout.splitlines()
    assert header.startswith("Endpoint Id") and "IP Address" in header
    assert set(rule) <= {"-", "+"}
    assert ep["ID"] in row and "web-1" in row and "10.240.0.2" in row and "azure" in row
    assert "azure" in hns(state, "list", "networks").stdout


def test_delete_then_get_is_refused_with_the_hresult(state: str, network: dict[str, Any]) -> None:
    ep = ok(hns(state, "create-endpoint", network["ID"], "-", stdin="{}"))
    assert ok(hns(state, "delete-endpoint", ep["ID"])) is None
    res = hns(state, "get", "endpoint", ep["ID"])
    assert res.returncode == 1 and res.stdout == ""
    assert res.stderr.startswith(
        "vfpnet: 0x803B0002 HCN_E_ENDPOINT_NOT_FOUND: The endpoint was not found."
    )
    ok(hns(state, "delete-network", network["ID"]))
    res = hns(state, "delete-network", network["ID"])
    assert "0x803B0001" in res.stderr


@pytest.mark.parametrize(
    ("args", "stdin", "code"),
    [
        (("create-network", "-"), json.dumps(l2bridge()), "0x803B0010"),
        (("create-network", "-"), "{not json", "0x803B001B"),
        (
            ("create-endpoint", "NET", "-"),
            json.dumps({"Policies": [acl(RemoteAddresses="Any")]}),
            "0x803B000D",
        ),
        (
            ("create-endpoint", "NET", "-"),
            '{"IpConfigurations": [{"IpAddress": "192.168.9.9"}]}',
            "0x803B001E",
        ),
    ],
)
def test_refused_calls_exit_non_zero_with_hresult_and_message_and_no_traceback(
    state: str, network: dict[str, Any], args: tuple[str, ...], stdin: str, code: str
) -> None:
    res = hns(state, *[network["ID"] if a == "NET" else a for a in args], stdin=stdin)
    assert res.returncode != 0
    assert res.stdout == ""
    assert f"vfpnet: {code} HCN_E_" in res.stderr
    assert "Traceback" not in res.stderr and len(res.stderr.splitlines()) == 1


def test_routes_add_list_delete_like_route_exe(state: str) -> None:
    ok(hns(state, "routes", "add", "10.240.0.7", "mask", "255.255.255.255", "10.240.0.1"))
    ok(hns(state, "routes", "add", "10.240.0.8/32", "10.240.0.1", "--if", "3", "--metric", "5"))
    dup = hns(state, "routes", "add", "10.240.0.7", "10.240.0.1")
    assert dup.returncode == 1 and "0x1392" in dup.stderr and "already exists" in dup.stderr
    assert ok(hns(state, "routes", "list", "--json")) == [
        {
            "DestinationPrefix": "10.240.0.7/32",
            "NextHop": "10.240.0.1",
            "InterfaceIndex": 0,
            "Metric": 0,
        },
        {
            "DestinationPrefix": "10.240.0.8/32",
            "NextHop": "10.240.0.1",
            "InterfaceIndex": 3,
            "Metric": 5,
        },
    ]
    ok(hns(state, "routes", "delete", "10.240.0.7", "10.240.0.1"))
    missing = hns(state, "routes", "delete", "10.240.0.7", "10.240.0.1")
    assert missing.returncode == 1 and "0x490 ERROR_NOT_FOUND: Element not found." in missing.stderr
    assert "10.240.0.8/32" in hns(state, "routes").stdout


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("routes", "add", "10.0.0.1"), "expected DEST [mask MASK] GATEWAY, got 10.0.0.1"),
        (("routes", "add", "nonsense", "10.0.0.1"), "'nonsense' does not appear to be"),
        (("routes", "frob"), "unknown verb 'frob' (list, add, delete)"),
        (("create-network", "/nonexistent/vt-net.json"), "cannot read"),
        (("inject-fault", "frobnicate", "1", "0x1"), "unknown operation 'frobnicate'"),
        (("inject-fault", "create_endpoint", str(2**70), "0x1"), "N must be 1 to"),
        (("inject-fault", "create_endpoint", "1", "0x1FFFFFFFFF"), "does not fit in 32 bits"),
        (("--hns-version", str(2**70) + ".1", "version"), "parts must be 0 to 2147483647"),
    ],
)
def test_bad_command_line_input_is_one_line_exit_two(
    state: str, args: tuple[str, ...], says: str
) -> None:
    res = hns(state, *args)
    assert res.returncode == 2, res.stderr
    assert res.stderr.startswith("vfpnet: ") and len(res.stderr.splitlines()) == 1
    assert says in res.stderr


def test_state_file_that_is_not_a_database_is_named(tmp_path: Path) -> None:
    bad = tmp_path / "vt-notdb"
    bad.write_text("hello, this is not sqlite" * 100)
    res = hns(str(bad), "list", "networks")
    assert res.returncode == 2 and str(bad) in res.stderr and "Traceback" not in res.stderr


def test_version_namespaces_attach_restart(state: str, network: dict[str, Any]) -> None:
    info = ok(hns(state, "--hns-version", "13.0", "version"))
    assert info["Version"] == {"Major": 13, "Minor": 0}
    assert info["SupportedFeatures"]["SetPolicy"] is True
    ns = ok(hns(state, "create-namespace"))
    ep = ok(hns(state, "create-endpoint", network["ID"], "-", stdin="{}"))
    ok(hns(state, "attach", ns["ID"], ep["ID"]))
    assert ok(hns(state, "get", "namespace", ns["ID"]))["Resources"][0]["Data"]["ID"] == ep["ID"]
    ok(hns(state, "restart", "--reboot"))
    assert ok(hns(state, "list", "endpoints", "--json")) == []


def test_state_may_follow_the_action_and_is_required_off_windows(state: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CNI_", "VFPNET_HNS"))}
    after = subprocess.run(
        [sys.executable, "-m", "vfpnet", "hns", "list", "networks", "--json", "--state", state],
        capture_output=True,
        text=True,
        env=env,
    )
    assert after.returncode == 0 and json.loads(after.stdout) == []
    missing = subprocess.run(
        [sys.executable, "-m", "vfpnet", "hns", "list", "networks"],
        capture_output=True,
        text=True,
        env=env,
    )
    assert missing.returncode == 2 and "--state" in missing.stderr


def test_a_network_may_be_named_by_its_name(state: str, network: dict[str, Any]) -> None:
    ep = ok(hns(state, "create-endpoint", "azure", "-", stdin="{}"))
    assert ep["HostComputeNetwork"] == network["ID"]
    assert ok(hns(state, "get", "network", "azure"))["ID"] == network["ID"]
    assert "0x803B0001" in hns(state, "get", "network", "nope").stderr


def test_hns_version_from_the_environment_gates_features(state: str, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CNI_", "VFPNET_HNS"))}
    env["VFPNET_HNS_VERSION"] = "12.0"
    res = subprocess.run(
        [sys.executable, "-m", "vfpnet", "hns", "--state", state, "version"],
        capture_output=True,
        text=True,
        env=env,
    )
    assert json.loads(res.stdout)["SupportedFeatures"]["SetPolicy"] is False
