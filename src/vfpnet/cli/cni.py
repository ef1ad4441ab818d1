"""`vfpnet cni serve`: the warm CNI server the native `vfpnet` front hands calls to."""

from __future__ import annotations

import argparse
import os
from typing import Any

DESCRIPTION = """\
Run CNI calls in a warm process. The installed `vfpnet` executable is a small native
front: as a CNI plugin (CNI_COMMAND set) it passes its stdin, stdout, stderr and
environment to this server over a Unix socket and exits with the call's status; the
server forks one worker per call from a process that has the plugin already imported,
so a call does not wait for Python to start. Without a server the front runs the plugin
in a new interpreter: the same answers, a few milliseconds slower.

Run one per node (a systemd unit or a DaemonSet container with the host's /run), as root.
The socket is mode 0600 and only the server's own user may call it. SIGTERM or SIGINT:
stop accepting, let running calls finish, remove the socket. Restart it after upgrading
vfpnet: it runs the code it started with. Logs one line per call on stderr.

  vfpnet cni serve [--socket PATH] [--spares N]

The front finds the socket at $VFPNET_CNI_SOCKET, else /run/vfpnet/cni.sock;
VFPNET_CNI_SOCKET=off makes it always run the plugin itself.
"""


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "cni", help="the CNI plugin's warm server (`vfpnet cni serve`)",
        description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("action", choices=("serve",), help="serve: run the server")
    parser.add_argument(
        "--socket", metavar="PATH", default=None,
        help="Unix socket to listen on (default $VFPNET_CNI_SOCKET, else /run/vfpnet/cni.sock)",
    )
    parser.add_argument("--spares", type=int, default=4, metavar="N",
                        help="workers kept forked and waiting for a call, 1..64 (default 4)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import logging

    from vfpnet.cni.server import serve

    # the same stamp as the workers' lines (vfpnet.cni.server._log): one format per log
    logging.basicConfig(level=logging.INFO, format="%(asctime)s vfpnet cni: %(message)s",
                        datefmt="%Y-%m-%d %H:%M:%S")
    path = args.socket
    origin = "--socket off"
    if path is None:  # read here, not when the parser is built: the message can say whence
        path = os.environ.get("VFPNET_CNI_SOCKET") or "/run/vfpnet/cni.sock"
        origin = "VFPNET_CNI_SOCKET=off (the default of --socket)"
    if path == "off":
        from vfpnet.errors import InputError

        raise InputError(f"{origin}: name a socket path to listen on")
    result: int = serve(path, spares=args.spares)
    return result
