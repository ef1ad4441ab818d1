"""Running `vfpnet vfp ...` as a user does: a subprocess, its exit status and output."""

from __future__ import annotations

import os
import subprocess
import sys


def vfpnet(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CNI_", "VFPNET_DEBUG"))}
    return subprocess.run(
        [sys.executable, "-m", "vfpnet", *args],
        capture_output=True,
        text=True,
        env=env,
        input=stdin,
        timeout=60,
    )


def assert_one_line_error(res: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert res.returncode != 0
    assert res.stdout == ""
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1, res.stderr
    assert "Traceback" not in res.stderr
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
