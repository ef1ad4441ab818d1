"""`vfpnet explain`: why one connection between two workloads is allowed or denied."""

from __future__ import annotations

import argparse
import sys
from typing import Any

DESCRIPTION = """\
For one connection (source workload, destination workload, protocol, destination port),
print whether it is allowed and, for egress at the source and for ingress at the
destination, what decided: the tier (Admin, NetworkPolicy, Baseline, or Default), the
policy and the rule index (0-based, in the policy's list for that direction), or the
default that applied, with a one-line reason. The connection is allowed when both are.

Workloads are named NS/NAME, or NS/NAME[Kind] where two kinds share NS/NAME (as in
`vfpnet reach`); a Pod made by a controller may be named itself or as its controller.
Either end may also be an address outside the cluster: an IP address, or an IPBlock node
of `vfpnet reach` (FIRST-LAST, standing for its first address); it has no policy of its
own and only ipBlock/networks peers match it.

json: {"allowed": bool, "egress": {"allowed", "tier", "policy", "rule", "reason"},
       "ingress": {...}}
Exit status: 0 (whatever the verdict), 2 on invalid input or an unknown workload.
"""


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "explain",
        help="which tier, policy and rule decide one connection",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "-f", "--file", dest="paths", action="append", required=True, metavar="PATH",
        help="a YAML/JSON manifest file, a directory (read recursively) or - for stdin; repeatable",
    )
    parser.add_argument("--from", dest="src", required=True, metavar="NS/NAME",
                        help="the source workload (or an outside address)")
    parser.add_argument("--to", dest="dst", required=True, metavar="NS/NAME",
                        help="the destination workload (or an outside address)")
    parser.add_argument("--port", type=int, required=True, metavar="N",
                        help="destination port (1-65535)")
    parser.add_argument("--protocol", default="TCP", metavar="PROTO",
                        help="TCP (default), UDP or SCTP")
    parser.add_argument("--format", choices=("text", "json"), default="text",
                        help="output format (default: text)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from vfpnet.analysis.explain import explain
    from vfpnet.analysis.formats import render_explain
    from vfpnet.analysis.source import load_manifests

    result = explain(load_manifests(args.paths), args.src, args.dst, args.port, args.protocol)
    sys.stdout.write(render_explain(result, args.format))
    return 0
