"""A case step as the agent sees it: a datastore snapshot and the node's endpoints."""

from __future__ import annotations

from cases import Step
from vfpnet.agent.datastore.events import Snapshot
from vfpnet.agent.datastore.kinds import ObjectKey, RawObject
from vfpnet.agent.datastore.manifests import read_manifest
from vfpnet.agent.endpoints import LocalEndpoint


def snapshot_of(step: Step, revision: str = "1") -> Snapshot:
    objects: dict[ObjectKey, RawObject] = {}
    for path in step.manifest_files():
        objects.update(read_manifest(path, path.read_text()))
    return Snapshot(objects, revision)


def endpoints_of(step: Step) -> list[LocalEndpoint]:
    """Every Pod of the step as a local endpoint (one node holds them all)."""
    return [
        LocalEndpoint(f"c{pod.namespace}{pod.name}:eth0", pod.ips, pod.namespace, pod.name)
        for pod in step.pods().values()
    ]
