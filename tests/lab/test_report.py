"""The matrix, the JSON and the HTML page of a probe, from hand-made results."""

from __future__ import annotations

import re

from vfpnet.lab.expect import Expectation, ProbeSpec
from vfpnet.lab.html_page import COLORS, report_html
from vfpnet.lab.lifecycle import ProbeReport
from vfpnet.lab.probing import ProbeResult
from vfpnet.lab.report import agreement_line, report_json, report_table
from vfpnet.lab.runstate import PodRecord
from vfpnet.lab.vfp_answer import VfpAnswer
from vfpnet.policy.evaluate import DirectionVerdict
from vfpnet.vfp.nsg import NsgDecision

ALLOW = DirectionVerdict(True, "Default", None, None, "no policy")
DENY = DirectionVerdict(False, "NetworkPolicy", "ns/deny-all", None, "isolated")
NSG_DENY = NsgDecision("Deny", "Inbound", "deny-x-y", 100, False)
NSG_ALLOW = NsgDecision("Allow", "Outbound", "AllowVnetOutBound", 65000, True)

PODS = (
    PodRecord("ns", "x", "lin1", "transparent-tunnel", "n1", "c1", "10.250.10.10"),
    PodRecord("ns", "y", "win1", "transparent-tunnel", "n2", "c2", "10.250.12.10", "EP-Y"),
    PodRecord("other", "z", "win1", "l2bridge", "n3", "c3", "10.250.12.170", "EP-Z"),
)


def _report(observed_xz: bool) -> ProbeReport:
    results = (
        ProbeResult(ProbeSpec("ns/x", "ns/y", "TCP", 80),
                    Expectation("denied-nsg", True, ALLOW, ALLOW, NSG_ALLOW, NSG_DENY), False,
                    VfpAnswer(False, "win1 uplink-nsg-in: deny-x-y"), False),
        ProbeResult(ProbeSpec("ns/x", "other/z", "TCP", 80),
                    Expectation("denied-policy", True, ALLOW, DENY, NSG_ALLOW, NSG_ALLOW),
                    observed_xz, VfpAnswer(False, "default block"), False),
        ProbeResult(ProbeSpec("ns/x", "other/z", "UDP", 53),
                    Expectation("allowed", True, ALLOW, ALLOW, NSG_ALLOW, NSG_ALLOW), True,
                    VfpAnswer(True, "allow"), True),
        ProbeResult(ProbeSpec("ns/y", "ns/x", "TCP", 80),
                    Expectation("allowed", True, ALLOW, ALLOW, NSG_ALLOW, NSG_ALLOW), True),
    )
    return ProbeReport("vltest", PODS, results, frozenset({"win1"}))


def test_table_marks_outcomes_mixed_pairs_and_ends_with_the_agreement_line() -> None:
    text = report_table(_report(observed_xz=False))
    lines = text.splitlines()
    assert lines[-1] == "agreement: 3 pairs probed, 0 disagreements"
    row_x = next(line for line in lines if "lin1:ns/x" in line)
    assert row_x.split()[2:] == ["-", "N", "~"]  # x->y denied by NSG, x->z mixed ports


def test_disagreement_is_counted_per_pair_and_listed() -> None:
    report = _report(observed_xz=True)  # packets passed where the policy denies
    assert agreement_line(report) == "agreement: 3 pairs probed, 1 disagreements"
    text = report_table(report)
    assert "DISAGREE ns/x>other/z:TCP/80: expected denied-policy" in text
    assert "~!" in text
    doc = report_json(report)
    assert doc["disagreements"] == 1
    assert [r["agree"] for r in doc["results"]] == [True, False, True, True]


def test_html_is_one_self_contained_page_with_a_colored_grid_and_reasons() -> None:
    page = report_html(_report(observed_xz=False))
    assert page.startswith("<!DOCTYPE html>") and page.endswith("</html>")
    assert "<script" not in page and "http://" not in page and "https://" not in page
    assert COLORS["denied-nsg"] in page and "repeating-linear-gradient" in page
    # grouped by node, then namespace; the Windows-twin node is named as such
    assert "win1 (Windows-twin)" in page
    assert page.index(">lin1<") < page.index(">win1 (Windows-twin)<")
    # hover text: the deciding rule of each port of the pair
    titles = re.findall(r"title='([^']*)'", page)
    xy = next(t for t in titles if t.startswith("ns/x → ns/y"))
    assert "NSG Inbound rule deny-x-y (priority 100)" in xy
    xz = next(t for t in titles if t.startswith("ns/x → other/z"))
    assert "ingress: NetworkPolicy ns/deny-all (no rule matched)" in xz and "UDP/53" in xz
    assert "agreement: 3 pairs probed, 0 disagreements" in page
