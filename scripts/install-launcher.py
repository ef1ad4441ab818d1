"""Write the `vfpnet` executable: a native front and a Python launcher without `site`.

pip's console script runs the interpreter with `site`, which scans site-packages and
executes its .pth files (setuptools' distutils hack, the editable finder): ~4 ms of every
CNI ADD/DEL, which the runtime waits for. The launcher runs `python -IS` (isolated: no
PYTHON* variables, no user site; no site) with the package's and site-packages' paths
written in at install time. As a CNI plugin (CNI_COMMAND set) it goes straight to the
plugin; otherwise it runs `site` as usual and then the normal CLI.

Even so, starting Python is ~8 ms, as long as the reference `bridge` plugin's whole ADD.
So `vfpnet` itself is native/vfpnet-shim.c compiled with the interpreter's and the
launcher's paths built in: a CNI call goes to a running `vfpnet cni serve` if there is one,
everything else (and a CNI call without a server) execs `python -IS launcher`. Without a
C compiler the launcher itself becomes `vfpnet` (a warning says so).

    .venv/bin/python scripts/install-launcher.py .venv/bin/vfpnet

Run by `make setup` after `pip install` (which writes its own `vfpnet` first).
"""

from __future__ import annotations

import os
import sys
import sysconfig
from pathlib import Path

TEMPLATE = '''#!{python} -IS
# vfpnet launcher, written by scripts/install-launcher.py (make setup); see there why.
import sys
sys.path[:0] = {paths!r}
import os
if os.environ.get("CNI_COMMAND"):
    from vfpnet.cni.plugin import main
    sys.exit(main())
del sys.path[:{count}]
import site
site.main()
from vfpnet.cli.main import main
sys.exit(main())
'''


def render(python: str) -> str:
    import vfpnet

    package_root = str(Path(vfpnet.__file__).resolve().parent.parent)
    paths = [package_root]
    for key in ("purelib", "platlib"):
        path = sysconfig.get_paths()[key]
        if path not in paths:
            paths.append(path)
    return TEMPLATE.format(python=python, paths=paths, count=len(paths))


def main() -> int:
    if len(sys.argv) != 2:
        print("usage: install-launcher.py BIN_PATH", file=sys.stderr)
        return 2
    target = Path(sys.argv[1])
    python = str(Path(sys.executable).absolute())  # the venv's, not the base interpreter
    launcher = target.parent.parent / "libexec" / "vfpnet-launcher.py"
    launcher.parent.mkdir(parents=True, exist_ok=True)
    _write(launcher, render(python).encode())
    native = _compile(python, str(launcher.absolute()))
    if native is None:
        _write(target, render(python).encode())
    else:
        _write(target, native)
    return 0


def _compile(python: str, launcher: str) -> bytes | None:
    """The native front built for these paths, or None (with a warning) if it cannot be."""
    import shutil
    import subprocess
    import tempfile

    source = Path(__file__).resolve().parent.parent / "native" / "vfpnet-shim.c"
    compiler = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    if compiler is None or not source.is_file():
        print("install-launcher: no C compiler (or native/vfpnet-shim.c missing): `vfpnet` is "
              "the Python launcher; CNI calls cannot use `vfpnet cni serve`", file=sys.stderr)
        return None
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "vfpnet"
        cmd = [compiler, "-O2", "-Wall", "-Wextra", "-Werror",
               f"-DVFPNET_PYTHON={_c_string(python)}",
               f"-DVFPNET_LAUNCHER={_c_string(launcher)}", "-o", str(out), str(source)]
        res = subprocess.run(cmd, capture_output=True, text=True)
        if res.returncode != 0:
            print(f"install-launcher: {' '.join(cmd)} failed, `vfpnet` is the Python "
                  f"launcher:\n{res.stderr}", file=sys.stderr)
            return None
        return out.read_bytes()


def _c_string(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def _write(target: Path, data: bytes) -> None:
    tmp = target.with_name(f".{target.name}.tmp{os.getpid()}")
    tmp.write_bytes(data)
    tmp.chmod(0o755)
    tmp.replace(target)


if __name__ == "__main__":
    sys.exit(main())
