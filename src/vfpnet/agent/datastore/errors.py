"""Errors of the datastores, each with a one-line message that says where the problem is.

`DatastoreUnavailable`: the store does not answer (connection refused, every etcd member
down, an HTTP 5xx, access denied); the caller keeps what it has and retries.
`BadDataError`: one object (a file, an etcd key, an API object) is malformed; the message
names the source and the field; the rest of the store is still used.
`DatastoreConfigError`: the `--datastore` value, a kubeconfig or a URL is wrong (exit 2).
"""

from __future__ import annotations

from vfpnet.errors import InputError, VfpnetError


class DatastoreError(VfpnetError):
    """Anything that went wrong reading a datastore."""


class DatastoreUnavailable(DatastoreError):
    """The datastore cannot be reached or refuses to answer."""


class BadDataError(DatastoreError):
    """One object in the datastore is malformed: `source` (file, key, API path) and `field`."""

    def __init__(self, source: str, field: str, problem: str) -> None:
        self.source = source
        self.field = field
        self.problem = problem
        where = f"{source}: field {field}" if field else source
        super().__init__(f"{where}: {problem}")


class DatastoreConfigError(DatastoreError, InputError):
    """The datastore's configuration is wrong: a bad `--datastore` value, kubeconfig or URL."""
