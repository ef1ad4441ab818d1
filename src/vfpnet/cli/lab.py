"""`vfpnet lab`: a mixed Linux/Windows-twin cluster on this machine, probed with real packets."""

from __future__ import annotations

import argparse
import json
from typing import Any

DESCRIPTION = """\
Build a small cluster on this machine (root needed): a fabric namespace that routes
between nodes and enforces the cloud NSG, Linux nodes and Windows-twin nodes (HNS
emulator + VFP model, realized in namespaces), pods wired by the vfpnet CNI, the vfpnet
agent on every node, and a responder in every pod for its containerPorts.

  up -f CLUSTER.yaml   build it (a crashed earlier `up` is cleaned first)
  probe                converge on the manifests as they are now, connect every ordered
                       pod pair on every declared TCP/UDP port, and compare the packets
                       with the policy (+ NSG) and, on Windows-twin nodes, the VFP trace
  status               what is running
  down                 remove every namespace, link, table, process and file of the lab

The run dir is $VFPNET_LAB_DIR (default /run/vfpnet-lab).
Exit status: probe exits 1 when an answer disagrees; 2 on invalid input.
"""


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "lab", help="a mixed Linux/Windows-twin cluster on this machine, with real probes",
        description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="lab_command", metavar="ACTION", required=True)
    up = sub.add_parser("up", help="build the lab from CLUSTER.yaml")
    up.add_argument("-f", "--file", dest="config", required=True, metavar="CLUSTER.yaml")
    up.set_defaults(func=run_up)
    probe = sub.add_parser("probe", help="probe every pod pair and compare the three answers")
    probe.add_argument("--format", choices=("table", "json", "html"), default="table")
    probe.add_argument("-o", "--output", metavar="FILE",
                       help="write the output here instead of stdout (e.g. the HTML page)")
    probe.add_argument("--html", metavar="FILE",
                       help="also write the HTML page here (one probe, two outputs)")
    probe.set_defaults(func=run_probe)
    status = sub.add_parser("status", help="what is running")
    status.add_argument("--format", choices=("text", "json"), default="text")
    status.set_defaults(func=run_status)
    down = sub.add_parser("down", help="remove everything the lab created")
    down.set_defaults(func=run_down)


def run_up(args: argparse.Namespace) -> int:
    from vfpnet.lab.lifecycle import up

    state = up(args.config)
    print(f"lab up: prefix {state.prefix}, {len(state.pods)} pods")
    return 0


def run_probe(args: argparse.Namespace) -> int:
    from vfpnet.lab.lifecycle import probe
    from vfpnet.lab.report import agreement_line, report_json, report_table

    report = probe()
    if args.format == "json":
        text = json.dumps(report_json(report), indent=1)
    elif args.format == "html":
        from vfpnet.lab.html_page import report_html

        text = report_html(report)
    else:
        text = report_table(report)
    if args.html:
        from vfpnet.lab.html_page import report_html

        with open(args.html, "w", encoding="utf-8") as f:
            f.write(report_html(report))
    if args.output:
        with open(args.output, "w", encoding="utf-8") as f:
            f.write(text)
        print(agreement_line(report))
    else:
        print(text)
    return 1 if report.disagreements else 0


def run_status(args: argparse.Namespace) -> int:
    from vfpnet.lab.lifecycle import status

    info = status()
    if args.format == "json":
        print(json.dumps(info, indent=1))
        return 0
    print(f"run dir: {info['run_dir']}  phase: {info['phase']}")
    if "prefix" in info:
        print(f"prefix: {info['prefix']}  namespaces: {info['namespaces']}  "
              f"config: {info['config']}")
        for pod in info["pods"]:
            print(f"  {pod['node']:<10} {pod['pod']:<30} {pod['ip']:<15} {pod['mode']}")
    return 0


def run_down(args: argparse.Namespace) -> int:
    from vfpnet.lab.lifecycle import down

    removed = down()
    namespaces = sum(1 for r in removed if r.startswith("netns"))
    processes = sum(1 for r in removed if r.startswith("process"))
    print(f"lab down: removed {namespaces} namespaces, {processes} processes")
    return 0
