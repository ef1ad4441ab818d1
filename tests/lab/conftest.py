"""Fixtures of the lab tests: a private run dir (never the user's lab) removed at the end."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="networking tests need root")


@pytest.fixture
def run_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    from vfpnet.lab.teardown import teardown

    root = tmp_path / "run"
    monkeypatch.setenv("VFPNET_LAB_DIR", str(root))
    try:
        yield root
    finally:
        teardown(root)
