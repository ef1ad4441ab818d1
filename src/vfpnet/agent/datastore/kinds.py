"""The Kubernetes kinds the agent reads, and the key that names one object of them.

A datastore deals in raw objects (the JSON dicts the API serves); this module only knows
enough of them to file each under `ObjectKey(kind, namespace, name)`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from vfpnet.agent.datastore.errors import BadDataError

RawObject = Mapping[str, Any]


@dataclass(frozen=True)
class Kind:
    """One resource type as the API serves it."""

    name: str
    group: str
    version: str
    plural: str
    namespaced: bool

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def collection_path(self) -> str:
        """The API path listing every object of the kind in all namespaces."""
        prefix = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        return f"{prefix}/{self.plural}"


NAMESPACE = Kind("Namespace", "", "v1", "namespaces", namespaced=False)
POD = Kind("Pod", "", "v1", "pods", namespaced=True)
NETWORK_POLICY = Kind("NetworkPolicy", "networking.k8s.io", "v1", "networkpolicies", True)
CLUSTER_NETWORK_POLICY = Kind(
    "ClusterNetworkPolicy", "policy.networking.k8s.io", "v1alpha2", "clusternetworkpolicies", False
)
ADMIN_NETWORK_POLICY = Kind(
    "AdminNetworkPolicy", "policy.networking.k8s.io", "v1alpha1", "adminnetworkpolicies", False
)
BASELINE_ADMIN_NETWORK_POLICY = Kind(
    "BaselineAdminNetworkPolicy",
    "policy.networking.k8s.io",
    "v1alpha1",
    "baselineadminnetworkpolicies",
    False,
)

KINDS: tuple[Kind, ...] = (
    NAMESPACE,
    POD,
    NETWORK_POLICY,
    CLUSTER_NETWORK_POLICY,
    ADMIN_NETWORK_POLICY,
    BASELINE_ADMIN_NETWORK_POLICY,
)
KIND_BY_NAME: dict[str, Kind] = {k.name: k for k in KINDS}
KIND_BY_PLURAL: dict[str, Kind] = {k.plural: k for k in KINDS}


@dataclass(frozen=True, order=True)
class ObjectKey:
    """Names one object: `namespace` is "" for cluster-scoped kinds."""

    kind: str
    namespace: str
    name: str

    def __str__(self) -> str:
        if self.namespace:
            return f"{self.kind} {self.namespace}/{self.name}"
        return f"{self.kind} {self.name}"


def object_key(obj: RawObject, kind: Kind, source: str) -> ObjectKey:
    """The key of `obj`, checking the metadata fields the key is made of."""
    metadata = obj.get("metadata")
    if not isinstance(metadata, Mapping):
        raise BadDataError(source, "metadata", f"{kind.name}: must be a mapping")
    name = metadata.get("name")
    if not isinstance(name, str) or not name:
        raise BadDataError(source, "metadata.name", f"{kind.name}: must be a non-empty string")
    namespace = metadata.get("namespace")
    if not kind.namespaced:
        return ObjectKey(kind.name, "", name)
    if not isinstance(namespace, str) or not namespace:
        raise BadDataError(
            source, "metadata.namespace", f"{kind.name} {name}: must be a non-empty string"
        )
    return ObjectKey(kind.name, namespace, name)


def check_api_version(obj: RawObject, kind: Kind, source: str) -> None:
    """Refuse an object whose apiVersion is not the one this kind is read at."""
    api_version = obj.get("apiVersion")
    if api_version != kind.api_version:
        raise BadDataError(
            source,
            "apiVersion",
            f"{kind.name}: is {api_version!r}, expected {kind.api_version!r}",
        )
