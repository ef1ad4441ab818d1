"""`vfpnet agent`: the policy agent (run, cleanup, status)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

DESCRIPTION = """\
The policy agent: reads Namespaces, Pods and network policies from a datastore, computes
the rules of every local endpoint (joined to its Pod by K8S_POD_NAMESPACE/K8S_POD_NAME
from the CNI state, or by address for HNS endpoints), and programs them into a dataplane:
nftables (Linux; the table `inet vfpnet`) or HNS ACLs (Windows; the emulator with
--hns-state). --once: one full sync, then exit 0, or non-zero with the reason.

  vfpnet agent --datastore files:DIR|kubernetes|etcd:URL[,URL...] \\
               --dataplane nftables|hns --node NAME [--once]
  vfpnet agent cleanup --dataplane nftables|hns     remove everything the agent programmed
  vfpnet agent status [--format text|json]          endpoints, policies, last sync, errors

The status file is <run dir>/status.json; the run dir is --run-dir, else
$VFPNET_AGENT_RUN_DIR, else /run/vfpnet/agent.
"""


def _dataplane_options(parser: argparse.ArgumentParser, required: bool) -> None:
    parser.add_argument("--dataplane", choices=("nftables", "hns"), required=required)
    parser.add_argument("--table", default="vfpnet", help="nftables table name (inet family)")
    parser.add_argument("--hns-state", metavar="PATH", default=os.environ.get("VFPNET_HNS_STATE"),
                        help="HNS emulator state file (off Windows; default $VFPNET_HNS_STATE)")


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "agent", help="the policy agent: datastore -> per-endpoint rules -> nftables or HNS",
        description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("action", nargs="?", choices=("run", "cleanup", "status"),
                        default="run", help="default: run")
    parser.add_argument("--datastore", metavar="SPEC")
    _dataplane_options(parser, required=False)
    parser.add_argument("--node", metavar="NAME")
    parser.add_argument("--once", action="store_true", help="one full sync, then exit")
    parser.add_argument("--run-dir", metavar="DIR")
    parser.add_argument(
        "--cni-state-dir", metavar="DIR",
        default=os.environ.get("VFPNET_CNI_STATE_DIR") or "/var/lib/vfpnet/cni",
        help="where the CNI plugin records endpoints (nftables dataplane; default "
             "$VFPNET_CNI_STATE_DIR, else /var/lib/vfpnet/cni, as the CNI plugin)",
    )
    parser.add_argument("--host-address", action="append", default=[], metavar="IP",
                        help="the node's own address(es), always allowed in (hns)")
    parser.add_argument("--resync-seconds", type=float, default=30.0)
    parser.add_argument("--metrics-port", type=int, metavar="PORT",
                        help="serve Prometheus metrics on 127.0.0.1:PORT/metrics")
    parser.add_argument("--format", choices=("text", "json"), default="text")
    parser.add_argument("-v", "--verbose", action="store_true", help="log every change")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import logging

    from vfpnet.agent import daemon, status
    from vfpnet.errors import InputError

    logging.basicConfig(
        level=logging.INFO if args.verbose or args.action == "run" else logging.WARNING,
        format="%(asctime)s %(levelname)s %(message)s", stream=sys.stderr,
    )
    if args.action == "status":
        data = status.read_status(status.run_dir(args.run_dir))
        print(json.dumps(data, indent=1) if args.format == "json" else status.format_status(data))
        return 0
    if not args.dataplane:
        raise InputError("--dataplane: required (nftables or hns)")
    config = daemon.AgentConfig(
        datastore=args.datastore or "", dataplane=args.dataplane, node=args.node or "",
        once=args.once, run_dir=args.run_dir, cni_state_dir=args.cni_state_dir,
        hns_state=args.hns_state, host_addresses=tuple(args.host_address), table=args.table,
        resync_seconds=args.resync_seconds, metrics_port=args.metrics_port,
    )
    if args.action == "cleanup":
        daemon.cleanup(config)
        print(f"removed everything the agent programmed in {args.dataplane}")
        return 0
    if not args.datastore:
        raise InputError("--datastore: required (files:DIR, kubernetes or etcd:URL[,URL...])")
    if not args.node:
        raise InputError("--node: required (this node's name, as Pods' spec.nodeName)")
    return daemon.run_agent(config)
