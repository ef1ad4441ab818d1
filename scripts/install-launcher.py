"""Write the `vfpnet` executable: a launcher that starts the interpreter without `site`.

pip's console script runs the interpreter with `site`, which scans site-packages and
executes its .pth files (setuptools' distutils hack, the editable finder): ~4 ms of every
CNI ADD/DEL, which the runtime waits for. This launcher runs `python -IS` (isolated: no
PYTHON* variables, no user site; no site) with the package's and site-packages' paths
written in at install time. As a CNI plugin (CNI_COMMAND set) it goes straight to the
plugin; otherwise it runs `site` as usual and then the normal CLI.

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
    tmp = target.with_name(f".{target.name}.tmp{os.getpid()}")
    tmp.write_text(render(python))
    tmp.chmod(0o755)
    tmp.replace(target)
    return 0


if __name__ == "__main__":
    sys.exit(main())
