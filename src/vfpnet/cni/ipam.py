"""Delegation to the IPAM plugin named in `ipam.type`, as section 4 of the CNI spec says.

The plugin is looked up in CNI_PATH and executed with the same stdin and environment
(only CNI_COMMAND changes for a release). `start_add` returns at once so the caller can
build interfaces while the IPAM plugin runs (both are a few milliseconds; overlapping them
is most of the ADD latency budget); `IpamCall.result()` waits for the answer.
"""

from __future__ import annotations

import os

from vfpnet.cni import errors
from vfpnet.cni.jsonwire import JsonError, dumps, loads
from vfpnet.cni.result import normalize


def find_plugin(name: str, path: list[str]) -> str:
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

    def __init__(self, plugin: str, command: str, stdin: bytes, environ: dict[str, str]) -> None:
        self.plugin = plugin
        self.command = command
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
            os.write(in_w, stdin)  # netconfs are far below the pipe buffer size
        except BrokenPipeError:
            pass  # it exited without reading stdin (host-local's VERSION): its answer tells
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
            older = _older_stdin(self.plugin, code, out, self.stdin, self.environ)
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


def run(plugin: str, command: str, stdin: bytes, environ: dict[str, str]) -> None:
    """Run a non-ADD command (DEL, CHECK, GC, STATUS) and wait for it."""
    code, out = IpamCall(plugin, command, stdin, environ).wait()
    older = _older_stdin(plugin, code, out, stdin, environ)
    if older is not None:
        code, out = IpamCall(plugin, command, older, environ).wait()
    _parse_answer(plugin, command, code, out)


def _older_stdin(plugin: str, code: int, out: bytes, stdin: bytes,
                 environ: dict[str, str]) -> bytes | None:
    """When the plugin refused our cniVersion (code 1): stdin at its newest older version.

    The spec has a plugin delegate with its own configuration; an IPAM plugin built
    against an older spec refuses a 1.1.0 one outright although nothing in the IPAM
    exchange changed between 1.0.0 and 1.1.0.
    """
    if code == 0:
        return None
    try:
        answer = loads(out)
        conf = loads(stdin)
    except JsonError:
        return None
    if not (isinstance(answer, dict) and answer.get("code") == errors.INCOMPATIBLE_VERSION
            and isinstance(conf, dict) and isinstance(conf.get("cniVersion"), str)):
        return None
    from vfpnet.cni.netconf import version_tuple

    wanted = version_tuple(str(conf["cniVersion"]))
    offered = _supported(plugin, environ)
    usable = [v for v in offered if version_tuple(v) < wanted and version_tuple(v) >= (0, 3, 0)]
    if not usable:
        return None
    conf["cniVersion"] = max(usable, key=version_tuple)
    prev = conf.get("prevResult")
    if isinstance(prev, dict) and conf["cniVersion"].startswith("0."):
        from vfpnet.cni.result import render

        conf["prevResult"] = render(normalize(prev, "prevResult"), conf["cniVersion"])
    return dumps(conf).encode()


def _supported(plugin: str, environ: dict[str, str]) -> list[str]:
    code, out = IpamCall(plugin, "VERSION", b'{"cniVersion":"0.3.0"}', environ).wait()
    try:
        answer = loads(out)
    except JsonError:
        return []
    versions = answer.get("supportedVersions") if isinstance(answer, dict) else None
    if code != 0 or not isinstance(versions, list):
        return []
    return [v for v in versions if isinstance(v, str) and v.count(".") == 2]


def supports(plugin: str, version: str, environ: dict[str, str]) -> bool:
    """True when the plugin's VERSION answer lists `version`."""
    return version in _supported(plugin, environ)
