"""Helpers for the manifest tests: write manifests to a temporary directory, run
`vfpnet reach` on them in-process, and read back its exit status and output."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from vfpnet.cli.main import main

ManifestWriter = Callable[..., str]


@pytest.fixture
def write(tmp_path: Path) -> ManifestWriter:
    """write(*docs, name="m.yaml") -> path; docs are dicts (dumped as multi-document
    YAML) or one str (written as it is)."""

    def _write(*docs: Any, name: str = "m.yaml") -> str:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if len(docs) == 1 and isinstance(docs[0], str):
            path.write_text(docs[0])
        else:
            path.write_text(yaml.safe_dump_all(docs, sort_keys=False))
        return str(path)

    return _write


@pytest.fixture
def reach_error(capsys: pytest.CaptureFixture[str]) -> Callable[..., str]:
    """reach_error(*paths) -> the one stderr line of a `vfpnet reach` that must fail
    with exit status 2 and print nothing on stdout."""

    def _run(*paths: str) -> str:
        argv = ["reach"]
        for p in paths:
            argv += ["-f", p]
        status = main(argv)
        out, err = capsys.readouterr()
        assert status == 2, (status, out, err)
        assert out == ""
        lines = err.splitlines()
        assert len(lines) == 1, err
        assert "Traceback" not in err
        return lines[0]

    return _run
