"""Where the analysis gets its cluster: the manifests named on the command line."""

from __future__ import annotations

from collections.abc import Sequence

from vfpnet.k8s.model import Cluster


def load_manifests(paths: Sequence[str]) -> Cluster:
    """The cluster described by `paths` (files or directories); InputError if invalid."""
    from vfpnet.k8s.load import load_cluster

    return load_cluster(paths)
