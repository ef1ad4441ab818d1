"""Per-endpoint state on disk: what ADD did, so DEL, CHECK and GC never have to guess.

Layout under the state dir (default /var/lib/vfpnet/cni; netconf `stateDir`, or the
environment variable VFPNET_CNI_STATE_DIR which wins):

    node.lock                                  flock for node-wide objects (tunnel table, rules)
    <network>/lock                             flock held by every ADD/DEL/CHECK/GC of the network
    <network>/endpoints/<containerID>:<ifname>.json   one record per attachment

A record is written (atomically: temp file, rename; no fsync, which costs tens of ms
on a busy disk: records guard against a killed plugin, and after a power loss the
namespaces they describe are gone too) before ADD changes anything
(`status: "adding"`), again once IPAM has answered, and finally with `status: "ready"`;
so a plugin killed at any point leaves a record that DEL or GC can finish from.
"""

from __future__ import annotations

import fcntl
import os

from vfpnet.cni import errors
from vfpnet.cni.jsonwire import JsonError, dumps, loads


class Lock:
    """An exclusive flock on a file, released on close (and by the kernel if we die)."""

    def __init__(self, path: str) -> None:
        os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
        self.fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        fcntl.flock(self.fd, fcntl.LOCK_EX)

    def release(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def __enter__(self) -> Lock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


class Store:
    """The records of one network."""

    def __init__(self, state_dir: str, network: str) -> None:
        if not network or "/" in network or network in (".", ".."):
            raise errors.CniError(
                errors.INVALID_CONFIG, f"name: {network!r} is not a valid network name"
            )
        self.root = state_dir
        self.dir = os.path.join(state_dir, network)
        self.endpoints = os.path.join(self.dir, "endpoints")

    def lock(self) -> Lock:
        try:
            return Lock(os.path.join(self.dir, "lock"))
        except OSError as exc:
            raise errors.CniError(
                errors.IO_FAILURE, f"stateDir: cannot lock {self.dir}: {exc.strerror}"
            ) from None

    def node_lock(self) -> Lock:
        return Lock(os.path.join(self.root, "node.lock"))

    def path(self, container_id: str, ifname: str) -> str:
        return os.path.join(self.endpoints, f"{container_id}:{ifname}.json")

    def read(self, container_id: str, ifname: str) -> dict[str, object] | None:
        return self._read(self.path(container_id, ifname))

    def _read(self, path: str) -> dict[str, object] | None:
        try:
            with open(path, "rb") as fh:
                data = fh.read()
        except FileNotFoundError:
            return None
        try:
            record = loads(data)
        except JsonError as exc:
            raise errors.CniError(errors.DECODE_FAILURE, f"state record {path}: {exc}") from None
        if not isinstance(record, dict):
            raise errors.CniError(errors.DECODE_FAILURE, f"state record {path}: not an object")
        return record

    def write(self, record: dict[str, object]) -> None:
        path = self.path(str(record["containerID"]), str(record["ifname"]))
        os.makedirs(self.endpoints, mode=0o755, exist_ok=True)
        tmp = f"{path}.tmp{os.getpid()}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
        try:
            os.write(fd, dumps(record).encode())
        finally:
            os.close(fd)
        os.rename(tmp, path)

    def remove(self, container_id: str, ifname: str) -> None:
        try:  # noqa: SIM105 (contextlib is an import the ADD path avoids)
            os.unlink(self.path(container_id, ifname))
        except FileNotFoundError:
            pass

    def all(self) -> list[dict[str, object]]:
        try:
            names = sorted(os.listdir(self.endpoints))
        except FileNotFoundError:
            return []
        out = []
        for name in names:
            if name.endswith(".json"):
                record = self._read(os.path.join(self.endpoints, name))
                if record is not None:
                    out.append(record)
        return out


def ready_endpoints(state_dir: str) -> list[dict[str, object]]:
    """Every finished attachment on this node, all networks (what the policy agent reads).

    Records still `adding` (an ADD in progress, or one that was killed) are left out.
    """
    out: list[dict[str, object]] = []
    try:
        networks = sorted(os.listdir(state_dir))
    except FileNotFoundError:
        return out
    for network in networks:
        if os.path.isdir(os.path.join(state_dir, network, "endpoints")):
            out += [r for r in Store(state_dir, network).all() if r.get("status") == "ready"]
    return out
