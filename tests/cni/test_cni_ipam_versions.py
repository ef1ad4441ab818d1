"""The IPAM plugin's VERSION answer is kept, so ADD runs an older IPAM plugin once, not thrice.

Debian's host-local supports up to 1.0.0 and refuses a 1.1.0 configuration; the plugin
then asks it for its versions and repeats the call at 1.0.0. A logging wrapper around
host-local counts the execs.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from netlab import Lab, needs_root

pytestmark = [needs_root, pytest.mark.net]
SUBNET_OCTET = 103


def _logging_ipam(lab: Lab, name: str, extra: str = "") -> tuple[Path, Path]:
    bin_dir = lab.tmp / f"bin-{name}"
    bin_dir.mkdir(exist_ok=True)
    log = lab.tmp / f"{name}.log"
    wrapper = bin_dir / name
    wrapper.write_text(f'#!/bin/sh\n{extra}echo "$CNI_COMMAND" >> {log}\n'
                       "exec /usr/lib/cni/host-local\n")
    wrapper.chmod(0o755)
    return bin_dir, log


def _calls(log: Path) -> list[str]:
    calls = log.read_text().split() if log.exists() else []
    log.write_text("")
    return calls


def _add_del(lab: Lab, bin_dir: Path, name: str, container: str) -> None:
    conf = lab.netconf("transparent", cniVersion="1.1.0")
    conf["ipam"] = {"type": name, "ranges": [[{"subnet": lab.subnet}]],
                    "dataDir": str(lab.ipam_dir)}
    pod = lab.pod()
    path = f"{bin_dir}:/usr/lib/cni"
    rc, out = lab.run("ADD", conf, container, pod, CNI_PATH=path)
    assert rc == 0, out
    assert out is not None and out["cniVersion"] == "1.1.0"
    rc, out = lab.run("DEL", conf, container, pod, CNI_PATH=path)
    assert rc == 0, out


def test_ipam_version_answer_is_cached_so_a_later_add_execs_the_plugin_once(lab: Lab) -> None:
    bin_dir, log = _logging_ipam(lab, "logipam")
    _add_del(lab, bin_dir, "logipam", "first")
    assert _calls(log) == ["ADD", "VERSION", "ADD", "DEL"]
    _add_del(lab, bin_dir, "logipam", "second")
    assert _calls(log) == ["ADD", "DEL"]
    lab.assert_clean()


def test_a_replaced_ipam_plugin_is_asked_for_its_versions_again(lab: Lab) -> None:
    bin_dir, log = _logging_ipam(lab, "swapipam")
    _add_del(lab, bin_dir, "swapipam", "before")
    _calls(log)
    _logging_ipam(lab, "swapipam", extra=": a new build\n")  # other size, inode and mtime
    _add_del(lab, bin_dir, "swapipam", "after")
    assert _calls(log) == ["ADD", "VERSION", "ADD", "DEL"]
    lab.assert_clean()


def test_a_corrupt_version_cache_is_asked_again_and_rewritten(lab: Lab) -> None:
    bin_dir, log = _logging_ipam(lab, "badipam")
    _add_del(lab, bin_dir, "badipam", "warm")
    _calls(log)
    [cached] = (lab.state_dir / ".ipam-versions").glob("*badipam.versions")
    cached.write_text("{not json")
    _add_del(lab, bin_dir, "badipam", "cold")
    assert _calls(log) == ["ADD", "VERSION", "ADD", "DEL"]
    assert "1.0.0" in json.loads(cached.read_text())["versions"]
    lab.assert_clean()
