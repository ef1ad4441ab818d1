"""`vfpnet explain`: the contract's JSON, the text form, agreement with the evaluator, exits."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from vfpnet.analysis.explain import explain_flow
from vfpnet.cli.main import main
from vfpnet.k8s.load import load_cluster
from vfpnet.k8s.model import Workload
from vfpnet.policy.evaluate import evaluate_flow

EXAMPLE = str(Path(__file__).resolve().parents[2] / "examples" / "reach")


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_json_has_the_contract_shape_and_names_the_deciding_rule(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, err = _run(
        capsys, "explain", "-f", EXAMPLE, "--from", "frontend/web", "--to", "backend/db",
        "--port", "5432", "--format", "json",
    )
    assert code == 0 and err == ""
    doc = json.loads(out)
    assert set(doc) == {"allowed", "egress", "ingress"}
    for side in ("egress", "ingress"):
        assert set(doc[side]) == {"allowed", "tier", "policy", "rule", "reason"}
    assert doc["allowed"] is False
    assert doc["egress"] == {
        "allowed": True, "tier": "Default", "policy": None, "rule": None,
        "reason": doc["egress"]["reason"],
    }
    assert doc["ingress"]["tier"] == "Admin"
    assert doc["ingress"]["policy"] == "protect-db"
    assert doc["ingress"]["rule"] == 0
    assert "not-from-other-namespaces" in doc["ingress"]["reason"]


def test_isolation_is_reported_with_the_isolating_policies_in_the_reason(
    capsys: pytest.CaptureFixture[str],
) -> None:
    _, out, _ = _run(
        capsys, "explain", "-f", EXAMPLE, "--from", "monitoring/debug", "--to", "backend/api",
        "--port", "9090", "--format", "json",
    )
    ingress = json.loads(out)["ingress"]
    assert ingress["allowed"] is False
    assert (ingress["tier"], ingress["policy"], ingress["rule"]) == ("NetworkPolicy", None, None)
    assert "backend/api" in ingress["reason"] and "backend/default-deny" in ingress["reason"]
    assert "passed by" in ingress["reason"]


def test_text_gives_the_verdict_then_each_direction(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(
        capsys, "explain", "-f", EXAMPLE, "--from", "backend/api", "--to", "backend/dns",
        "--port", "53", "--protocol", "udp",
    )
    lines = out.splitlines()
    assert code == 0
    assert lines[0] == "backend/api -> backend/dns UDP/53: ALLOWED"
    assert lines[1] == "  egress at backend/api: allowed [NetworkPolicy: backend/api rule 1]"
    assert lines[3] == "  ingress at backend/dns: allowed [NetworkPolicy: backend/dns rule 0]"


def test_explain_agrees_with_the_evaluator_on_every_pair_of_the_example() -> None:
    cluster = load_cluster([EXAMPLE])
    ends: list[Workload | str] = [*cluster.workloads, "10.1.0.0", "10.244.2.7", "8.8.8.8"]
    for src in ends:
        for dst in ends:
            for protocol, port in (("TCP", 5432), ("TCP", 9100), ("UDP", 53), ("SCTP", 80)):
                got = explain_flow(cluster, src, dst, protocol, port)
                want = evaluate_flow(cluster, src, dst, protocol, port)
                assert got.allowed == want.allowed
                for mine, theirs in ((got.egress, want.egress), (got.ingress, want.ingress)):
                    assert (mine.allowed, mine.tier, mine.policy, mine.rule) == (
                        theirs.allowed, theirs.tier, theirs.policy, theirs.rule
                    )


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--from", "backend/nope", "--to", "backend/db", "--port", "80"], "--from backend/nope"),
        (["--from", "backend/api", "--to", "backend/db", "--port", "0"], "--port 0"),
        (["--from", "backend/api", "--to", "backend/db", "--port", "80", "--protocol", "ICMP"],
         "--protocol ICMP"),
    ],
)
def test_bad_flow_exits_2_with_one_line_and_no_stdout(
    capsys: pytest.CaptureFixture[str], args: list[str], expected: str
) -> None:
    code, out, err = _run(capsys, "explain", "-f", EXAMPLE, *args)
    assert code == 2
    assert out == ""
    assert len(err.strip().splitlines()) == 1 and expected in err


def test_shared_name_must_be_qualified_by_kind(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    docs = []
    for kind in ("Deployment", "StatefulSet"):
        docs.append(
            f"apiVersion: apps/v1\nkind: {kind}\nmetadata: {{name: app, namespace: s}}\n"
            "spec:\n  serviceName: app\n  selector: {matchLabels: {app: a}}\n"
            "  template:\n    metadata: {labels: {app: a}}\n"
            "    spec: {containers: [{name: c, image: i}]}\n"
        )
    (tmp_path / "c.yaml").write_text("---\n".join(docs))
    code, out, err = _run(
        capsys, "explain", "-f", str(tmp_path), "--from", "s/app", "--to", "s/app[StatefulSet]",
        "--port", "80",
    )
    assert code == 2 and out == ""
    assert "ambiguous" in err and "s/app[Deployment]" in err
    code, out, _ = _run(
        capsys, "explain", "-f", str(tmp_path), "--from", "s/app[Deployment]",
        "--to", "s/app[StatefulSet]", "--port", "80",
    )
    assert code == 0 and out.startswith("s/app[Deployment] -> s/app[StatefulSet] TCP/80: ALLOWED")


def test_invalid_manifest_exits_2_with_no_stdout(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    (tmp_path / "bad.yaml").write_text(
        "apiVersion: policy.networking.k8s.io/v1alpha2\nkind: ClusterNetworkPolicy\n"
        "metadata: {name: p}\nspec: {tier: Middle, priority: 1, subject: {namespaces: {}}}\n"
    )
    code, out, err = _run(
        capsys, "explain", "-f", str(tmp_path), "--from", "a/b", "--to", "a/c", "--port", "80"
    )
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and "tier" in err


def test_an_address_or_an_ipblock_node_can_be_an_end(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(
        capsys, "explain", "-f", EXAMPLE, "--from", "backend/db",
        "--to", "10.0.0.0-10.243.255.255", "--port", "443", "--format", "json",
    )
    doc = json.loads(out)
    assert code == 0 and doc["allowed"] is True
    assert (doc["egress"]["tier"], doc["egress"]["policy"], doc["egress"]["rule"]) == (
        "NetworkPolicy", "backend/db", 1,
    )
    assert doc["ingress"]["tier"] == "Default" and "outside the cluster" in doc["ingress"]["reason"]


@pytest.mark.parametrize("end", ["10.0.0.9-10.0.0.1", "10.0.0.0-garbage", "10.0.0.0-::1"])
def test_malformed_ipblock_node_is_one_line_error(
    capsys: pytest.CaptureFixture[str], end: str
) -> None:
    code, out, err = _run(
        capsys, "explain", "-f", EXAMPLE, "--from", "backend/db", "--to", end, "--port", "443"
    )
    assert code == 2 and out == ""
    assert err == f"vfpnet: --to {end}: not an IPBlock range FIRST-LAST (FIRST <= LAST)\n"
