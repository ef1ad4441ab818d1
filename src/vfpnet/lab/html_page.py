"""The probe's matrix as one self-contained HTML page (no script, no external resource).

Rows are sources and columns destinations, grouped by node and namespace (header bands);
a cell's color is its pair's outcome (green allowed, red denied by policy, amber denied
by the NSG; a mixed pair is striped) and its tooltip lists each port with the deciding
tier/policy/rule, the packets' answer and, on Windows-twin nodes, the VFP trace.
"""

from __future__ import annotations

from html import escape
from itertools import groupby
from typing import TYPE_CHECKING

from vfpnet.lab.probing import ProbeResult
from vfpnet.lab.report import agreement_line, ordered_pods, pair_results

if TYPE_CHECKING:
    from vfpnet.lab.lifecycle import ProbeReport

COLORS = {"allowed": "#2e9d4f", "denied-policy": "#d64545", "denied-nsg": "#f0a020"}
LABELS = {"allowed": "allowed", "denied-policy": "denied by policy",
          "denied-nsg": "denied by NSG"}

_CSS = """
body{font-family:system-ui,sans-serif;margin:20px;color:#222}
h1{font-size:20px;margin:0 0 6px} h2{font-size:16px;margin:18px 0 4px}
ul{margin:0;padding-left:20px;font-size:13px} .sub{color:#555;margin-bottom:12px}
table{border-collapse:collapse} td,th{border:1px solid #fff;padding:0}
td.c{width:26px;height:26px;text-align:center;font-size:12px;color:#fff;font-weight:bold}
td.self{background:#e4e4e4} td.none{background:#f4f4f4}
th{font-size:11px;font-weight:normal;background:#eef1f6;padding:2px 4px;white-space:nowrap}
th.node{background:#c9d4e8;font-weight:bold} th.ns{background:#dde5f2}
th.row{text-align:right} th.col{writing-mode:vertical-rl;transform:rotate(180deg);height:110px}
td.bad{outline:3px solid #000;outline-offset:-3px}
.legend span{display:inline-block;width:14px;height:14px;vertical-align:middle;margin:0 4px 0 12px}
.ok{color:#2e7d32;font-weight:bold} .ko{color:#c62828;font-weight:bold}
"""


def report_html(report: ProbeReport) -> str:
    pods = ordered_pods(report)
    pairs = pair_results(report)
    line = agreement_line(report)
    good = not report.disagreements
    out = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>vfpnet lab: reachability"
        f"</title><style>{_CSS}</style></head><body>",
        "<h1>vfpnet lab: who can reach whom</h1>",
        f"<div class='sub'>Rows: source pod; columns: destination pod. {len(pods)} pods, "
        f"{len(report.results)} connections probed. Windows-twin nodes: "
        f"{escape(', '.join(sorted(report.windows_nodes)) or 'none')}. Hover a cell for "
        "the deciding tier/policy/rule.</div>",
        f"<div class='{'ok' if good else 'ko'}'>{escape(line)}</div>",
        "<div class='legend'>"
        + "".join(f"<span style='background:{COLORS[k]}'></span>{LABELS[k]}" for k in COLORS)
        + "<span style='background:repeating-linear-gradient(45deg,#2e9d4f 0 4px,#d64545 4px"
          " 8px)'></span>mixed ports<span style='outline:3px solid #000'></span>disagreement"
        "</div><br><table>",
    ]
    # Column header bands: node, namespace, pod.
    out.append("<tr><th colspan='3'></th>")
    for node, group in groupby(pods, key=lambda p: p.node):
        n = len(list(group))
        kind = " (Windows-twin)" if node in report.windows_nodes else ""
        out.append(f"<th class='node' colspan='{n}'>{escape(node + kind)}</th>")
    out.append("</tr><tr><th colspan='3'></th>")
    for _, group in groupby(pods, key=lambda p: (p.node, p.namespace)):
        members = list(group)
        out.append(f"<th class='ns' colspan='{len(members)}'>{escape(members[0].namespace)}"
                   "</th>")
    out.append("</tr><tr><th colspan='3'></th>")
    for p in pods:
        out.append(f"<th class='col' title='{escape(p.id)} {escape(p.ip)} ({escape(p.mode)})'>"
                   f"{escape(p.name)}</th>")
    out.append("</tr>")
    node_spans = {k: len(list(g)) for k, g in groupby(pods, key=lambda p: p.node)}
    ns_spans = {k: len(list(g)) for k, g in groupby(pods, key=lambda p: (p.node, p.namespace))}
    seen_node: set[str] = set()
    seen_ns: set[tuple[str, str]] = set()
    for src in pods:
        out.append("<tr>")
        if src.node not in seen_node:
            seen_node.add(src.node)
            out.append(f"<th class='node' rowspan='{node_spans[src.node]}'>"
                       f"{escape(src.node)}</th>")
        key = (src.node, src.namespace)
        if key not in seen_ns:
            seen_ns.add(key)
            out.append(f"<th class='ns' rowspan='{ns_spans[key]}'>{escape(src.namespace)}</th>")
        out.append(f"<th class='row' title='{escape(src.ip)} ({escape(src.mode)})'>"
                   f"{escape(src.name)}</th>")
        for dst in pods:
            if dst.id == src.id:
                out.append("<td class='c self'></td>")
                continue
            out.append(_cell(pairs.get((src.id, dst.id), []), src.id, dst.id))
        out.append("</tr>")
    out.append("</table>")
    out.extend(_listing("Denied by the NSG (traffic that leaves its node)",
                        [r for r in report.results if r.expected.outcome == "denied-nsg"]))
    out.extend(_listing("Disagreements", report.disagreements, empty="none"))
    out.append("</body></html>")
    return "".join(out)


def _listing(title: str, results: list[ProbeResult], empty: str = "") -> list[str]:
    if not results and not empty:
        return []
    out = [f"<h2>{escape(title)}</h2><ul>"]
    if not results:
        out.append(f"<li>{escape(empty)}</li>")
    for r in results:
        vfp = (f"; VFP {'allow' if r.vfp.allowed else 'block'}: {r.vfp.detail}"
               if r.vfp is not None else "")
        out.append(f"<li><b>{escape(r.spec.src)} → {escape(r.spec.dst)} "
                   f"{escape(r.spec.protocol)}/{r.spec.port}</b>: expected "
                   f"{escape(LABELS[r.expected.outcome])} ({escape(r.expected.decided_by)}); "
                   f"packets {'passed' if r.observed else 'blocked'}{escape(vfp)}</li>")
    out.append("</ul>")
    return out


def _cell(results: list[ProbeResult], src: str, dst: str) -> str:
    if not results:
        return f"<td class='c none' title='{escape(src)} → {escape(dst)}: no ports'></td>"
    colors = [COLORS[r.expected.outcome] for r in results]
    if len(set(colors)) == 1:
        style = f"background:{colors[0]}"
    else:
        stops = "".join(f",{c} {i * 6}px {(i + 1) * 6}px" for i, c in enumerate(colors))
        style = f"background:repeating-linear-gradient(45deg{stops})"
    bad = any(not r.agrees for r in results)
    lines = [f"{src} → {dst}"]
    for r in results:
        lines.append(f"{r.spec.protocol}/{r.spec.port}: {LABELS[r.expected.outcome]} "
                     f"— {r.expected.decided_by}; packets "
                     f"{'passed' if r.observed else 'blocked'}"
                     + (f"; VFP {'allow' if r.vfp.allowed else 'block'}: {r.vfp.detail}"
                        if r.vfp is not None else "")
                     + ("" if r.agrees else "  [DISAGREEMENT]"))
    text = "&#10;".join(escape(x, quote=True) for x in lines)
    mark = "!" if bad else ""
    return (f"<td class='c{' bad' if bad else ''}' style='{style}' title='{text}'>{mark}</td>")
