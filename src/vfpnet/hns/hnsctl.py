"""The operations of `vfpnet hns`, as text in and text out (hnsdiag's job).

`dispatch` reads the JSON files named on the command line (`-` is stdin), makes one call on
the HNS client and renders the answer: HCN JSON for single objects, a JSON array for
`list --json`, otherwise a table like hnsdiag's. Errors are `VfpnetError`s (HcnError for
refusals by HNS) whose one-line message the CLI prints.
"""

from __future__ import annotations

import ipaddress
import json
import sys
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from vfpnet.errors import InputError
from vfpnet.hns.client import HnsClient, open_client
from vfpnet.hns.schema.route import HostRoute, host_route


def dispatch(state: str | None, version: str | None, command: str, args: Mapping[str, Any]) -> str:
    """Run one `vfpnet hns` ACTION; returns what to print."""
    client = _open(state, version)
    try:
        return _run(client, command, args)
    finally:
        client.close()


def _open(state: str | None, version: str | None) -> HnsClient:
    if version is not None:
        from vfpnet.hns.version import parse_version

        try:
            parse_version(version)
        except ValueError as exc:
            raise InputError(f"--hns-version: {exc}") from None
    if state is not None and Path(state).is_dir():
        raise InputError(f"--state {state}: is a directory, not a state file")
    try:
        return open_client(state, version)
    except OSError as exc:
        raise InputError(f"--state {state}: {exc}") from None
    except Exception as exc:  # sqlite3.DatabaseError: not a state file
        if type(exc).__module__ == "sqlite3":
            raise InputError(f"--state {state}: not an HNS state file ({exc})") from None
        raise


def network_id(client: HnsClient, given: str) -> str:
    """`given` when it is a GUID, else the ID of the network of that Name (hnsdiag-style);
    an unknown name is left for HNS to refuse as HCN_E_NETWORK_NOT_FOUND."""
    try:
        uuid.UUID(given.strip("{}"))
        return given
    except ValueError:
        pass
    query = {"SchemaVersion": {"Major": 2, "Minor": 0}, "Filter": json.dumps({"Name": given})}
    found = client.list_networks(query)
    return str(found[0]["ID"]) if found else given


def _run(client: HnsClient, command: str, a: Mapping[str, Any]) -> str:
    if command in ("create-endpoint", "modify-network", "delete-network") or (
        command == "get" and a.get("kind") == "network"
    ):
        a = {**a, "id": network_id(client, a["id"])}
    if command == "create-network":
        return _json(client.create_network(read_input(a["file"])))
    if command == "create-namespace":
        return _json(client.create_namespace(read_input(a["file"]) if a.get("file") else None))
    if command == "create-endpoint":
        return _json(client.create_endpoint(a["id"], read_input(a["file"])))
    if command == "modify-network":
        return _json(client.modify_network(a["id"], read_input(a["file"])))
    if command == "modify-endpoint":
        return _json(client.modify_endpoint(a["id"], read_input(a["file"])))
    if command == "delete-network":
        client.delete_network(a["id"])
        return ""
    if command == "delete-endpoint":
        client.delete_endpoint(a["id"])
        return ""
    if command == "delete-namespace":
        client.delete_namespace(a["id"])
        return ""
    if command == "get":
        getter = {
            "network": client.get_network,
            "endpoint": client.get_endpoint,
            "namespace": client.get_namespace,
        }[a["kind"]]
        return _json(getter(a["id"]))
    if command == "list":
        lister = {
            "networks": client.list_networks,
            "endpoints": client.list_endpoints,
            "namespaces": client.list_namespaces,
        }[a["kind"]]
        items = lister(a.get("query"))
        if a.get("json"):
            return _json(items)
        return render_table(a["kind"], items, client)
    if command == "routes":
        return _routes(client, list(a.get("words") or []), a)
    if command == "attach":
        client.attach_endpoint(a["namespace_id"], a["endpoint_id"])
        return ""
    if command == "detach":
        client.detach_endpoint(a["namespace_id"], a["endpoint_id"])
        return ""
    if command == "version":
        return _json(
            {
                "Version": client.version().to_json(),
                "SupportedFeatures": client.supported_features(),
            }
        )
    if command == "inject-fault":
        inject = getattr(client, "inject_fault", None)
        if inject is None:
            raise InputError("inject-fault: only the emulator (--state) takes faults")
        try:
            inject(a["operation"], a["nth"], a["hresult"])
        except ValueError as exc:
            raise InputError(f"inject-fault: {exc}") from None
        return ""
    if command == "restart":
        restart = getattr(client, "restart", None)
        if restart is None:
            raise InputError("restart: only the emulator (--state) can be restarted")
        restart(reboot=bool(a.get("reboot")))
        return ""
    raise InputError(f"hns: unknown action {command!r}")


def read_input(name: str) -> str:
    """The text of FILE, or of stdin for `-`; InputError naming the file otherwise."""
    if name == "-":
        try:
            return sys.stdin.read()
        except UnicodeDecodeError:
            raise InputError("-: stdin is not UTF-8 text") from None
    try:
        return Path(name).read_text()
    except OSError as exc:
        raise InputError(f"{name}: cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise InputError(f"{name}: not UTF-8 text") from None


def _json(value: Any) -> str:
    return json.dumps(value, indent=2)


# ---- routes ----


def parse_route_words(words: Sequence[str], interface: int, metric: int) -> HostRoute:
    """`DEST GATEWAY`, `DEST/LEN GATEWAY` or `DEST mask MASK GATEWAY` (as `route add`)."""
    w = list(words)
    try:
        if len(w) == 4 and w[1].lower() == "mask":
            net = ipaddress.ip_network(f"{w[0]}/{w[2]}", strict=False)
            return host_route(str(net), w[3], interface, metric)
        if len(w) == 2:
            return host_route(w[0], w[1], interface, metric)
    except ValueError as exc:
        raise InputError(f"routes: {' '.join(w)}: {exc}") from None
    raise InputError(f"routes: expected DEST [mask MASK] GATEWAY, got {' '.join(w) or 'nothing'}")


def _routes(client: HnsClient, words: list[str], a: Mapping[str, Any]) -> str:
    verb = words[0].lower() if words else "list"
    rest = words[1:]
    if verb in ("list", "print"):
        routes = client.list_routes()
        if a.get("json"):
            return _json([r.to_json() for r in routes])
        return _table(
            ["Destination", "Next Hop", "Interface", "Metric"],
            [
                [r.destination_prefix, r.next_hop, str(r.interface_index), str(r.metric)]
                for r in routes
            ],
        )
    if verb not in ("add", "delete"):
        raise InputError(f"routes: unknown verb {verb!r} (list, add, delete)")
    route = parse_route_words(rest, int(a.get("interface") or 0), int(a.get("metric") or 0))
    if verb == "add":
        client.add_route(route)
    else:
        client.delete_route(route)
    return ""


# ---- tables ----


def render_table(kind: str, items: Sequence[Mapping[str, Any]], client: HnsClient) -> str:
    """A table like `hnsdiag list <kind>`."""
    if kind == "networks":
        rows = [
            [
                str(n.get("ID", "")),
                str(n.get("Name", "")),
                str(n.get("Type", "")),
                ",".join(_subnets(n)),
            ]
            for n in items
        ]
        return _table(["Network Id", "Name", "Type", "Subnets"], rows)
    if kind == "endpoints":
        names = {n.get("ID"): n.get("Name", "") for n in client.list_networks()}
        rows = []
        for e in items:
            ips = ",".join(str(c.get("IpAddress", "")) for c in e.get("IpConfigurations") or ())
            remote = "remote" if (e.get("Flags") or 0) & 1 else "local"
            rows.append(
                [
                    str(e.get("ID", "")),
                    str(e.get("Name", "")),
                    ips,
                    str(names.get(e.get("HostComputeNetwork"), e.get("HostComputeNetwork", ""))),
                    remote,
                ]
            )
        return _table(["Endpoint Id", "Name", "IP Address", "Virtual Network", "Location"], rows)
    rows = []
    for ns in items:
        eps = [
            str((r.get("Data") or {}).get("ID", ""))
            for r in ns.get("Resources") or ()
            if r.get("Type") == "Endpoint"
        ]
        rows.append(
            [
                str(ns.get("ID", "")),
                str(ns.get("NamespaceId", "")),
                str(ns.get("Type", "")),
                ",".join(eps),
            ]
        )
    return _table(["Namespace Id", "Compartment", "Type", "Endpoints"], rows)


def _subnets(network: Mapping[str, Any]) -> list[str]:
    return [
        str(s.get("IpAddressPrefix", ""))
        for ipam in network.get("Ipams") or ()
        for s in ipam.get("Subnets") or ()
    ]


def _table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(header)]
    line = " | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))
    sep = "-+-".join("-" * w for w in widths)
    body = [" | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join([line.rstrip(), sep, *(b.rstrip() for b in body)])
