"""`vfpnet vfp set-nsg` / `show-nsg` and the command's usage errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from .cli_run import assert_one_line_error, vfpnet

RULES = {
    "securityRules": [
        {
            "name": "deny-web-in",
            "properties": {
                "priority": 100,
                "direction": "Inbound",
                "access": "Deny",
                "protocol": "Tcp",
                "sourceAddressPrefix": "*",
                "sourcePortRange": "*",
                "destinationAddressPrefix": "VirtualNetwork",
                "destinationPortRange": "80",
            },
        }
    ]
}


def test_set_nsg_persists_and_show_nsg_lists_it_with_defaults(tmp_path: Path) -> None:
    state, nsg_file = tmp_path / "state.db", tmp_path / "nsg.json"
    nsg_file.write_text(json.dumps(RULES))
    res = vfpnet("vfp", "--state", str(state), "set-nsg", str(nsg_file))
    assert res.returncode == 0, res.stderr
    assert "1 rules" in res.stdout
    shown = vfpnet("vfp", "--state", str(state), "show-nsg", "--format", "json")
    assert json.loads(shown.stdout)["securityRules"][0]["name"] == "deny-web-in"
    text = vfpnet("vfp", "--state", str(state), "show-nsg").stdout
    assert "deny-web-in" in text and "DenyAllInBound" in text and "65500" in text


def test_set_nsg_reads_stdin(tmp_path: Path) -> None:
    state = tmp_path / "state.db"
    res = vfpnet("vfp", "--state", str(state), "set-nsg", "-", stdin=json.dumps(RULES))
    assert res.returncode == 0, res.stderr


def test_invalid_nsg_is_refused_and_leaves_the_stored_one(tmp_path: Path) -> None:
    state, good, bad = tmp_path / "state.db", tmp_path / "good.json", tmp_path / "bad.json"
    good.write_text(json.dumps(RULES))
    assert vfpnet("vfp", "--state", str(state), "set-nsg", str(good)).returncode == 0
    broken = json.loads(json.dumps(RULES))
    second = json.loads(json.dumps(RULES["securityRules"][0]))
    second["name"] = "second"
    second["properties"]["priority"] = 5000  # above Azure's 4096
    broken["securityRules"].append(second)
    bad.write_text(json.dumps(broken))
    res = vfpnet("vfp", "--state", str(state), "set-nsg", str(bad))
    assert res.returncode == 2
    assert_one_line_error(res, str(bad), "securityRules[1]", "'second'", "'priority'")
    shown = vfpnet("vfp", "--state", str(state), "show-nsg", "--format", "json")
    assert [r["name"] for r in json.loads(shown.stdout)["securityRules"]] == ["deny-web-in"]


def test_missing_nsg_file_is_one_line_error(tmp_path: Path) -> None:
    res = vfpnet("vfp", "--state", str(tmp_path / "s.db"), "set-nsg", str(tmp_path / "no.json"))
    assert_one_line_error(res, "no.json", "cannot read")


def test_nsg_file_not_utf8_is_one_line_error(tmp_path: Path) -> None:
    nsg_file = tmp_path / "nsg.json"
    nsg_file.write_bytes(b"\xff\xfe{}")
    res = vfpnet("vfp", "--state", str(tmp_path / "s.db"), "set-nsg", str(nsg_file))
    assert_one_line_error(res, "nsg.json", "not UTF-8")


def test_nsg_on_stdin_not_utf8_is_one_line_error_naming_stdin(tmp_path: Path) -> None:
    res = subprocess.run(
        [sys.executable, "-m", "vfpnet", "vfp", "--state", str(tmp_path / "s.db"), "set-nsg", "-"],
        input=b"\xff\xfe{}",
        capture_output=True,
        timeout=60,
    )
    assert res.returncode == 2 and res.stdout == b""
    assert res.stderr.decode() == "vfpnet: <stdin>: not UTF-8 text (invalid start byte at byte 0)\n"


@pytest.mark.parametrize(
    ("name", "text", "says"),
    [
        ("deep.json", "[" * 100_000, "nested too deeply"),
        ("deep.yaml", "a: " + "[" * 100_000, "nested too deeply"),
        ("big.json", '{"securityRules": ' + "9" * 5000 + "}", "invalid JSON: Exceeds the limit"),
        ("big.yaml", "securityRules: " + "9" * 5000, "invalid YAML: Exceeds the limit"),
    ],
)
def test_nsg_file_python_cannot_decode_is_one_line_error(
    tmp_path: Path, name: str, text: str, says: str
) -> None:
    nsg_file = tmp_path / name
    nsg_file.write_text(text)
    res = vfpnet("vfp", "--state", str(tmp_path / "s.db"), "set-nsg", str(nsg_file))
    assert res.returncode == 2
    assert_one_line_error(res, f"{name}: {says}")


def test_show_nsg_of_a_missing_state_file_is_one_line_error(tmp_path: Path) -> None:
    res = vfpnet("vfp", "--state", str(tmp_path / "none.db"), "show-nsg")
    assert_one_line_error(res, "none.db", "no such file")


def test_missing_state_option_is_one_line_error() -> None:
    assert_one_line_error(vfpnet("vfp", "show-nsg"), "--state")


def test_missing_state_file_is_one_line_error(tmp_path: Path) -> None:
    res = vfpnet("vfp", "--state", str(tmp_path / "none.db"), "list-rules", "--endpoint", "x")
    assert_one_line_error(res, "none.db", "no such file")


def test_bad_protocol_and_address_are_one_line_errors(tmp_path: Path) -> None:
    base = ["vfp", "--state", str(tmp_path / "s.db"), "trace", "--endpoint", "e",
            "--direction", "in"]  # fmt: skip
    res = vfpnet(*base, "--protocol", "GRE", "--src", "10.0.0.1:1", "--dst", "10.0.0.2:80")
    assert_one_line_error(res, "protocol", "GRE")
    res = vfpnet(*base, "--protocol", "TCP", "--src", "10.0.0.1", "--dst", "10.0.0.2:80")
    assert_one_line_error(res, "--src", "port is required")
    res = vfpnet(*base, "--protocol", "TCP", "--src", "10.0.0.300:1", "--dst", "10.0.0.2:80")
    assert_one_line_error(res, "--src", "not an IP address")
    res = vfpnet(*base, "--protocol", "TCP", "--src", "10.0.0.1:1", "--dst", "[fd00::1]:80")
    assert_one_line_error(res, "IPv4", "IPv6")


def test_usage_error_of_a_vfp_command_is_one_line() -> None:
    res = vfpnet("vfp", "--state", "x.db", "trace", "--endpoint", "e", "--direction", "up")
    assert res.returncode == 2
    assert_one_line_error(res, "--direction", "invalid choice")


def test_concurrent_set_nsg_and_emulator_writes_share_the_state_file(tmp_path: Path) -> None:
    import subprocess
    import sys

    from vfpnet.hns.emulator import Emulator

    state = tmp_path / "state.db"
    files = []
    for i in range(6):
        doc = json.loads(json.dumps(RULES))
        doc["securityRules"][0]["name"] = f"writer-{i}"
        path = tmp_path / f"nsg{i}.json"
        path.write_text(json.dumps(doc))
        files.append(path)
    emu = Emulator(str(state))
    try:
        net = emu.create_network(
            {"Name": "n", "Type": "L2Bridge", "SchemaVersion": {"Major": 2, "Minor": 0},
             "Ipams": [{"Type": "Static", "Subnets": [{"IpAddressPrefix": "10.9.0.0/24"}]}]}
        )  # fmt: skip
        procs = [
            subprocess.Popen(
                [sys.executable, "-m", "vfpnet", "vfp", "--state", str(state), "set-nsg", str(f)],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for f in files
        ]
        created = [
            emu.create_endpoint(net["ID"], {"Name": f"e{i}", "SchemaVersion": {"Major": 2}})["ID"]
            for i in range(10)
        ]
        results = [(*p.communicate(timeout=60), p.returncode) for p in procs]
        assert all(rc == 0 for _, _, rc in results), results
        assert sorted(e["ID"] for e in emu.list_endpoints()) == sorted(created)
    finally:
        emu.close()
    shown = json.loads(vfpnet("vfp", "--state", str(state), "show-nsg", "--format", "json").stdout)
    assert [r["name"] for r in shown["securityRules"]] in [[f"writer-{i}"] for i in range(6)]
