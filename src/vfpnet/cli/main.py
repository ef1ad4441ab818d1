"""Entry point of the `vfpnet` executable.

When `CNI_COMMAND` is set the executable is a CNI plugin and nothing but the plugin is
imported (the ADD path must stay lean). Otherwise each subcommand lives in its own
module under `vfpnet.cli`, which only declares arguments and calls one function.
"""

from __future__ import annotations

import os
import sys

# Subcommand name -> module that defines `add_parser(subparsers)`.
SUBCOMMANDS: dict[str, str] = {
    "reach": "vfpnet.cli.reach",
    "explain": "vfpnet.cli.explain",
    "hns": "vfpnet.cli.hns",
    "vfp": "vfpnet.cli.vfp",
    "agent": "vfpnet.cli.agent",
    "lab": "vfpnet.cli.lab",
    "cni": "vfpnet.cli.cni",
}


def main(argv: list[str] | None = None) -> int:
    if argv is None and os.environ.get("CNI_COMMAND"):
        from vfpnet.cni.plugin import main as cni_main

        return cni_main()
    return _run_cli(sys.argv[1:] if argv is None else argv)


def _run_cli(argv: list[str]) -> int:
    import importlib

    from vfpnet import __version__
    from vfpnet.cli.parser import OneLineParser
    from vfpnet.errors import VfpnetError

    parser = OneLineParser(
        prog="vfpnet",
        description=(
            "Kubernetes pod networking and network policy for Windows (HNS/VFP) nodes "
            "with a Linux twin. Run `vfpnet COMMAND --help` for each command. With "
            "CNI_COMMAND set in the environment, vfpnet acts as a CNI plugin."
        ),
    )
    parser.add_argument("--version", action="version", version=f"vfpnet {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in SUBCOMMANDS.values():
        importlib.import_module(module).add_parser(sub)
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return 2
    try:
        result: int = args.func(args)
        return result
    except VfpnetError as exc:
        print(f"vfpnet: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
    except Exception as exc:  # never a traceback for a user; VFPNET_DEBUG=1 shows it
        if os.environ.get("VFPNET_DEBUG"):
            raise
        print(f"vfpnet: internal error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
