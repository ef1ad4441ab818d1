"""`vfpnet reach`: workload-level connectivity computed from manifests."""

from __future__ import annotations

import argparse
import sys
from typing import Any

DESCRIPTION = """\
Read Kubernetes manifests (workloads, Namespaces, NetworkPolicies, ClusterNetworkPolicies,
AdminNetworkPolicies, BaselineAdminNetworkPolicy) and print, for every ordered pair of
workloads, the ports on which a connection from the first to the second is allowed:
egress at the source and ingress at the destination, with the Admin tier, then
NetworkPolicy, then the Baseline tier, then the default (allow) deciding in that order.
Each workload (Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet, ReplicationController,
Job, CronJob) is one node, named NS/NAME (NS/NAME[Kind] where kinds share a name); Pods
made by a controller (ownerReferences, e.g. a cluster dump) are one node named after it.
Pairs with nothing allowed and pairs of a workload with itself are left out.
An ipBlock or networks peer matches a Pod through the IPs it is known to have
(status.podIP/podIPs), as real dataplanes do (netpol-analyzer never matches pods by IP).
Addresses outside the cluster appear as nodes of kind IPBlock named FIRST-LAST: the IPv4
space cut at every boundary the policies' ipBlocks and networks draw (as netpol-analyzer
does); --workloads-only leaves them out.

formats:
  table  a matrix: rows are sources, columns destinations; a cell is `All`, `-` (nothing),
         or protocols with port ranges such as `TCP 80,8080-8090 UDP 53`
  json   {"nodes": [...], "connections": [{"src", "dst", "allowed": {"TCP": [[a, b]]}}],
         "warnings": [...]} (ranges sorted, merged, inclusive)
  csv    src,dst,conn rows (conn as netpol-analyzer writes it: `All Connections`, `TCP 80`)
  dot    a Graphviz digraph, edges labelled with the allowed connections

Warnings (e.g. skipped kinds) are in the JSON; other formats print them on stderr.
Exit status: 0 on success, 2 on invalid input (one line on stderr, nothing on stdout).
"""


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "reach",
        help="workload-to-workload connectivity allowed by the policies in manifests",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "-f", "--file", dest="paths", action="append", required=True, metavar="PATH",
        help="a YAML/JSON manifest file, a directory (read recursively) or - for stdin; repeatable",
    )
    parser.add_argument(
        "--format", choices=("table", "json", "csv", "dot"), default="table",
        help="output format (default: table)",
    )
    parser.add_argument(
        "--workloads-only", action="store_true",
        help="leave out the IPBlock nodes (addresses outside the cluster)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from vfpnet.analysis.formats import render_reach
    from vfpnet.analysis.reach import reach
    from vfpnet.analysis.source import load_manifests

    result = reach(load_manifests(args.paths), external=not args.workloads_only)
    text = render_reach(result, args.format)
    if args.format != "json":
        for warning in result.warnings:
            print(f"vfpnet: warning: {warning}", file=sys.stderr)
    sys.stdout.write(text)
    return 0
