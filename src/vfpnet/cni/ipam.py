"""Delegation to the IPAM plugin named in `ipam.type`, as section 4 of the CNI spec says.

The plugin is looked up in CNI_PATH and executed with the same stdin and environment
(only CNI_COMMAND changes for a release). `start_add` returns at once so the caller can
build interfaces while the IPAM plugin runs (both are a few milliseconds; overlapping them
is most of the ADD latency budget); `IpamCall.result()` waits for the answer.

An IPAM plugin built against an older spec refuses a newer `cniVersion` (Debian's
host-local stops at 1.0.0): the call is then repeated at the plugin's newest older version,
found with a VERSION call. With a `cache_dir` (the state dir) that VERSION answer is kept
in `.ipam-versions/`, keyed by the plugin's path and its inode, size and mtime (a replaced
binary is asked again), so later calls send a version it accepts in the first exec: one
exec per ADD instead of three.
"""

from __future__ import annotations

import os

from vfpnet.cni import errors
from vfpnet.cni.jsonwire import JsonError, dumps, loads
from vfpnet.cni.result import normalize


def find_plugin(name: str, path: list[str]) -> str:
    if not path:
        raise errors.CniError(
            errors.INVALID_ENVIRONMENT,
            f"CNI_PATH: empty, so the IPAM plugin {name!r} (ipam.type) cannot be found",
        )
    for directory in path:
        candidate = os.path.join(directory, name)
        if os.access(candidate, os.X_OK) and not os.path.isdir(candidate):
            return candidate
    raise errors.CniError(
        errors.INVALID_CONFIG,
        f"ipam.type: plugin {name!r} not found in CNI_PATH ({':'.join(path) or 'empty'})",
    )


class IpamCall:
    """One running IPAM plugin process."""

    def __init__(self, plugin: str, command: str, stdin: bytes, environ: dict[str, str],
                 cache_dir: str | None = None) -> None:
        self.plugin = plugin
        self.command = command
        self.cache_dir = cache_dir
        if cache_dir is not None:
            stdin = _fit(stdin, _cached_versions(plugin, cache_dir)) or stdin
        env = dict(environ)
        env["CNI_COMMAND"] = command
        in_r, in_w = os.pipe()
        out_r, out_w = os.pipe()
        try:
            self.pid = os.posix_spawn(
                plugin,
                [plugin],
                env,
                file_actions=[
                    (os.POSIX_SPAWN_DUP2, in_r, 0),
                    (os.POSIX_SPAWN_DUP2, out_w, 1),
                    (os.POSIX_SPAWN_CLOSE, in_w),
                    (os.POSIX_SPAWN_CLOSE, out_r),
                ],
            )
        except OSError as exc:
            for fd in (in_r, in_w, out_r, out_w):
                os.close(fd)
            raise errors.CniError(
                errors.IPAM_FAILED, f"ipam.type: cannot run {plugin}: {exc.strerror}"
            ) from None
        os.close(in_r)
        os.close(out_w)
        self._out = out_r
        try:
            view = memoryview(stdin)
            while view:  # a write past the pipe buffer can return short when the reader goes
                view = view[os.write(in_w, view):]
        except BrokenPipeError:
            pass  # it stopped reading (e.g. VERSION): its answer and exit status tell
        finally:
            os.close(in_w)
        self._result: dict[str, object] | None = None
        self.stdin = stdin
        self.environ = environ

    def wait(self) -> tuple[int, bytes]:
        chunks = []
        while True:
            chunk = os.read(self._out, 65536)
            if not chunk:
                break
            chunks.append(chunk)
        os.close(self._out)
        _, status = os.waitpid(self.pid, 0)
        return os.waitstatus_to_exitcode(status), b"".join(chunks)

    def result(self) -> dict[str, object]:
        """The IPAM result in the 1.x shape (waits for the plugin); errors as CniError."""
        if self._result is None:
            code, out = self.wait()
            older = _older_stdin(self.plugin, code, out, self.stdin, self.environ,
                                 self.cache_dir)
            if older is not None:  # e.g. Debian's host-local knows up to 1.0.0
                self.stdin = older
                code, out = IpamCall(self.plugin, self.command, older, self.environ).wait()
            self._result = _parse_answer(self.plugin, self.command, code, out) or {}
        return self._result


def _parse_answer(plugin: str, command: str, code: int, out: bytes) -> dict[str, object] | None:
    name = os.path.basename(plugin)
    try:
        answer = loads(out) if out.strip() else None
    except JsonError:
        answer = None
    if code != 0:
        if isinstance(answer, dict) and "msg" in answer:
            raise errors.CniError(
                int(answer.get("code", errors.IPAM_FAILED)),
                f"ipam ({name}) {command}: {answer['msg']}",
                str(answer.get("details", "")),
            )
        raise errors.CniError(errors.IPAM_FAILED, f"ipam ({name}) {command}: exit status {code}")
    if command != "ADD":
        return None
    if not isinstance(answer, dict):
        raise errors.CniError(errors.IPAM_FAILED, f"ipam ({name}) ADD: no JSON result on stdout")
    result = normalize(answer, f"ipam ({name}) result")
    if not result["ips"]:
        raise errors.CniError(errors.IPAM_FAILED, f"ipam ({name}) ADD: result has no ips")
    return result


def run(plugin: str, command: str, stdin: bytes, environ: dict[str, str],
        cache_dir: str | None = None) -> None:
    """Run a non-ADD command (DEL, CHECK, GC, STATUS) and wait for it."""
    call = IpamCall(plugin, command, stdin, environ, cache_dir)
    code, out = call.wait()
    older = _older_stdin(plugin, code, out, call.stdin, environ, cache_dir)
    if older is not None:
        code, out = IpamCall(plugin, command, older, environ).wait()
    _parse_answer(plugin, command, code, out)


def _older_stdin(plugin: str, code: int, out: bytes, stdin: bytes,
                 environ: dict[str, str], cache_dir: str | None = None) -> bytes | None:
    """When the plugin refused our cniVersion (code 1): stdin at its newest older version.

    The spec has a plugin delegate with its own configuration; an IPAM plugin built
    against an older spec refuses a 1.1.0 one outright although nothing in the IPAM
    exchange changed between 1.0.0 and 1.1.0.
    """
    if code == 0:
        return None
    try:
        answer = loads(out)
    except JsonError:
        return None
    if not (isinstance(answer, dict) and answer.get("code") == errors.INCOMPATIBLE_VERSION):
        return None
    return _fit(stdin, _supported(plugin, environ, cache_dir))


def _fit(stdin: bytes, offered: list[str] | None) -> bytes | None:
    """`stdin` at the newest version in `offered` older than its own when `offered` lacks
    its own; None when nothing needs to change (or nothing older is offered)."""
    if offered is None:
        return None
    try:
        conf = loads(stdin)
    except JsonError:
        return None
    if not (isinstance(conf, dict) and isinstance(conf.get("cniVersion"), str)):
        return None
    if conf["cniVersion"] in offered:
        return None
    from vfpnet.cni.netconf import version_tuple

    try:
        wanted = version_tuple(str(conf["cniVersion"]))
    except ValueError:
        return None
    usable = [v for v in offered if version_tuple(v) < wanted and version_tuple(v) >= (0, 3, 0)]
    if not usable:
        return None
    conf["cniVersion"] = max(usable, key=version_tuple)
    prev = conf.get("prevResult")
    if isinstance(prev, dict):
        # in the version it is sent at: a plugin parses prevResult as the config's version
        # (static refuses a 1.1.0 prevResult in a 1.0.0 config)
        from vfpnet.cni.result import render

        conf["prevResult"] = render(normalize(prev, "prevResult"), conf["cniVersion"])
    return dumps(conf).encode()


def _supported(plugin: str, environ: dict[str, str], cache_dir: str | None = None) -> list[str]:
    """The plugin's VERSION answer (from the cache when it is there and still current)."""
    if cache_dir is not None:
        cached = _cached_versions(plugin, cache_dir)
        if cached is not None:
            return cached
    code, out = IpamCall(plugin, "VERSION", b'{"cniVersion":"0.3.0"}', environ).wait()
    try:
        answer = loads(out)
    except JsonError:
        return []
    versions = answer.get("supportedVersions") if isinstance(answer, dict) else None
    if code != 0 or not isinstance(versions, list):
        return []
    found = [v for v in versions if isinstance(v, str) and _is_version(v)]
    if cache_dir is not None:
        _store_versions(plugin, cache_dir, found)
    return found


def _is_version(text: str) -> bool:
    parts = text.split(".")
    return len(parts) == 3 and all(p.isdigit() for p in parts)


def _identity(plugin: str) -> list[int] | None:
    try:
        st = os.stat(plugin)
    except OSError:
        return None
    return [st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns]


def _cache_path(plugin: str, cache_dir: str) -> str:
    # a network name starts with a letter or digit: ".ipam-versions" is never a network's dir
    return os.path.join(cache_dir, ".ipam-versions", plugin.replace("/", "%") + ".versions")


def _cached_versions(plugin: str, cache_dir: str) -> list[str] | None:
    """The cached VERSION answer of this very binary, or None (a miss: ask it)."""
    try:
        with open(_cache_path(plugin, cache_dir), "rb") as fh:
            entry = loads(fh.read())
    except (OSError, JsonError):
        return None
    if not (isinstance(entry, dict) and entry.get("plugin") == plugin
            and entry.get("identity") == _identity(plugin)
            and isinstance(entry.get("versions"), list)):
        return None
    versions = [v for v in entry["versions"] if isinstance(v, str) and _is_version(v)]
    return versions or None


def _store_versions(plugin: str, cache_dir: str, versions: list[str]) -> None:
    identity = _identity(plugin)
    if identity is None or not versions:
        return
    path = _cache_path(plugin, cache_dir)
    tmp = f"{path}.tmp{os.getpid()}"
    try:  # a cache: failing to keep it only costs the next call a VERSION exec
        os.makedirs(os.path.dirname(path), mode=0o755, exist_ok=True)
        with open(tmp, "wb") as fh:
            fh.write(dumps({"plugin": plugin, "identity": identity,
                            "versions": versions}).encode())
        os.rename(tmp, path)
    except OSError:
        try:  # noqa: SIM105 (contextlib is an import the ADD path avoids)
            os.unlink(tmp)
        except OSError:
            pass


def supports(plugin: str, version: str, environ: dict[str, str],
             cache_dir: str | None = None) -> bool:
    """True when the plugin's VERSION answer lists `version`."""
    return version in _supported(plugin, environ, cache_dir)
