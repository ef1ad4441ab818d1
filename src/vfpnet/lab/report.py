"""A probe's results as a matrix (text), JSON, and the agreement line.

Rows are sources, columns destinations, both ordered by node, namespace, name. A cell
sums up the probes of one ordered pair (one per declared port of the destination):
`A` all allowed, `P` all denied by policy, `N` all denied by the NSG, `~` mixed, `.`
nothing to probe; `!` marks a pair with a disagreement.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from vfpnet.lab.probing import ProbeResult

if TYPE_CHECKING:
    from vfpnet.lab.lifecycle import ProbeReport

SYMBOLS = {"allowed": "A", "denied-policy": "P", "denied-nsg": "N"}


def ordered_pods(report: ProbeReport) -> list[Any]:
    return sorted(report.pods, key=lambda p: (p.node, p.namespace, p.name))


def pair_results(report: ProbeReport) -> dict[tuple[str, str], list[ProbeResult]]:
    pairs: dict[tuple[str, str], list[ProbeResult]] = {}
    for r in report.results:
        pairs.setdefault((r.spec.src, r.spec.dst), []).append(r)
    return pairs


def cell_symbol(results: Iterable[ProbeResult]) -> str:
    results = list(results)
    if not results:
        return "."
    outcomes = {r.expected.outcome for r in results}
    symbol = SYMBOLS[outcomes.pop()] if len(outcomes) == 1 else "~"
    return symbol + ("!" if any(not r.agrees for r in results) else "")


def agreement_line(report: ProbeReport) -> str:
    pairs = pair_results(report)
    bad = sum(1 for rs in pairs.values() if any(not r.agrees for r in rs))
    return f"agreement: {len(pairs)} pairs probed, {bad} disagreements"


def report_table(report: ProbeReport) -> str:
    pods = ordered_pods(report)
    pairs = pair_results(report)
    labels = [f"{p.node}:{p.id}" for p in pods]
    width = max(len(s) for s in labels)
    lines = ["rows: source pod, columns: destination pod (numbered as the rows); "
             "A allowed, P denied by policy, N denied by NSG, ~ mixed ports, ! disagreement"]
    lines.append(" " * (width + 5) + "".join(f"{i:>4}" for i in range(len(pods))))
    for i, (src, label) in enumerate(zip(pods, labels, strict=True)):
        cells = []
        for dst in pods:
            cells.append("   -" if dst.id == src.id else
                          f"{cell_symbol(pairs.get((src.id, dst.id), [])):>4}")
        lines.append(f"{i:>3}  {label:<{width}}" + "".join(cells))
    windows = sorted(report.windows_nodes)
    if windows:
        lines.append(f"Windows-twin nodes (VFP traces compared): {', '.join(windows)}")
    bad = report.disagreements
    for r in bad:
        lines.append(f"DISAGREE {r.spec.key}: expected {r.expected.outcome} "
                     f"({r.expected.decided_by}), packets "
                     f"{'passed' if r.observed else 'blocked'}"
                     + (f", VFP {'allow' if r.vfp.allowed else 'block'} ({r.vfp.detail})"
                        if r.vfp is not None else ""))
    probes = len(report.results)
    lines.append(f"probes: {probes} connections over {len(pairs)} ordered pod pairs "
                 f"({len(pods)} pods)")
    lines.append(agreement_line(report))
    return "\n".join(lines)


def result_json(r: ProbeResult) -> dict[str, Any]:
    exp = r.expected
    return {
        "src": r.spec.src,
        "dst": r.spec.dst,
        "protocol": r.spec.protocol,
        "port": r.spec.port,
        "expected": exp.outcome,
        "decidedBy": exp.decided_by,
        "crossesFabric": exp.crosses_fabric,
        "packets": "allowed" if r.observed else "blocked",
        "vfp": None if r.vfp is None else {
            "verdict": "allow" if r.vfp.allowed else "block",
            "detail": r.vfp.detail,
            "expected": "allow" if r.vfp_expected else "block",
        },
        "agree": r.agrees,
    }


def report_json(report: ProbeReport) -> dict[str, Any]:
    pairs = pair_results(report)
    return {
        "prefix": report.prefix,
        "pods": [{"pod": p.id, "node": p.node, "mode": p.mode, "ip": p.ip,
                  "endpoint": p.endpoint or None} for p in ordered_pods(report)],
        "windowsNodes": sorted(report.windows_nodes),
        "results": [result_json(r) for r in report.results],
        "pairsProbed": len(pairs),
        "disagreements": sum(1 for rs in pairs.values() if any(not r.agrees for r in rs)),
        "agreement": agreement_line(report),
    }
