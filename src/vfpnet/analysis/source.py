"""Where the analysis gets its cluster: the manifests named on the command line."""

from __future__ import annotations

from collections.abc import Sequence

from vfpnet.k8s.load import load_cluster
from vfpnet.k8s.model import Cluster


def load_manifests(paths: Sequence[str]) -> Cluster:
    """The cluster described by `paths` (files, directories, `-` for standard input);
    InputError, naming file, object and field, if anything is invalid."""
    return load_cluster(paths)
