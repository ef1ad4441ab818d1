"""The agent's status file: what `vfpnet agent status` prints.

Written atomically (temp file + rename) to `<run dir>/status.json` after every sync. The
run dir is `--run-dir`, else `$VFPNET_AGENT_RUN_DIR`, else `/run/vfpnet/agent`.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping, Sequence
from typing import Any

from vfpnet.agent.calc import Calculator
from vfpnet.errors import InputError

DEFAULT_RUN_DIR = "/run/vfpnet/agent"
STATUS_FILE = "status.json"


def run_dir(given: str | None) -> str:
    return given or os.environ.get("VFPNET_AGENT_RUN_DIR") or DEFAULT_RUN_DIR


def build_status(
    calc: Calculator,
    *,
    datastore: str,
    dataplane: str,
    syncs: int,
    last_sync: float | None,
    last_sync_seconds: float | None,
    errors: Sequence[str],
    fail_closed: Mapping[str, str],
    state: str,
) -> dict[str, Any]:
    cluster = calc.store.cluster()
    endpoints = []
    for handle, d in sorted(calc.desired.items(), key=lambda kv: kv[1].pod):
        endpoints.append({
            "handle": handle,
            "pod": d.pod,
            "ips": list(d.ips),
            "ingressRules": len(d.ingress),
            "egressRules": len(d.egress),
            "isolatedIngressBy": list(d.isolated_ingress_by),
            "isolatedEgressBy": list(d.isolated_egress_by),
            **({"failClosed": fail_closed[handle]} if handle in fail_closed else {}),
        })
    return {
        "node": calc.node,
        "state": state,
        "datastore": datastore,
        "dataplane": dataplane,
        "syncs": syncs,
        "lastSync": last_sync,
        "lastSyncSeconds": last_sync_seconds,
        "policies": {
            "NetworkPolicy": len(cluster.network_policies),
            "cluster": len(cluster.cluster_policies),
        },
        "pods": len(cluster.workloads),
        "endpoints": endpoints,
        "unjoined": [{"handle": h, "reason": r} for h, r in sorted(calc.unjoined.items())],
        "invalidObjects": [
            {"object": str(k), "error": e} for k, e in sorted(calc.store.errors.items())
        ],
        "errors": list(errors) + calc.datastore_errors,
    }


def write_status(directory: str, status: Mapping[str, Any]) -> None:
    os.makedirs(directory, mode=0o755, exist_ok=True)
    path = os.path.join(directory, STATUS_FILE)
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w") as fh:
        json.dump(status, fh, indent=1, sort_keys=True)
    os.replace(tmp, path)


def read_status(directory: str) -> dict[str, Any]:
    path = os.path.join(directory, STATUS_FILE)
    try:
        with open(path) as fh:
            data: dict[str, Any] = json.load(fh)
    except FileNotFoundError:
        raise InputError(
            f"{path}: no agent status (has the agent run with this run dir?)"
        ) from None
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}: not JSON: {exc.msg}") from None
    return data


def format_status(status: Mapping[str, Any]) -> str:
    when = status.get("lastSync")
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(when)) if when else "never"
    lines = [
        f"node {status['node']}: {status['state']}, datastore {status['datastore']}, "
        f"dataplane {status['dataplane']}",
        f"last sync {stamp} ({status.get('lastSyncSeconds') or 0:.3f} s), "
        f"{status['syncs']} syncs",
        f"policies: {status['policies']['NetworkPolicy']} NetworkPolicy, "
        f"{status['policies']['cluster']} cluster-scoped; pods known: {status['pods']}",
        f"endpoints ({len(status['endpoints'])}):",
    ]
    for ep in status["endpoints"]:
        iso = []
        if ep["isolatedIngressBy"]:
            iso.append(f"ingress isolated by {', '.join(ep['isolatedIngressBy'])}")
        if ep["isolatedEgressBy"]:
            iso.append(f"egress isolated by {', '.join(ep['isolatedEgressBy'])}")
        closed = f" FAIL-CLOSED: {ep['failClosed']}" if "failClosed" in ep else ""
        lines.append(
            f"  {ep['pod']} {','.join(ep['ips'])}: {ep['ingressRules']} in / "
            f"{ep['egressRules']} out rules{'; ' if iso else ''}{'; '.join(iso)}{closed}"
        )
    for item in status["unjoined"]:
        lines.append(f"  unjoined {item['handle']}: {item['reason']} (left as it was)")
    for item in status["invalidObjects"]:
        lines.append(f"invalid: {item['error']}")
    for error in status["errors"]:
        lines.append(f"error: {error}")
    return "\n".join(lines)
