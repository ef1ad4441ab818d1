"""`vfpnet agent --datastore kubernetes` end to end: an API server (recorded answers on
loopback, found through KUBECONFIG) serves a step's objects as lists; the agent programs
the HNS twin; the ACLs are exactly those the same objects give through the files
datastore. Steps of every policy kind: NetworkPolicy, ANP/BANP and CNP."""

from __future__ import annotations

import json
import shutil
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from agent.recorded_apiserver import Recording, serve
from agent_dataplane.agentrun import run_agent, write_manifests
from cases import Step, case_steps, step_id
from vfpnet.agent.datastore.kinds import KINDS
from vfpnet.hns.emulator import Emulator

HOST = "10.240.0.1"
STEPS = {step_id(c, s): s for suite in ("e2e", "anp", "cnp") for c, s in case_steps(suite=suite)}
CHOSEN = [
    "e2e/default-deny-ingress",
    next(k for k in STEPS if k.startswith("anp/")),
    next(k for k in STEPS if k.startswith("cnp/")),
]


def _node(state: str, step: Step) -> None:
    """An emulator node with an endpoint per pod of the step."""
    client = Emulator(state)
    try:
        network = client.create_network({
            "Name": "podnet", "Type": "L2Bridge",
            "Ipams": [{"Type": "Static", "Subnets": [{"IpAddressPrefix": "10.0.0.0/8"}]}],
            "SchemaVersion": {"Major": 2, "Minor": 0},
        })
        for pod in step.pods().values():
            client.create_endpoint(network["ID"], {
                "Name": pod.id.replace("/", "-"), "HostComputeNetwork": network["ID"],
                "IpConfigurations": [{"IpAddress": ip, "PrefixLength": 8} for ip in pod.ips
                                     if ":" not in ip],
                "SchemaVersion": {"Major": 2, "Minor": 0},
            })
    finally:
        client.close()


def _acls(state: str) -> dict[str, list[Any]]:
    client = Emulator(state)
    try:
        return {str(ep["Name"]): sorted((p for p in ep.get("Policies", []) if p["Type"] == "ACL"),
                                        key=json.dumps)
                for ep in client.list_endpoints()}
    finally:
        client.close()


POLICY_KINDS = {k.name for k in KINDS} - {"Namespace", "Pod"}


def _recording(step: Step, policies: bool = True) -> Recording:
    """Every object of the step in the List the API server would answer for its kind."""
    by_kind: dict[str, list[dict[str, Any]]] = defaultdict(list)
    namespaces: set[str] = set()
    for i, doc in enumerate(step.documents()):
        if not policies and doc["kind"] in POLICY_KINDS:
            continue
        meta = dict(doc.get("metadata") or {})
        meta.setdefault("resourceVersion", str(100 + i))
        meta.setdefault("uid", f"uid-{i}")
        if doc["kind"] == "Namespace":
            namespaces.add(meta["name"])
        elif meta.get("namespace"):
            namespaces.add(meta["namespace"])
        by_kind[doc["kind"]].append({k: v for k, v in doc.items()
                                     if k not in ("kind", "apiVersion")} | {"metadata": meta})
    for name in sorted(namespaces - {d["metadata"]["name"] for d in by_kind["Namespace"]}):
        by_kind["Namespace"].append({"metadata": {"name": name, "resourceVersion": "1",
                                                  "labels": {"kubernetes.io/metadata.name": name}}})
    rec = Recording()
    for kind in KINDS:
        rec.lists[kind.collection_path] = [(200, {
            "kind": f"{kind.name}List", "apiVersion": kind.api_version,
            "metadata": {"resourceVersion": "500"}, "items": by_kind.get(kind.name, []),
        })]
    return rec


@pytest.mark.parametrize("chosen", CHOSEN)
def test_agent_on_the_api_server_programs_what_the_files_give(tmp_path: Path,
                                                             chosen: str) -> None:
    step = STEPS[chosen]
    via_files, via_api = str(tmp_path / "files.db"), str(tmp_path / "api.db")
    _node(via_files, step)
    shutil.copy(via_files, via_api)
    write_manifests(tmp_path / "m", step)
    common = ["--dataplane", "hns", "--node", "node1", "--once", "--host-address", HOST]
    files = run_agent(None, "--datastore", f"files:{tmp_path / 'm'}", "--hns-state", via_files,
                      "--run-dir", str(tmp_path / "run-files"), *common)
    assert files.returncode == 0, files.stderr
    api = _run_on_api(tmp_path, step, via_api, common, policies=True)
    assert api.returncode == 0, api.stderr
    expected = _acls(via_files)
    assert _acls(via_api) == expected
    # the policies served by the API made that difference: without them the ACLs differ
    bare = str(tmp_path / "bare.db")
    _node(bare, step)
    assert _run_on_api(tmp_path, step, bare, common, policies=False).returncode == 0
    assert _acls(bare) != expected


def _run_on_api(tmp_path: Path, step: Step, state: str, common: list[str],
                policies: bool) -> Any:
    with serve(_recording(step, policies)) as url:
        (tmp_path / "kubeconfig").write_text(
            "apiVersion: v1\nkind: Config\ncurrent-context: a\n"
            "contexts: [{name: a, context: {cluster: c, user: u}}]\n"
            f"clusters: [{{name: c, cluster: {{server: '{url}'}}}}]\n"
            "users: [{name: u, user: {token: vt-e2e-token}}]\n")
        return run_agent(None, "--datastore", "kubernetes", "--hns-state", state,
                         "--run-dir", str(tmp_path / f"run-{Path(state).stem}"), *common,
                         env={"KUBECONFIG": str(tmp_path / "kubeconfig")})
