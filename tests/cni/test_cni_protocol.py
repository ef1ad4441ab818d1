"""The CNI wire protocol: VERSION, error objects and codes, version conversion, no tracebacks."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from netlab import VFPNET

from vfpnet.cni import errors
from vfpnet.cni.jsonwire import JsonError, dumps, loads
from vfpnet.cni.result import normalize, render
from vfpnet.cni.undo import UndoStack


def plugin(command: str, conf: object, tmp_path: Path, **env: str) -> tuple[int, dict[str, object]]:
    full = {k: v for k, v in os.environ.items() if not k.startswith(("CNI_", "VFPNET_"))}
    full.update({"CNI_COMMAND": command, "CNI_CONTAINERID": "c1", "CNI_IFNAME": "eth0",
                 "CNI_NETNS": "/var/run/netns/does-not-exist", "CNI_PATH": "/usr/lib/cni"})
    full.update(env)
    stdin = conf if isinstance(conf, str) else json.dumps(conf)
    res = subprocess.run([VFPNET], input=stdin, capture_output=True, text=True, env=full)
    assert "Traceback" not in res.stdout + res.stderr
    return res.returncode, json.loads(res.stdout) if res.stdout.strip() else {}


def netconf(tmp_path: Path, **extra: object) -> dict[str, object]:
    conf: dict[str, object] = {
        "cniVersion": "1.1.0", "name": "vtproto", "type": "vfpnet", "mode": "transparent",
        "stateDir": str(tmp_path / "state"),
        "ipam": {"type": "host-local", "ranges": [[{"subnet": "10.244.150.0/24"}]],
                 "dataDir": str(tmp_path / "ipam")},
    }
    conf.update(extra)
    return {k: v for k, v in conf.items() if v is not None}


def test_version_lists_supported_versions_and_echoes_the_requested_one(tmp_path: Path) -> None:
    rc, out = plugin("VERSION", {"cniVersion": "0.4.0"}, tmp_path)
    assert rc == 0
    assert out == {"cniVersion": "0.4.0",
                   "supportedVersions": ["0.1.0", "0.2.0", "0.3.0", "0.3.1", "0.4.0", "1.0.0",
                                         "1.1.0"]}


@pytest.mark.parametrize(("command", "conf_extra", "env", "code", "field"), [
    ("ADD", {"mode": "overlay"}, {}, 7, "mode"),
    ("ADD", {"mode": None}, {}, 7, "mode"),
    ("ADD", {"cniVersion": "2.0.0"}, {}, 1, "cniVersion"),
    ("ADD", {"cniVersion": "1.1"}, {}, 1, "cniVersion"),
    ("ADD", {"cniVersion": 1.1}, {}, 6, "cniVersion"),
    ("ADD", {"backend": "bsd"}, {}, 7, "backend"),
    ("ADD", {"gateway": "10.244.150.300"}, {}, 7, "gateway"),
    ("ADD", {"gateway": "0.0.0.0"}, {}, 7, "gateway"),
    ("ADD", {"tunnel": {"table": 254}}, {}, 7, "tunnel.table"),
    ("ADD", {"tunnel": {"mark": "zero"}}, {}, 7, "tunnel.mark"),
    ("ADD", {"ipam": {"type": "../../bin/sh"}}, {}, 7, "ipam.type"),
    ("ADD", {"ipam": {"ranges": []}}, {}, 7, "ipam.type"),
    ("ADD", {"ipam": {"type": "no-such-ipam"}}, {}, 7, "ipam.type"),
    ("ADD", {"stateDir": "relative/dir"}, {}, 7, "stateDir"),
    ("ADD", {}, {"CNI_NETNS": ""}, 4, "CNI_NETNS"),
    ("ADD", {}, {"CNI_NETNS": "0b3c5b5e-windows-guid"}, 4, "CNI_NETNS"),
    ("ADD", {}, {"CNI_CONTAINERID": "bad/id"}, 4, "CNI_CONTAINERID"),
    ("ADD", {}, {"CNI_IFNAME": "a-very-long-interface-name"}, 4, "CNI_IFNAME"),
    ("ADD", {}, {"CNI_ARGS": "K8S_POD_NAME"}, 4, "CNI_ARGS"),
    ("FROB", {}, {}, 4, "CNI_COMMAND"),
    ("DEL", {}, {"CNI_IFNAME": ""}, 4, "CNI_IFNAME"),
    ("CHECK", {"cniVersion": "0.3.1"}, {}, 1, "cniVersion"),
    ("STATUS", {"cniVersion": "1.0.0"}, {}, 1, "cniVersion"),
    ("GC", {"cni.dev/valid-attachments": {"containerID": "x"}}, {}, 7,
     "cni.dev/valid-attachments"),
    ("GC", {"cni.dev/valid-attachments": [{"containerID": 1}]}, {}, 7,
     "cni.dev/valid-attachments[0]"),
])
def test_bad_input_is_a_spec_error_object_naming_the_field(
    tmp_path: Path, command: str, conf_extra: dict[str, object], env: dict[str, str],
    code: int, field: str,
) -> None:
    rc, out = plugin(command, netconf(tmp_path, **conf_extra), tmp_path, **env)
    assert rc == 1
    assert out["code"] == code, out
    assert str(out["msg"]).startswith(field) or field in str(out["msg"]), out
    assert set(out) <= {"cniVersion", "code", "msg", "details"}
    assert not (tmp_path / "state").exists() or not list((tmp_path / "state").rglob("*.json"))
    ipam_dir = tmp_path / "ipam"
    allocations = list(ipam_dir.rglob("10.244.*")) if ipam_dir.exists() else []
    assert allocations == []  # an address IPAM gave before the failure went back


@pytest.mark.parametrize("stdin", ["{not json", "[1, 2]", "", "\"text\""])
def test_undecodable_config_is_error_code_6(tmp_path: Path, stdin: str) -> None:
    rc, out = plugin("ADD", stdin, tmp_path)
    assert rc == 1 and out["code"] == 6 and "stdin" in str(out["msg"])


def test_error_object_uses_the_configs_cni_version(tmp_path: Path) -> None:
    rc, out = plugin("ADD", netconf(tmp_path, cniVersion="0.4.0", mode="bogus"), tmp_path)
    assert rc == 1 and out["cniVersion"] == "0.4.0"


def test_status_is_ready_with_ipam_present_and_not_available_without(tmp_path: Path) -> None:
    rc, out = plugin("STATUS", netconf(tmp_path), tmp_path)
    assert rc == 0 and out == {}
    rc, out = plugin("STATUS", netconf(tmp_path), tmp_path, CNI_PATH=str(tmp_path))
    assert rc == 1 and out["code"] == 50 and "ipam.type" in str(out["msg"])


def test_unusable_state_dir_is_an_error_not_a_traceback(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    rc, out = plugin("DEL", netconf(tmp_path, stateDir=str(blocker / "sub")), tmp_path)
    assert rc == 1 and "stateDir" in str(out["msg"])


def test_result_for_old_versions_carries_ip_version_and_new_ones_do_not() -> None:
    result = {"interfaces": [{"name": "eth0"}], "ips": [{"address": "10.0.0.2/24",
                                                         "interface": 0}], "routes": []}
    old = render(result, "0.3.1")
    assert old["cniVersion"] == "0.3.1" and old["ips"] == [
        {"address": "10.0.0.2/24", "interface": 0, "version": "4"}]
    assert render(result, "1.1.0")["ips"] == [{"address": "10.0.0.2/24", "interface": 0}]
    assert normalize(old, "prevResult")["ips"] == result["ips"]


def test_normalize_rejects_a_prev_result_without_addresses() -> None:
    with pytest.raises(errors.CniError) as info:
        normalize({"ips": [{"gateway": "10.0.0.1"}]}, "prevResult")
    assert info.value.code == 6 and "prevResult.ips[0].address" in info.value.msg


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63) | st.text(max_size=20)
    | st.floats(allow_nan=False, allow_infinity=False),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=4),
    max_leaves=20,
)


@settings(max_examples=200, deadline=None)
@given(json_values)
def test_lean_json_reads_and_writes_what_the_json_module_does(value: object) -> None:
    assert loads(json.dumps(value)) == value
    assert json.loads(dumps(value)) == value


@pytest.mark.parametrize("text", ["{", "[1,]", "{} x", "nul", "\"\\x\""])
def test_lean_json_rejects_malformed_input(text: str) -> None:
    with pytest.raises(JsonError):
        loads(text)


def test_undo_runs_newest_first_and_keeps_going_after_a_failing_action() -> None:
    done: list[str] = []
    undo = UndoStack()
    undo.push("a", lambda: done.append("a"))
    undo.push("b", lambda: 1 / 0)
    undo.push("c", lambda: done.append("c"))
    failures = undo.rollback()
    assert done == ["c", "a"] and len(failures) == 1 and "undo b" in failures[0]
    assert len(undo) == 0


@pytest.mark.parametrize("command", ["VERSION", "ADD"])
def test_closed_stdout_is_exit_1_with_one_line_on_stderr_not_a_traceback(
        tmp_path: Path, command: str) -> None:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "CNI_COMMAND": command,
           "VFPNET_CNI_SOCKET": "off"}
    res = subprocess.run(["sh", "-c", f'exec "{VFPNET}" >&-'], input=b'{"cniVersion": "1.0.0"}',
                         stderr=subprocess.PIPE, env=env, timeout=60)
    assert res.returncode == 1
    assert res.stderr.decode() == "vfpnet: cannot write the answer to stdout: it is not open\n"
