"""`--datastore files:DIR|kubernetes|etcd:URL[,URL...]` -> a datastore."""

from __future__ import annotations

from pathlib import Path

from vfpnet.agent.datastore.errors import DatastoreConfigError
from vfpnet.agent.datastore.protocol import Datastore

USAGE = "expected files:DIR, kubernetes, or etcd:URL[,URL...]"


def open_datastore(spec: str) -> Datastore:
    """The datastore `spec` names; raises DatastoreConfigError (one line) on a bad value.

    Nothing is contacted here: an unreachable store shows up at `snapshot()`.
    """
    scheme, sep, rest = spec.partition(":")
    if scheme == "files" and sep:
        if not rest:
            raise DatastoreConfigError(f"--datastore {spec!r}: files: needs a directory")
        from vfpnet.agent.datastore.files import FilesDatastore

        return FilesDatastore(Path(rest))
    if scheme == "kubernetes" and not sep:
        from vfpnet.agent.datastore.kubeconfig import load_config
        from vfpnet.agent.datastore.kubernetes import KubernetesDatastore

        return KubernetesDatastore(load_config())
    if scheme == "etcd" and sep:
        from vfpnet.agent.datastore.etcd import EtcdDatastore
        from vfpnet.agent.datastore.http_stream import parse_endpoint

        urls = [u.strip() for u in rest.split(",")]
        if not all(urls):
            raise DatastoreConfigError(f"--datastore {spec!r}: an empty etcd URL")
        return EtcdDatastore([parse_endpoint(u, f"--datastore {spec!r}") for u in urls])
    raise DatastoreConfigError(f"--datastore {spec!r}: {USAGE}")
