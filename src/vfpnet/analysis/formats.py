"""Output formats of `vfpnet reach` (table, json, csv, dot) and `vfpnet explain` (text, json).

JSON follows CONTRACTS.md to the letter. CSV and DOT describe a connection the way
np-guard's netpol-analyzer does (`All Connections`, or `SCTP 80,TCP 1-79,81-65535`), so
their outputs can be compared by eye.
"""

from __future__ import annotations

import csv
import io
import json

from vfpnet.analysis.result import DirectionVerdict, Explanation, ReachResult
from vfpnet.policy.portset import MAX_PORT, MIN_PORT, PortSet

REACH_FORMATS = ("table", "json", "csv", "dot")
EXPLAIN_FORMATS = ("text", "json")


def _ranges_text(ranges: tuple[tuple[int, int], ...]) -> str:
    return ",".join(str(a) if a == b else f"{a}-{b}" for a, b in ranges)


def connection_text(ports: PortSet) -> str:
    """netpol-analyzer's wording: `All Connections`, else protocols A-Z with their ranges."""
    if ports.is_all():
        return "All Connections"
    if ports.is_empty():
        return "No Connections"
    return ",".join(f"{proto} {_ranges_text(rs)}" for proto, rs in sorted(ports.items))


def cell_text(ports: PortSet) -> str:
    """The compact table cell: `All`, `-`, `TCP 80,443`, `TCP all UDP 53`."""
    if ports.is_all():
        return "All"
    if ports.is_empty():
        return "-"
    parts = []
    for proto, rs in ports.items:
        text = "all" if rs == ((MIN_PORT, MAX_PORT),) else _ranges_text(rs)
        parts.append(f"{proto} {text}")
    return " ".join(parts)


def reach_json(result: ReachResult) -> str:
    """The contract's document, one node or connection per line.

    Written piece by piece (each piece by the C JSON encoder, port sets once each) because
    `json.dumps(..., indent=...)` falls back to the pure-Python encoder, which dominates
    the run time on large clusters.
    """
    dumps = json.dumps
    quoted: dict[str, str] = {}
    for n in result.nodes:
        quoted[n.id] = dumps(n.id)
    allowed: dict[PortSet, str] = {}
    lines = ['{', '  "nodes": [']
    lines.append(",\n".join(
        "    " + dumps({"id": n.id, "kind": n.kind, "namespace": n.namespace, "name": n.name})
        for n in result.nodes
    ))
    lines.append('  ],\n  "connections": [')
    conn_lines = []
    for c in result.connections:
        ports = allowed.get(c.allowed)
        if ports is None:
            ports = allowed[c.allowed] = dumps(c.allowed.as_dict())
        src = quoted.get(c.src) or dumps(c.src)
        dst = quoted.get(c.dst) or dumps(c.dst)
        conn_lines.append(f'    {{"src": {src}, "dst": {dst}, "allowed": {ports}}}')
    lines.append(",\n".join(conn_lines))
    lines.append('  ],\n  "warnings": ' + dumps(list(result.warnings)) + "\n}\n")
    return "\n".join(line for line in lines if line)


def reach_csv(result: ReachResult) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["src", "dst", "conn"])
    for c in result.connections:
        writer.writerow([c.src, c.dst, connection_text(c.allowed)])
    return buf.getvalue()


def _dot_quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def reach_dot(result: ReachResult) -> str:
    lines = ["digraph {"]
    for n in result.nodes:
        color = "red2" if n.kind == "IPBlock" else "blue"
        lines.append(
            f"\t{_dot_quote(n.id)} [label={_dot_quote(n.id)} color=\"{color}\" "
            f"fontcolor=\"{color}\"]"
        )
    for c in result.connections:
        lines.append(
            f"\t{_dot_quote(c.src)} -> {_dot_quote(c.dst)} "
            f"[label={_dot_quote(connection_text(c.allowed))} color=\"gold2\" "
            f"fontcolor=\"darkgreen\"]"
        )
    lines.append("}")
    return "\n".join(lines) + "\n"


def reach_table(result: ReachResult) -> str:
    """Rows are sources, columns destinations; `-` nothing allowed, blank a node itself.

    Workloads form the matrix; connections from or to address ranges outside the cluster
    (IPBlock nodes) are listed under it, one per line.
    """
    external = {n.id for n in result.nodes if n.kind == "IPBlock"}
    ids = [n.id for n in result.nodes if n.id not in external]
    if not ids:
        return "(no workloads)\n"
    cells = {(c.src, c.dst): cell_text(c.allowed) for c in result.connections}
    corner = "src \\ dst"
    first_w = max(len(corner), *(len(i) for i in ids))
    widths = [
        max(len(dst), *(len(cells.get((src, dst), "-")) for src in ids)) for dst in ids
    ]
    out = [
        "  ".join([corner.ljust(first_w), *(d.ljust(w) for d, w in zip(ids, widths, strict=True))])
        .rstrip()
    ]
    out.append("  ".join(["-" * first_w, *("-" * w for w in widths)]))
    for src in ids:
        row = [src.ljust(first_w)]
        for dst, w in zip(ids, widths, strict=True):
            text = "" if src == dst else cells.get((src, dst), "-")
            row.append(text.ljust(w))
        out.append("  ".join(row).rstrip())
    outside = [c for c in result.connections if c.src in external or c.dst in external]
    if outside:
        out.append("")
        out.append("outside the cluster (IPBlock):")
        out.extend(f"  {c.src} => {c.dst} : {cell_text(c.allowed)}" for c in outside)
    return "\n".join(out) + "\n"


def render_reach(result: ReachResult, fmt: str) -> str:
    if fmt == "json":
        return reach_json(result)
    if fmt == "csv":
        return reach_csv(result)
    if fmt == "dot":
        return reach_dot(result)
    return reach_table(result)


def _verdict_dict(v: DirectionVerdict) -> dict[str, object]:
    return {
        "allowed": v.allowed,
        "tier": v.tier,
        "policy": v.policy,
        "rule": v.rule,
        "reason": v.reason,
    }


def explain_json(exp: Explanation) -> str:
    doc: dict[str, object] = {
        "allowed": exp.allowed,
        "egress": _verdict_dict(exp.egress),
        "ingress": _verdict_dict(exp.ingress),
    }
    return json.dumps(doc, indent=2) + "\n"


def _verdict_line(direction: str, where: str, v: DirectionVerdict) -> str:
    word = "allowed" if v.allowed else "denied"
    source = v.tier
    if v.policy is not None:
        kind = f"{v.kind} " if v.kind and v.kind != v.tier else ""
        source += f": {kind}{v.policy}"
        if v.rule is not None:
            source += f" rule {v.rule}"
    return f"  {direction} at {where}: {word} [{source}]\n    {v.reason}"


def explain_text(exp: Explanation) -> str:
    verdict = "ALLOWED" if exp.allowed else "DENIED"
    lines = [
        f"{exp.src.id} -> {exp.dst.id} {exp.protocol}/{exp.port}: {verdict}",
        _verdict_line("egress", exp.src.id, exp.egress),
        _verdict_line("ingress", exp.dst.id, exp.ingress),
    ]
    lines.extend(f"warning: {w}" for w in exp.warnings)
    return "\n".join(lines) + "\n"


def render_explain(exp: Explanation, fmt: str) -> str:
    return explain_json(exp) if fmt == "json" else explain_text(exp)
