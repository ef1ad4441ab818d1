"""CNI plugin entry point (the executable runs this when CNI_COMMAND is set).

Reads the environment and stdin, runs one operation, prints a result or a CNI error
object on stdout. Exit status 0 on success, 1 on any error; never a traceback
(VFPNET_DEBUG=1 adds one on stderr for developers).
"""

from __future__ import annotations

import os
import sys

from vfpnet.cni import errors
from vfpnet.cni.jsonwire import dumps
from vfpnet.cni.netconf import SUPPORTED_VERSIONS

LATEST = "1.1.0"


def main(exit_process: bool = True) -> int:
    """Run the plugin; with `exit_process`, end the process at once with the status.

    Interpreter shutdown (module teardown, garbage collection) costs a few milliseconds
    that the runtime waits for; everything the plugin writes is flushed or closed first.
    """
    code = _main()
    if exit_process:
        for stream in (sys.stdout, sys.stderr):
            try:
                if stream is not None:
                    stream.flush()
            except (OSError, ValueError):
                code = code or 1  # the result did not reach the runtime
        os._exit(code)
    return code


def _main() -> int:
    try:
        return _answer()
    except _StdoutGone:  # also while writing an error object: nothing more to say
        return 1


def _answer() -> int:
    version = LATEST
    try:
        return _run(version)
    except _StdoutGone:
        raise
    except errors.CniError as exc:
        _emit(exc.to_json(str(getattr(exc, "cni_version", version))))
        return 1
    except KeyboardInterrupt:
        _emit(errors.CniError(errors.NETWORK_SETUP_FAILED, "interrupted").to_json(version))
        return 1
    except Exception as exc:
        if os.environ.get("VFPNET_DEBUG"):
            import traceback

            traceback.print_exc()
        _emit(_internal(exc).to_json(version))
        return 1


def _run(version: str) -> int:
    from vfpnet.cni import operations
    from vfpnet.cni.attachment import Request
    from vfpnet.cni.netconf import NO_VERSION, NetConf, RuntimeArgs, parse_stdin

    environ = dict(os.environ)
    args = RuntimeArgs(environ)
    try:
        stdin = sys.stdin.buffer.read()
    except OSError as exc:
        raise errors.CniError(errors.IO_FAILURE, f"stdin: cannot read: {exc.strerror}") from None
    if args.command == "VERSION":
        versions = list(SUPPORTED_VERSIONS)
        _emit({"cniVersion": _requested_version(stdin), "supportedVersions": versions})
        return 0
    raw = parse_stdin(stdin)
    requested = raw.get("cniVersion")
    try:
        conf = NetConf(raw, command=args.command, environ=environ)
    except errors.CniError as exc:
        if isinstance(requested, str) and requested in SUPPORTED_VERSIONS:
            exc.cni_version = requested  # type: ignore[attr-defined]
        elif requested in (None, ""):  # libcni reads a netconf without a version as 0.1.0
            exc.cni_version = NO_VERSION  # type: ignore[attr-defined]
        raise
    req = Request(conf, args, stdin)
    try:
        if args.command == "ADD":
            _emit(operations.add(req))
        elif args.command == "DEL":
            operations.delete(req)
        elif args.command == "CHECK":
            operations.check(req)
        elif args.command == "GC":
            operations.gc(req)
        elif args.command == "STATUS":
            operations.status(req)
    except errors.CniError as exc:
        exc.cni_version = conf.cni_version  # type: ignore[attr-defined]
        raise
    except Exception as exc:
        if os.environ.get("VFPNET_DEBUG"):
            raise
        internal = _internal(exc)
        internal.cni_version = conf.cni_version  # type: ignore[attr-defined]
        raise internal from None
    return 0


def _internal(exc: Exception) -> errors.CniError:
    return errors.CniError(
        errors.NETWORK_SETUP_FAILED, f"internal error: {type(exc).__name__}: {exc}"
    )


def _requested_version(stdin: bytes) -> str:
    from vfpnet.cni.jsonwire import JsonError, loads

    try:
        raw = loads(stdin) if stdin.strip() else {}
    except JsonError:
        raw = {}
    version = raw.get("cniVersion") if isinstance(raw, dict) else None
    return version if isinstance(version, str) and version else LATEST


class _StdoutGone(Exception):
    """The runtime's stdout is closed: no result or error object can reach it."""


def _emit(obj: dict[str, object]) -> None:
    try:
        sys.stdout.write(dumps(obj) + "\n")
        sys.stdout.flush()
    except (AttributeError, OSError, ValueError) as exc:  # None when started without fd 1
        reason = "it is not open" if sys.stdout is None else str(exc)
        if sys.stderr is not None:
            try:  # noqa: SIM105  # contextlib is one more import on the ADD path
                sys.stderr.write(f"vfpnet: cannot write the answer to stdout: {reason}\n")
            except (OSError, ValueError):
                pass
        raise _StdoutGone from None
