"""`vfpnet reach` output: every format as CONTRACTS.md says, node ids, self pairs, exits."""

from __future__ import annotations

import csv
import io
import itertools
import json
import subprocess
import sys
from pathlib import Path

import pytest

from vfpnet.cli.main import main

EXAMPLE = str(Path(__file__).resolve().parents[2] / "examples" / "reach")

TWO_KINDS = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: app, namespace: shop}
spec:
  selector: {matchLabels: {app: a}}
  template:
    metadata: {labels: {app: a}}
    spec: {containers: [{name: c, image: i, ports: [{containerPort: 80, name: http}]}]}
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: app, namespace: shop}
spec:
  serviceName: app
  selector: {matchLabels: {app: b}}
  template:
    metadata: {labels: {app: b}}
    spec: {containers: [{name: c, image: i}]}
---
apiVersion: v1
kind: Pod
metadata: {name: lone}
spec: {containers: [{name: c, image: i}]}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: only-http, namespace: shop}
spec:
  podSelector: {matchLabels: {app: a}}
  ingress:
  - ports: [{port: http}, {port: 8000, endPort: 8010, protocol: UDP}, {port: 8011, protocol: UDP}]
---
apiVersion: v1
kind: ConfigMap
metadata: {name: ignored, namespace: shop}
data: {}
"""


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def two_kinds(tmp_path: Path) -> str:
    path = tmp_path / "cluster.yaml"
    path.write_text(TWO_KINDS)
    return str(path)


def test_json_has_exactly_the_contract_keys_and_sorted_merged_ranges(
    capsys: pytest.CaptureFixture[str], two_kinds: str
) -> None:
    code, out, _ = _run(capsys, "reach", "-f", two_kinds, "--format", "json", "--workloads-only")
    assert code == 0
    doc = json.loads(out)
    assert set(doc) == {"nodes", "connections", "warnings"}
    for node in doc["nodes"]:
        assert set(node) == {"id", "kind", "namespace", "name"}
    for conn in doc["connections"]:
        assert set(conn) == {"src", "dst", "allowed"}
        assert conn["allowed"], "a pair with nothing allowed must be left out"
        for proto, ranges in conn["allowed"].items():
            assert proto in ("TCP", "UDP", "SCTP")
            assert ranges == sorted(ranges)
            for (_a, b), (c, _d) in itertools.pairwise(ranges):
                assert b + 1 < c, "ranges must be merged"
            assert all(1 <= a <= b <= 65535 for a, b in ranges)
    conns = {(c["src"], c["dst"]): c["allowed"] for c in doc["connections"]}
    # The endPort range and the adjacent single port merge into one range.
    assert conns[("default/lone", "shop/app[Deployment]")] == {
        "TCP": [[80, 80]], "UDP": [[8000, 8011]],
    }
    assert conns[("shop/app[Deployment]", "default/lone")] == {
        "TCP": [[1, 65535]], "UDP": [[1, 65535]], "SCTP": [[1, 65535]],
    }
    assert any("ConfigMap" in w for w in doc["warnings"])


def test_ids_collide_only_across_kinds_and_then_both_carry_the_kind(
    capsys: pytest.CaptureFixture[str], two_kinds: str
) -> None:
    _, out, _ = _run(capsys, "reach", "-f", two_kinds, "--format", "json", "--workloads-only")
    nodes = json.loads(out)["nodes"]
    assert [n["id"] for n in nodes] == [
        "default/lone", "shop/app[Deployment]", "shop/app[StatefulSet]",
    ]
    assert nodes[0] == {"id": "default/lone", "kind": "Pod", "namespace": "default",
                        "name": "lone"}


def test_self_pairs_are_left_out_even_with_no_policy(
    capsys: pytest.CaptureFixture[str], two_kinds: str
) -> None:
    _, out, _ = _run(capsys, "reach", "-f", two_kinds, "--format", "json", "--workloads-only")
    conns = json.loads(out)["connections"]
    assert all(c["src"] != c["dst"] for c in conns)
    assert len(conns) == 6  # 3 nodes, 6 ordered pairs, each with something allowed


def test_workloads_of_one_class_still_reach_each_other(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    twin = TWO_KINDS.split("---")[2]
    (tmp_path / "a.yaml").write_text(twin)
    (tmp_path / "b.yaml").write_text(twin.replace("name: lone", "name: twin"))
    _, out, _ = _run(capsys, "reach", "-f", str(tmp_path), "--format", "json", "--workloads-only")
    pairs = [(c["src"], c["dst"]) for c in json.loads(out)["connections"]]
    assert pairs == [("default/lone", "default/twin"), ("default/twin", "default/lone")]


def test_csv_has_a_header_and_one_row_per_connection(
    capsys: pytest.CaptureFixture[str], two_kinds: str
) -> None:
    _, out, err = _run(capsys, "reach", "-f", two_kinds, "--format", "csv", "--workloads-only")
    rows = list(csv.reader(io.StringIO(out)))
    assert rows[0] == ["src", "dst", "conn"]
    assert ["default/lone", "shop/app[Deployment]", "TCP 80,UDP 8000-8011"] in rows
    assert ["shop/app[Deployment]", "default/lone", "All Connections"] in rows
    assert len(rows) == 7
    assert "ConfigMap" in err  # warnings go to stderr outside JSON


def test_dot_is_a_digraph_with_every_node_and_labelled_edges(
    capsys: pytest.CaptureFixture[str], two_kinds: str
) -> None:
    _, out, _ = _run(capsys, "reach", "-f", two_kinds, "--format", "dot", "--workloads-only")
    assert out.startswith("digraph {\n") and out.endswith("}\n")
    assert '"shop/app[StatefulSet]" [label="shop/app[StatefulSet]"' in out
    assert '"default/lone" -> "shop/app[Deployment]" [label="TCP 80,UDP 8000-8011"' in out
    assert out.count(" -> ") == 6


def test_table_rows_are_sources_and_columns_destinations(
    capsys: pytest.CaptureFixture[str], two_kinds: str
) -> None:
    _, out, _ = _run(capsys, "reach", "-f", two_kinds, "--workloads-only")
    lines = out.splitlines()
    assert lines[0].split() == [
        "src", "\\", "dst", "default/lone", "shop/app[Deployment]", "shop/app[StatefulSet]",
    ]
    row = next(line for line in lines if line.startswith("default/lone"))
    assert row.split()[1:] == ["TCP", "80", "UDP", "8000-8011", "All"]
    deployment_row = next(line for line in lines if line.startswith("shop/app[Deployment]"))
    assert deployment_row.split()[1:] == ["All", "All"]


def test_example_cluster_matrix_matches_its_policies(capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = _run(capsys, "reach", "-f", EXAMPLE, "--format", "json")
    conns = {(c["src"], c["dst"]): c["allowed"] for c in json.loads(out)["connections"]}
    assert conns[("backend/api", "backend/db")] == {"TCP": [[5432, 5432]]}
    assert conns[("backend/api", "backend/dns")] == {"TCP": [[53, 53]], "UDP": [[53, 53]]}
    assert ("frontend/web", "backend/db") not in conns  # Admin Deny, even before NP
    assert conns[("monitoring/prometheus", "backend/db")] == {"TCP": [[9187, 9187]]}
    assert "UDP" not in conns[("monitoring/debug", "monitoring/prometheus")]


@pytest.mark.parametrize(
    ("manifest", "expected"),
    [
        (
            "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\n"
            "metadata: {name: bad, namespace: a}\nspec:\n  podSelector: {}\n"
            "  ingress: [{ports: [{port: 70000}]}]\n",
            "port",
        ),
        ("kind: [unclosed\n", "bad.yaml"),
    ],
)
def test_invalid_manifest_exits_2_with_one_line_and_no_stdout(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, manifest: str, expected: str
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(manifest)
    code, out, err = _run(capsys, "reach", "-f", str(path), "--format", "json")
    assert code == 2
    assert out == ""
    assert len(err.strip().splitlines()) == 1
    assert expected in err and "bad.yaml" in err


def test_missing_path_exits_2_as_a_process() -> None:
    res = subprocess.run(
        [sys.executable, "-m", "vfpnet", "reach", "-f", "/nonexistent/vt-none.yaml"],
        capture_output=True, text=True,
    )
    assert res.returncode == 2
    assert res.stdout == ""
    assert "Traceback" not in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1


def test_help_explains_formats_and_exit_status(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["reach", "--help"])
    out = capsys.readouterr().out
    assert exc.value.code == 0
    for word in ("table", "json", "csv", "dot", "NS/NAME[Kind]", "Exit status"):
        assert word in out


EXTERNAL = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: a}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: c, image: i}]}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web, namespace: a}
spec:
  podSelector: {}
  policyTypes: [Ingress, Egress]
  ingress:
  - from: [{ipBlock: {cidr: 10.0.0.0/8, except: [10.1.0.0/16]}}]
    ports: [{port: 443}]
  egress:
  - to: [{ipBlock: {cidr: 192.168.0.0/16}}]
"""


def test_outside_addresses_are_ipblock_ranges_cut_at_policy_boundaries(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    (tmp_path / "c.yaml").write_text(EXTERNAL)
    code, out, _ = _run(capsys, "reach", "-f", str(tmp_path), "--format", "json")
    assert code == 0
    doc = json.loads(out)
    blocks = {n["id"]: n for n in doc["nodes"] if n["kind"] == "IPBlock"}
    conns = {(c["src"], c["dst"]): c["allowed"] for c in doc["connections"]}
    # Sources: cut at 10.0.0.0, 10.1.0.0, 10.2.0.0, 11.0.0.0; only allowed ones appear.
    assert conns == {
        ("10.0.0.0-10.0.255.255", "a/web"): {"TCP": [[443, 443]]},
        ("10.2.0.0-10.255.255.255", "a/web"): {"TCP": [[443, 443]]},
        ("a/web", "192.168.0.0-192.168.255.255"): {
            "TCP": [[1, 65535]], "UDP": [[1, 65535]], "SCTP": [[1, 65535]],
        },
    }
    assert blocks["10.0.0.0-10.0.255.255"] == {
        "id": "10.0.0.0-10.0.255.255", "kind": "IPBlock", "namespace": "",
        "name": "10.0.0.0-10.0.255.255",
    }
    assert set(blocks) == {"10.0.0.0-10.0.255.255", "10.2.0.0-10.255.255.255",
                           "192.168.0.0-192.168.255.255"}


def test_without_policies_the_whole_ipv4_space_is_one_node(
    capsys: pytest.CaptureFixture[str], two_kinds: str
) -> None:
    _, out, _ = _run(capsys, "reach", "-f", two_kinds, "--format", "json")
    conns = {(c["src"], c["dst"]) for c in json.loads(out)["connections"]}
    assert ("0.0.0.0-255.255.255.255", "default/lone") in conns
    assert ("default/lone", "0.0.0.0-255.255.255.255") in conns
    assert ("0.0.0.0-255.255.255.255", "shop/app[Deployment]") in conns  # TCP 80 and UDP
    _, table, _ = _run(capsys, "reach", "-f", two_kinds)
    assert "outside the cluster (IPBlock):" in table
    assert "  default/lone => 0.0.0.0-255.255.255.255 : All" in table


ADJACENT_EXCEPTS = EXTERNAL.replace(
    "except: [10.1.0.0/16]", "except: [10.0.0.0/9, 10.128.0.0/9]"
).replace("cidr: 10.0.0.0/8,", "cidr: 0.0.0.0/0,")


def test_adjacent_excepts_make_one_range(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    (tmp_path / "c.yaml").write_text(ADJACENT_EXCEPTS)
    _, out, _ = _run(capsys, "reach", "-f", str(tmp_path), "--format", "json")
    sources = {c["src"] for c in json.loads(out)["connections"] if c["dst"] == "a/web"}
    assert sources == {"0.0.0.0-9.255.255.255", "11.0.0.0-255.255.255.255"}


OWNED_PODS = """\
apiVersion: v1
kind: Pod
metadata:
  name: web-7d9f-abcde
  namespace: a
  labels: {app: web}
  ownerReferences: [{apiVersion: apps/v1, kind: ReplicaSet, name: web-7d9f, uid: u1,
                     controller: true}]
spec: {containers: [{name: c, image: i}]}
---
apiVersion: v1
kind: Pod
metadata:
  name: web-7d9f-fghij
  namespace: a
  labels: {app: web}
  ownerReferences: [{apiVersion: apps/v1, kind: ReplicaSet, name: web-7d9f, uid: u1,
                     controller: true}]
spec: {containers: [{name: c, image: i}]}
---
apiVersion: v1
kind: Pod
metadata: {name: client, namespace: a, labels: {app: client}}
spec: {containers: [{name: c, image: i}]}
"""


def test_pods_of_one_controller_are_one_node_named_after_it(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    (tmp_path / "pods.yaml").write_text(OWNED_PODS)
    _, out, _ = _run(capsys, "reach", "-f", str(tmp_path), "--format", "json",
                     "--workloads-only")
    doc = json.loads(out)
    assert doc["nodes"] == [
        {"id": "a/client", "kind": "Pod", "namespace": "a", "name": "client"},
        {"id": "a/web-7d9f", "kind": "ReplicaSet", "namespace": "a", "name": "web-7d9f"},
    ]
    assert [(c["src"], c["dst"]) for c in doc["connections"]] == [
        ("a/client", "a/web-7d9f"), ("a/web-7d9f", "a/client"),
    ]
    code, out, _ = _run(capsys, "explain", "-f", str(tmp_path), "--from", "a/client",
                        "--to", "a/web-7d9f", "--port", "80")
    assert code == 0 and "ALLOWED" in out
    # A Pod's own name leads to its controller's node.
    code, out, _ = _run(capsys, "explain", "-f", str(tmp_path), "--from", "a/web-7d9f-fghij",
                        "--to", "a/client", "--port", "80")
    assert code == 0 and out.startswith("a/web-7d9f -> a/client TCP/80: ALLOWED")
