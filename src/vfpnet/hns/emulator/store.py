"""The emulator's SQLite state file: its tables, one transaction per call, the fault plan.

Why here: every resource module (networks, endpoints, namespaces, routes) runs its SQL
inside `Store.op`, which is where the state file's sharing rules live (WAL, busy timeout,
`BEGIN IMMEDIATE` for calls that change state, deferred for get/list) and where planned
faults fire before a call does anything. The small JSON/ID helpers every resource module
stores its documents with live here too.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
import uuid
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from vfpnet.hns.errors import HcnError, hcn_error
from vfpnet.hns.faults import ENV_VAR, Fault, parse_fault_plan
from vfpnet.hns.validate import parse_json_text
from vfpnet.hns.version import DEFAULT_VERSION, HnsVersion, parse_version, supported_features

SCHEMA_VERSION = {"Major": 2, "Minor": 0}
BUSY_TIMEOUT_S = 60.0
# Overrides, for this process only, the version stored in the state file.
VERSION_ENV = "VFPNET_HNS_VERSION"

_TABLES = """
CREATE TABLE IF NOT EXISTS hns_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS hns_networks (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, doc TEXT NOT NULL, seq INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS hns_endpoints (
    id TEXT PRIMARY KEY, network_id TEXT NOT NULL, doc TEXT NOT NULL, seq INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS hns_endpoints_network ON hns_endpoints (network_id);
CREATE TABLE IF NOT EXISTS hns_namespaces (
    id TEXT PRIMARY KEY, doc TEXT NOT NULL, seq INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS hns_addresses (
    network_id TEXT NOT NULL, address TEXT NOT NULL, endpoint_id TEXT NOT NULL,
    PRIMARY KEY (network_id, address));
CREATE INDEX IF NOT EXISTS hns_addresses_endpoint ON hns_addresses (endpoint_id);
CREATE TABLE IF NOT EXISTS hns_routes (
    destination TEXT NOT NULL, next_hop TEXT NOT NULL, interface_index INTEGER NOT NULL,
    metric INTEGER NOT NULL, seq INTEGER NOT NULL,
    PRIMARY KEY (destination, next_hop, interface_index));
CREATE TABLE IF NOT EXISTS hns_container_attachments (
    endpoint_id TEXT NOT NULL, container_id TEXT NOT NULL, seq INTEGER NOT NULL,
    PRIMARY KEY (endpoint_id, container_id));
CREATE TABLE IF NOT EXISTS hns_faults (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, operation TEXT NOT NULL, nth INTEGER NOT NULL,
    calls INTEGER NOT NULL DEFAULT 0, hresult INTEGER NOT NULL);
"""

# Calls of this process, for faults planned through the environment.
_ENV_CALLS: Counter[str] = Counter()


class Store:
    """The open state file, the HNS version it speaks and this process's fault plan."""

    def __init__(self, path: str, version: str | tuple[int, int] | HnsVersion | None = None):
        self.env_faults: list[Fault] = parse_fault_plan(os.environ.get(ENV_VAR, ""))
        self.db = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
        self.db.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
        self._set_wal()
        self.db.execute("PRAGMA synchronous = NORMAL")
        with self.write():
            for statement in _TABLES.split(";"):
                if statement.strip():
                    self.db.execute(statement)
            if version is not None:
                self.db.execute(
                    "INSERT OR REPLACE INTO hns_meta VALUES ('version', ?)",
                    (str(parse_version(version)),),
                )
        env_version = os.environ.get(VERSION_ENV)
        self.version = (
            parse_version(env_version) if version is None and env_version else self._read_version()
        )

    def _set_wal(self) -> None:
        deadline = time.monotonic() + BUSY_TIMEOUT_S
        while True:
            try:
                self.db.execute("PRAGMA journal_mode = WAL")
                return
            except sqlite3.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.01)

    def close(self) -> None:
        self.db.close()

    def _read_version(self) -> HnsVersion:
        row = self.db.execute("SELECT value FROM hns_meta WHERE key = 'version'").fetchone()
        return parse_version(row[0]) if row else DEFAULT_VERSION

    def require_v2(self) -> None:
        if not supported_features(self.version)["API"]["V2"]:
            raise hcn_error("E_NOTIMPL", f"HCN v2 API needs HNS 9.2, this is {self.version}")

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    @contextmanager
    def op(self, operation: str) -> Iterator[sqlite3.Connection]:
        """One call of `operation`: one transaction, after the fault plan had its say.

        A fault that fires is committed (consumed) and raised before the call does anything.
        Calls that only read (get_*, list_*) run in a deferred transaction, so readers do
        not queue behind writers, unless a fault is planned for them (counting is a write).
        """
        self._env_fault(operation)
        db = self.db
        reads_only = operation.startswith(("get_", "list_"))
        db.execute("BEGIN" if reads_only else "BEGIN IMMEDIATE")
        try:
            row = _planned_fault(db, operation)
            if row is not None and reads_only:
                db.execute("ROLLBACK")
                db.execute("BEGIN IMMEDIATE")
                row = _planned_fault(db, operation)
            if row is not None:
                seq, nth, calls, hresult = row
                if calls + 1 >= nth:
                    db.execute("DELETE FROM hns_faults WHERE seq = ?", (seq,))
                    db.execute("COMMIT")
                    raise HcnError(hresult, detail=f"injected fault: {operation} call {nth}")
                db.execute("UPDATE hns_faults SET calls = calls + 1 WHERE seq = ?", (seq,))
            yield db
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    def _env_fault(self, operation: str) -> None:
        if not self.env_faults:
            return
        _ENV_CALLS[operation] += 1
        for f in self.env_faults:
            if f.operation == operation and f.nth == _ENV_CALLS[operation]:
                raise HcnError(
                    f.hresult, detail=f"injected fault ({ENV_VAR}): {operation} call {f.nth}"
                )


def _planned_fault(db: sqlite3.Connection, operation: str) -> tuple[int, int, int, int] | None:
    row = db.execute(
        "SELECT seq, nth, calls, hresult FROM hns_faults WHERE operation = ? ORDER BY seq LIMIT 1",
        (operation,),
    ).fetchone()
    return None if row is None else (int(row[0]), int(row[1]), int(row[2]), int(row[3]))


def as_json(value: Mapping[str, Any] | str | bytes, what: str) -> dict[str, Any]:
    data = parse_json_text(value, what) if isinstance(value, str | bytes) else value
    if not isinstance(data, Mapping):
        raise hcn_error("HCN_E_INVALID_JSON", f"{what}: expected a JSON object")
    return dict(data)


def dump(doc: Mapping[str, Any]) -> str:
    return json.dumps(doc, separators=(",", ":"))


def norm_id(value: str) -> str:
    text = value.strip().strip("{}")
    try:
        return str(uuid.UUID(text)).upper()
    except ValueError:
        return text


def new_or_given_id(given: str | None) -> str:
    if not given or given.strip("{}") == "00000000-0000-0000-0000-000000000000":
        return str(uuid.uuid4()).upper()
    try:
        return str(uuid.UUID(given.strip().strip("{}"))).upper()
    except ValueError:
        raise hcn_error("HCN_E_GUID_CONVERSION_FAILURE", f"ID {given!r}") from None


def next_seq(db: sqlite3.Connection, table: str) -> int:
    row = db.execute(f"SELECT COALESCE(MAX(seq), 0) + 1 FROM {table}").fetchone()
    return int(row[0])
