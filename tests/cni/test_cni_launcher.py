"""The installed `vfpnet` executable (scripts/install-launcher.py).

`vfpnet` is a native front (native/vfpnet-shim.c) that execs `python -IS` on a launcher
with the paths built in (or, for CNI calls, hands them to `vfpnet cni serve`); without a C
compiler the launcher itself is `vfpnet`. As a CNI plugin it must not depend on the
runtime's environment (PYTHONPATH is ignored) and needs no `site`; as the CLI it still
reads YAML through the site-packages' PyYAML.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from netlab import VFPNET

ROOT = Path(__file__).resolve().parents[2]


def _is_launcher(path: Path) -> bool:
    head = path.read_bytes()[:200]
    return head.startswith(b"#!") and b" -IS" in head.splitlines()[0]


pytestmark = pytest.mark.skipif(
    not (Path(VFPNET).read_bytes().startswith(b"\x7fELF") or _is_launcher(Path(VFPNET))),
    reason="the installed front or -IS launcher is missing in this venv (make setup installs it)",
)


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    # a decoy package earlier on PYTHONPATH: an isolated interpreter never sees it
    decoy = tmp_path / "decoy" / "vfpnet"
    decoy.mkdir(parents=True, exist_ok=True)
    (decoy / "__init__.py").write_text("raise SystemExit('decoy vfpnet imported')\n")
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"),
           "PYTHONPATH": str(tmp_path / "decoy"), "VFPNET_CNI_SOCKET": "off"}
    env.update(extra)
    return env


def test_plugin_answers_version_and_ignores_pythonpath(tmp_path: Path) -> None:
    res = subprocess.run([VFPNET], input='{"cniVersion": "1.0.0"}', capture_output=True,
                         text=True, env=_env(tmp_path, CNI_COMMAND="VERSION"), timeout=30)
    assert res.returncode == 0, res.stderr
    answer = json.loads(res.stdout)
    assert answer["cniVersion"] == "1.0.0"
    assert "1.1.0" in answer["supportedVersions"]


def test_cli_reads_yaml_through_site_packages(tmp_path: Path) -> None:
    manifest = tmp_path / "pods.yaml"
    manifest.write_text(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: a, namespace: n1, labels: {app: a}}\n"
        "spec: {containers: [{name: c, image: x}]}\n"
        "---\n"
        "apiVersion: v1\nkind: Pod\nmetadata: {name: b, namespace: n1, labels: {app: b}}\n"
        "spec: {containers: [{name: c, image: x}]}\n"
    )
    res = subprocess.run([VFPNET, "reach", "-f", str(manifest), "--format", "json"],
                         capture_output=True, text=True, env=_env(tmp_path), timeout=60)
    assert res.returncode == 0, res.stderr
    assert "decoy" not in res.stderr
    assert json.loads(res.stdout)


@pytest.mark.skipif(shutil.which("cc") is None, reason="no C compiler: the front cannot be built")
def test_front_is_native_and_its_launcher_runs_isolated() -> None:
    assert Path(VFPNET).read_bytes().startswith(b"\x7fELF")
    launcher = Path(VFPNET).parent.parent / "libexec" / "vfpnet-launcher.py"
    assert _is_launcher(launcher)
    assert str(launcher) in Path(VFPNET).read_bytes().decode("latin-1")


def test_without_a_compiler_the_launcher_is_the_executable(tmp_path: Path) -> None:
    target = tmp_path / "bin" / "vfpnet"
    target.parent.mkdir()
    res = subprocess.run([sys.executable, str(ROOT / "scripts" / "install-launcher.py"),
                          str(target)], capture_output=True, text=True, timeout=60,
                         env={**os.environ, "CC": "/bin/false"})
    assert res.returncode == 0, res.stderr
    assert "`vfpnet` is the Python launcher" in res.stderr
    assert _is_launcher(target)
    version = subprocess.run([str(target)], input='{"cniVersion": "0.4.0"}', capture_output=True,
                             text=True, env=_env(tmp_path, CNI_COMMAND="VERSION"), timeout=30)
    assert version.returncode == 0, version.stderr
    assert json.loads(version.stdout)["cniVersion"] == "0.4.0"


def test_cni_call_without_a_server_runs_the_plugin_in_a_new_interpreter(tmp_path: Path) -> None:
    env = _env(tmp_path, CNI_COMMAND="VERSION", VFPNET_CNI_SOCKET=str(tmp_path / "none.sock"))
    res = subprocess.run([VFPNET], input='{"cniVersion": "1.1.0"}', capture_output=True,
                         text=True, env=env, timeout=30)
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["supportedVersions"][-1] == "1.1.0"
