"""`vfpnet vfp`: the VFP model of a node, shaped like vfpctrl.

vfpnet vfp --state PATH list-rules --endpoint ID [--format text|json]
vfpnet vfp --state PATH set-nsg FILE|-
vfpnet vfp --state PATH show-nsg [--format text|json]
vfpnet vfp --state PATH trace --endpoint ID --direction in|out --protocol P
                              --src IP:PORT --dst IP:PORT [--reply] [--format text|json]
vfpnet vfp --state PATH trace-path --from-endpoint ID --dst IP:PORT --protocol P
                                   [--src-port N] [--format text|json]
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from vfpnet.cli.parser import OneLineParser


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "vfp",
        help="the VFP model: rules of an endpoint's port, packet and path traces, uplink NSG",
        description="Inspect the VFP model of a node kept in an HNS emulator state file.",
    )
    parser.add_argument("--state", metavar="PATH", help="the HNS emulator state file")
    parser.set_defaults(func=_no_command, vfp_parser=parser)
    sub = parser.add_subparsers(dest="vfp_command", metavar="COMMAND", parser_class=OneLineParser)

    p = sub.add_parser("list-rules", help="layers, groups and rules of an endpoint's port")
    p.add_argument("--endpoint", required=True, metavar="ID")
    _format(p)
    p.set_defaults(func=run, action=_list_rules)

    p = sub.add_parser("set-nsg", help="set the uplink NSG from a JSON/YAML file")
    p.add_argument("file", metavar="FILE", help="NSG rules (Azure securityRules shape), - = stdin")
    p.set_defaults(func=run, action=_set_nsg)

    p = sub.add_parser("show-nsg", help="the uplink NSG, defaults included")
    _format(p)
    p.set_defaults(func=run, action=_show_nsg)

    p = sub.add_parser("trace", help="one packet through one endpoint's layers")
    p.add_argument("--endpoint", required=True, metavar="ID")
    p.add_argument("--direction", required=True, choices=("in", "out"))
    p.add_argument("--protocol", required=True, metavar="TCP|UDP|SCTP|ICMP")
    p.add_argument("--src", required=True, metavar="IP:PORT")
    p.add_argument("--dst", required=True, metavar="IP:PORT")
    p.add_argument(
        "--reply",
        action="store_true",
        help="the packet answers a connection: trace that connection's first packet first",
    )
    _format(p)
    p.set_defaults(func=run, action=_trace)

    p = sub.add_parser("trace-path", help="a packet's path from an endpoint across the node")
    p.add_argument("--from-endpoint", required=True, metavar="ID")
    p.add_argument("--dst", required=True, metavar="IP:PORT")
    p.add_argument("--protocol", required=True, metavar="TCP|UDP|SCTP|ICMP")
    p.add_argument("--src-port", type=int, metavar="N")
    _format(p)
    p.set_defaults(func=run, action=_trace_path)


def _format(p: argparse.ArgumentParser) -> None:
    p.add_argument("--format", choices=("text", "json"), default="text")


def _no_command(args: argparse.Namespace) -> int:
    args.vfp_parser.print_usage(sys.stderr)
    return 2


def run(args: argparse.Namespace) -> int:
    from vfpnet.errors import InputError

    if not args.state:
        raise InputError(f"vfp {args.vfp_command}: --state PATH is required")
    result: int = args.action(args)
    return result


def _emit(args: argparse.Namespace, as_dict: dict[str, Any], text: str) -> None:
    if getattr(args, "format", "text") == "json":
        print(json.dumps(as_dict, indent=2))
    else:
        print(text)


def _list_rules(args: argparse.Namespace) -> int:
    from vfpnet.vfp import queries, render

    port = queries.endpoint_rules(args.state, args.endpoint)
    _emit(args, render.port_as_dict(port), render.port_text(port))
    return 0


def _set_nsg(args: argparse.Namespace) -> int:
    from vfpnet.vfp import queries

    nsg = queries.set_nsg(args.state, args.file)
    print(f"NSG set: {len(nsg.rules)} rules")
    return 0


def _show_nsg(args: argparse.Namespace) -> int:
    from vfpnet.vfp import queries, render
    from vfpnet.vfp.nsg import nsg_as_dict

    nsg = queries.show_nsg(args.state)
    _emit(args, nsg_as_dict(nsg), render.nsg_text(nsg))
    return 0


def _trace(args: argparse.Namespace) -> int:
    from vfpnet.vfp import queries, render

    verdict = queries.trace_packet(
        args.state, args.endpoint, args.direction, args.protocol, args.src, args.dst, args.reply
    )
    _emit(args, render.verdict_dict(verdict), render.verdict_text(verdict))
    return 0


def _trace_path(args: argparse.Namespace) -> int:
    from vfpnet.vfp import queries, render

    trace = queries.trace_path(
        args.state, args.from_endpoint, args.dst, args.protocol, args.src_port
    )
    _emit(args, render.path_as_dict(trace), render.path_text(trace))
    return 0
