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

Windows, as libcni does it there (containernetworking/cni pkg/invoke): CNI_PATH is a list
separated by `os.pathsep` (";"; Go's filepath.SplitList, in which a double-quoted part may
hold a ";"), and in each directory the plugin is looked for as `<name>.exe`, then as
`<name>` (ExecutableFileExtensions). The plugin is started with `subprocess` there
(Windows has no posix_spawn); elsewhere with posix_spawn, and nothing more is imported.
"""

from __future__ import annotations

import os

from vfpnet.cni import errors
from vfpnet.cni.jsonwire import JsonError, dumps, loads
from vfpnet.cni.result import normalize

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

WINDOWS = os.name == "nt"
# libcni's ExecutableFileExtensions: os_windows.go tries ".exe" first, os_unix.go only "".
EXTENSIONS: tuple[str, ...] = (".exe", "") if WINDOWS else ("",)


def split_path(value: str, sep: str = os.pathsep, quoted: bool = WINDOWS) -> list[str]:
    """CNI_PATH as libcni splits it (Go's filepath.SplitList), without empty parts. With
    `quoted` (Windows), a separator between double quotes belongs to the directory and the
    quotes are dropped; elsewhere a quote is an ordinary character."""
    if not quoted:
        return [p for p in value.split(sep) if p]
    parts: list[str] = []
    start, inside = 0, False
    for i, c in enumerate(value):
        if c == '"':
            inside = not inside
        elif c == sep and not inside:
            parts.append(value[start:i])
            start = i + 1
    parts.append(value[start:])
    return [p for p in (part.replace('"', "") for part in parts) if p]


def _usable(candidate: str) -> bool:
    return os.access(candidate, os.X_OK) and not os.path.isdir(candidate)


def find_in_path(name: str, path: list[str], extensions: tuple[str, ...] = EXTENSIONS,
                 join: Callable[[str, str], str] = os.path.join,
                 usable: Callable[[str], bool] = _usable) -> str | None:
    """The first `join(directory, name + extension)` that is `usable`, directory by
    directory and, in each, extension by extension (libcni's FindInPath); None if none."""
    for directory in path:
        for extension in extensions:
            candidate = join(directory, name + extension)
            if usable(candidate):
                return candidate
    return None


def find_plugin(name: str, path: list[str]) -> str:
    if not path:
        raise errors.CniError(
            errors.INVALID_ENVIRONMENT,
            f"CNI_PATH: empty, so the IPAM plugin {name!r} (ipam.type) cannot be found",
        )
    found = find_in_path(name, path)
    if found is not None:
        return found
    raise errors.CniError(
        errors.INVALID_CONFIG,
        f"ipam.type: plugin {name!r} not found in CNI_PATH ({os.pathsep.join(path)})",
    )


def _spawn_posix(plugin: str, env: dict[str, str]) -> tuple[int, int, object]:
    """The plugin started with its stdin and stdout on new pipes: (the write end of its
    stdin, the read end of its stdout, the child for `_reap`)."""
    in_r, in_w = os.pipe()
    out_r, out_w = os.pipe()
    try:
        pid = os.posix_spawn(
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
        raise _cannot_run(plugin, exc) from None
    os.close(in_r)
    os.close(out_w)
    return in_w, out_r, pid


def _reap_posix(child: object) -> int:
    assert isinstance(child, int)
    _, status = os.waitpid(child, 0)
    return os.waitstatus_to_exitcode(status)


def _spawn_subprocess(plugin: str, env: dict[str, str]) -> tuple[int, int, object]:
    """As `_spawn_posix`, through `subprocess` (Windows has no posix_spawn)."""
    import subprocess

    try:
        proc = subprocess.Popen([plugin], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                env=env)
    except OSError as exc:
        raise _cannot_run(plugin, exc) from None
    assert proc.stdin is not None and proc.stdout is not None
    # Plain descriptors, as posix_spawn's caller holds them; the file objects go.
    in_w, out_r = os.dup(proc.stdin.fileno()), os.dup(proc.stdout.fileno())
    proc.stdin.close()
    proc.stdout.close()
    return in_w, out_r, proc


def _reap_subprocess(child: object) -> int:
    import subprocess

    assert isinstance(child, subprocess.Popen)
    return child.wait()


def _cannot_run(plugin: str, exc: OSError) -> errors.CniError:
    return errors.CniError(errors.IPAM_FAILED,
                           f"ipam.type: cannot run {plugin}: {exc.strerror or exc}")


_spawn, _reap = ((_spawn_subprocess, _reap_subprocess) if WINDOWS
                 else (_spawn_posix, _reap_posix))


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
        in_w, self._out, self._child = _spawn(plugin, env)
        try:
            view = memoryview(stdin)
            while view:  # a write past the pipe buffer can return short when the reader goes
                view = view[os.write(in_w, view):]
        except BrokenPipeError:
            pass  # it stopped reading (e.g. VERSION): its answer and exit status tell
        except OSError as exc:
            if not (WINDOWS and exc.errno == 22):  # EINVAL: Windows' word for a broken pipe
                raise
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
        return _reap(self._child), b"".join(chunks)

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
    key = plugin.replace("/", "%")
    if WINDOWS:  # a drive's colon and backslashes cannot be in a file name there
        key = key.replace("\\", "%").replace(":", "%")
    return os.path.join(cache_dir, ".ipam-versions", key + ".versions")


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
