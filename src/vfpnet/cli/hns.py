"""`vfpnet hns`: HNS as hnsdiag shows it, on the emulator's state file (or real HNS).

    vfpnet hns --state PATH create-network FILE|-
    vfpnet hns --state PATH create-endpoint NETWORK_ID FILE|-
    vfpnet hns --state PATH modify-network NETWORK_ID FILE|-
    vfpnet hns --state PATH modify-endpoint ENDPOINT_ID FILE|-
    vfpnet hns --state PATH delete-network ID | delete-endpoint ID | delete-namespace ID
    vfpnet hns --state PATH get network|endpoint|namespace ID
    vfpnet hns --state PATH list networks|endpoints|namespaces [--json] [--query JSON]
    vfpnet hns --state PATH routes [list [--json] | add DEST [mask MASK] GATEWAY | delete ...]
    vfpnet hns --state PATH create-namespace [FILE|-] | attach NS_ID EP_ID | detach NS_ID EP_ID
    vfpnet hns --state PATH version | inject-fault OPERATION N HRESULT | restart [--reboot]

A refused call prints HNS's HRESULT and message on stderr and exits 1.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

STATE_ENV = "VFPNET_HNS_STATE"


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "hns",
        help="HNS networks, endpoints, namespaces and host routes (emulator or Windows)",
        description="Create, modify, list and delete HNS objects as HCN v2 JSON, like hnsdiag.",
    )
    p.add_argument(
        "--state",
        default=os.environ.get(STATE_ENV),
        help=f"the HNS emulator's state file (default: ${STATE_ENV})",
    )
    p.add_argument("--hns-version", help="HNS version the emulator answers as (e.g. 13.0)")
    # --state/--hns-version are also taken after the ACTION (`hns list networks --state X`).
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--state", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    common.add_argument("--hns-version", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    sub = p.add_subparsers(dest="hns_command", metavar="ACTION", required=True)

    def add_action(name: str, **kwargs: Any) -> argparse.ArgumentParser:
        parser: argparse.ArgumentParser = sub.add_parser(name, parents=[common], **kwargs)
        return parser

    for name, what in (("create-network", "a network"), ("create-namespace", "a namespace")):
        c = add_action(name, help=f"create {what} from HCN JSON (FILE or - for stdin)")
        c.add_argument("file", nargs="?" if name == "create-namespace" else None, metavar="FILE")
    for name, idname in (
        ("create-endpoint", "NETWORK_ID"),
        ("modify-network", "NETWORK_ID"),
        ("modify-endpoint", "ENDPOINT_ID"),
    ):
        c = add_action(name, help=f"{name.replace('-', ' ')} from HCN JSON (FILE or -)")
        c.add_argument("id", metavar=idname)
        c.add_argument("file", metavar="FILE")
    for name in ("delete-network", "delete-endpoint", "delete-namespace"):
        c = add_action(name, help=name.replace("-", " "))
        c.add_argument("id", metavar="ID")
    g = add_action("get", help="print one object as HCN JSON")
    g.add_argument("kind", choices=("network", "endpoint", "namespace"))
    g.add_argument("id", metavar="ID")
    ls = add_action("list", help="list objects (a table like hnsdiag's, or --json)")
    ls.add_argument("kind", choices=("networks", "endpoints", "namespaces"))
    ls.add_argument("--json", action="store_true", help="print a JSON array")
    ls.add_argument("--query", help="an HCN query (JSON), e.g. with a Filter")
    r = add_action("routes", help="the node's host routes: list, add, delete")
    r.add_argument(
        "words",
        nargs="*",
        metavar="ARG",
        help="list [--json] | add DEST [mask MASK] GATEWAY | delete DEST [mask MASK] GATEWAY",
    )
    r.add_argument("--json", action="store_true", help="list as a JSON array")
    r.add_argument("--if", dest="interface", type=int, default=0, help="interface index")
    r.add_argument("--metric", type=int, default=0, help="route metric")
    for name, what in (
        ("attach", "attach an endpoint to a namespace"),
        ("detach", "detach an endpoint from its namespace"),
    ):
        a = add_action(name, help=what)
        a.add_argument("namespace_id", metavar="NAMESPACE_ID")
        a.add_argument("endpoint_id", metavar="ENDPOINT_ID")
    add_action("version", help="HNS version and supported features as JSON")
    f = add_action("inject-fault", help="fail the Nth call of OPERATION with HRESULT")
    f.add_argument("operation")
    f.add_argument("nth", type=int, metavar="N")
    f.add_argument("hresult", metavar="HRESULT")
    rs = add_action("restart", help="restart HNS (drops endpoints, non-persistent networks)")
    rs.add_argument("--reboot", action="store_true", help="a node reboot instead")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from vfpnet.hns import hnsctl

    out = hnsctl.dispatch(
        state=args.state,
        version=args.hns_version,
        command=args.hns_command,
        args=vars(args),
    )
    if out:
        sys.stdout.write(out if out.endswith("\n") else out + "\n")
    return 0
