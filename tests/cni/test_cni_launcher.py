"""The installed `vfpnet` executable (scripts/install-launcher.py): `python -IS`, paths built in.

As a CNI plugin it must not depend on the runtime's environment (PYTHONPATH is ignored)
and needs no `site`; as the CLI it still reads YAML through the site-packages' PyYAML.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from netlab import VFPNET

pytestmark = pytest.mark.skipif(
    not Path(VFPNET).read_text(errors="replace").startswith("#!") or " -IS" not in
    Path(VFPNET).read_text(errors="replace").splitlines()[0],
    reason="the -IS launcher is not installed in this venv (make setup installs it)",
)


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    # a decoy package earlier on PYTHONPATH: an isolated interpreter never sees it
    decoy = tmp_path / "decoy" / "vfpnet"
    decoy.mkdir(parents=True, exist_ok=True)
    (decoy / "__init__.py").write_text("raise SystemExit('decoy vfpnet imported')\n")
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"),
           "PYTHONPATH": str(tmp_path / "decoy")}
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
