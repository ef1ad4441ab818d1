"""`vfpnet cni serve`: a warm process that runs CNI calls for the native `vfpnet` front.

A runtime execs the plugin once per pod and waits for it. Starting Python costs about as
much as the reference `bridge` plugin's whole ADD, so the installed `vfpnet` executable
is a small native program (native/vfpnet-shim.c) that hands the call to this server when
it listens: it passes its stdin, stdout and stderr descriptors, its network namespace and
its environment over a Unix socket.

The server keeps a few spare workers, forked from a process that has already imported
the plugin and waiting on the socket (forking costs milliseconds here, so it happens
before a call, not during one). A worker takes one call, tells the server (which forks a
replacement), becomes the caller's plugin process (its descriptors, network namespace,
environment and working directory), runs exactly what `vfpnet` runs in-process
(`vfpnet.cni.plugin.main`), answers with the exit status and ends. Each call is its own
process, so a call that crashes or hangs cannot touch the server or another call, and
calls run in parallel as exec'd plugins do.

Without a server, or when a worker refuses a request (another protocol version), the
front runs the plugin in a fresh interpreter: the same result, slower. A worker says
"run" before it starts a call, so a front whose connection ends before that knows
nothing ran and runs it itself. Only the server's own user (root) may connect: the socket
is mode 0600 and the peer's credentials are checked.

Wire format: "VFPCNI2\\n", a 4-byte big-endian length N, N bytes of NUL-terminated
strings (the caller's umask in octal, its working directory, then each KEY=VALUE of its
environment); descriptors 0, 1, 2 and the caller's /proc/self/ns/net ride as SCM_RIGHTS
with the first bytes. Answers: "run\\n" then "exit N\\n"; or "fallback\\n". A
"VFPCNI1\\n" request (a front built before the umask was sent) has no umask string: its
call runs with the server's umask.

What a worker gives the plugin beyond that, as an exec'd plugin would have it: the
descriptors the server inherited are close-on-exec (only 0, 1, 2 reach the IPAM plugin),
and SIGINT, which workers shrug off, is caught rather than ignored (an ignored signal
stays ignored across exec; a caught one is reset).
"""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import select
import signal
import socket
import stat
import struct
import sys
import time

from vfpnet.errors import InputError, VfpnetError

DEFAULT_SOCKET = "/run/vfpnet/cni.sock"
DEFAULT_SPARES = 4
MAGIC = b"VFPCNI2\n"
MAGIC_V1 = b"VFPCNI1\n"  # no umask string
MAX_SPARES = 64  # each spare is a process; more only costs memory, calls queue briefly
MAX_REQUEST = 4 << 20  # an environment is kilobytes; a bigger request is refused
PASSED_FDS = 4  # stdin, stdout, stderr, network namespace
LINGER_SECONDS = 0.2  # a few RCU grace periods; the caller has its answer by then
REQUEST_TIMEOUT = 5.0  # seconds for a connected front to send its whole request
FORK_RETRY = 1.0  # seconds before trying again to fork a spare that could not be forked
PID = struct.Struct("=i")

# What a worker imports on a call, loaded once in the server so no call pays for it.
WARM_MODULES = (
    "vfpnet.cni.plugin", "vfpnet.cni.operations", "vfpnet.cni.netconf",
    "vfpnet.cni.attachment", "vfpnet.cni.ipam", "vfpnet.cni.state", "vfpnet.cni.result",
    "vfpnet.cni.gateway", "vfpnet.cni.undo", "vfpnet.cni.backends.linux",
    "vfpnet.cni.backends.hns", "vfpnet.linux.netlink", "vfpnet.linux.netns",
    "vfpnet.linux.nftables", "vfpnet.linux.steering", "vfpnet.hns.emulator",
    "subprocess", "json",
)

log = logging.getLogger("vfpnet.cni.server")


class ServerError(VfpnetError):
    """The server cannot start (socket in use, path not writable)."""


def serve(path: str = DEFAULT_SOCKET, spares: int = DEFAULT_SPARES,
          warm: tuple[str, ...] = WARM_MODULES) -> int:
    """Listen on `path` until SIGTERM or SIGINT; then let running calls finish; 0."""
    if spares < 1:
        raise InputError(f"--spares {spares}: at least 1")
    if spares > MAX_SPARES:
        raise InputError(f"--spares {spares}: at most {MAX_SPARES}")
    if not hasattr(os, "fork") or not hasattr(socket, "AF_UNIX"):
        # Windows nodes: no fork and no descriptor passing; the plugin runs in-process there
        raise ServerError("vfpnet cni serve: needs fork and Unix sockets (Linux)")
    _warm_up(warm)
    listener = _listen(path)
    _keep_inherited_descriptors_from_execs()
    # Everything loaded so far lives as long as the server: out of the collector's sight, a
    # worker's collections do not touch (and copy) the pages it shares with the server.
    gc.collect()
    gc.freeze()
    stop = False

    def _on_stop(signum: int, _frame: object) -> None:
        nonlocal stop
        stop = True

    notify_r, notify_w = os.pipe2(os.O_CLOEXEC)  # workers write their pid when they take a call
    halt_r, halt_w = os.pipe2(os.O_CLOEXEC)  # closed by the server: idle workers leave
    wake_r, wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
    log_fd = os.dup(2)
    old_wakeup = signal.set_wakeup_fd(wake_w)
    old_handlers = {sig: signal.signal(sig, _on_stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    old_chld = signal.signal(signal.SIGCHLD, lambda *_: None)  # wakes the loop to reap
    pipes = (listener, notify_w, halt_r, halt_w, log_fd)
    idle: set[int] = set()
    busy: set[int] = set()
    log.info("listening on %s (pid %d, %d spare workers); the vfpnet executable hands "
             "CNI calls here", path, os.getpid(), spares)
    try:
        while not stop:
            while len(idle) < spares and not stop:
                pid = _fork_spare(pipes)
                if pid is None:
                    break
                idle.add(pid)
            # short of spares (fork failed): try again soon, or callers wait in the backlog
            timeout = FORK_RETRY if len(idle) < spares else None
            try:
                ready, _, _ = select.select([notify_r, wake_r], [], [], timeout)
            except InterruptedError:
                continue
            if notify_r in ready:
                for pid in _read_pids(notify_r):
                    idle.discard(pid)
                    busy.add(pid)
            if wake_r in ready:
                _drain(wake_r)
            _reap(idle, busy, block=False)
    finally:
        listener.close()
        _unlink(path)
        os.close(halt_w)  # idle workers see the end of this pipe and leave
        signal.set_wakeup_fd(old_wakeup)
        for sig, handler in old_handlers.items():
            signal.signal(sig, handler)
        signal.signal(signal.SIGCHLD, old_chld)
        if busy:
            log.info("stopping: waiting for %d running call(s)", len(busy))
        _reap(idle, busy, block=True)
        for fd in (notify_r, notify_w, halt_r, wake_r, wake_w, log_fd):
            os.close(fd)
        log.info("stopped; %s removed", path)
    return 0


def _warm_up(modules: tuple[str, ...]) -> None:
    import importlib

    for name in modules:
        try:
            importlib.import_module(name)
        except ImportError as exc:  # a worker imports it again and reports it properly
            log.warning("could not preload %s: %s", name, exc)


def _listen(path: str) -> socket.socket:
    if len(os.fsencode(path)) >= 108:  # sockaddr_un.sun_path, with its NUL
        raise ServerError(f"--socket {path}: too long for a Unix socket (at most 107 bytes)")
    directory = os.path.dirname(path) or "."
    try:
        os.makedirs(directory, mode=0o755, exist_ok=True)
    except OSError as exc:
        raise ServerError(f"--socket {path}: cannot create {directory}: {exc.strerror}") from None
    if os.path.lexists(path):
        try:
            is_socket = stat.S_ISSOCK(os.lstat(path).st_mode)
        except OSError as exc:
            raise ServerError(f"--socket {path}: {exc.strerror}") from None
        if not is_socket:  # never remove what a typo names
            raise ServerError(f"--socket {path}: exists and is not a socket")
        if _answers(path):
            raise ServerError(f"--socket {path}: another vfpnet cni server is listening there")
        try:
            os.unlink(path)  # left by a server that died
        except OSError as exc:
            raise ServerError(f"--socket {path}: cannot remove stale socket: {exc.strerror}") \
                from None
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
    old_umask = os.umask(0o177)  # the socket file is born 0600: no window for others
    try:
        listener.bind(path)
    except OSError as exc:
        listener.close()
        raise ServerError(f"--socket {path}: cannot listen: {exc.strerror or exc}") from None
    finally:
        os.umask(old_umask)
    listener.listen(128)
    listener.setblocking(False)  # spares race for each connection; losers see EAGAIN
    return listener


def _answers(path: str) -> bool:
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
    try:
        probe.connect(path)
        return True
    except OSError:
        return False
    finally:
        probe.close()


def _keep_inherited_descriptors_from_execs() -> None:
    """Close-on-exec for every descriptor above 2 this process was started with.

    A worker execs the IPAM plugin, which must get only 0, 1 and 2, as when exec'd by the
    runtime; what the server's own starter left open (a shell's, a supervisor's) would
    otherwise ride along. Done once here, so no call pays for it.
    """
    try:
        names = os.listdir("/proc/self/fd")
    except OSError:
        return
    for name in names:
        fd = int(name)
        if fd > 2:
            with contextlib.suppress(OSError):  # the listing's own, closed by now
                os.set_inheritable(fd, False)


def _ignore_signal(_signum: int, _frame: object) -> None:
    """Caught and dropped: unlike SIG_IGN, an exec resets it to the default."""


def _unlink(path: str) -> None:
    with contextlib.suppress(OSError):
        os.unlink(path)


def _drain(fd: int) -> None:
    try:
        while os.read(fd, 512):
            pass
    except BlockingIOError:
        pass


def _read_pids(fd: int) -> list[int]:
    data = os.read(fd, PID.size * 64)  # writes of 4 bytes into a pipe are atomic
    return [PID.unpack_from(data, i)[0] for i in range(0, len(data) - len(data) % PID.size,
                                                        PID.size)]


def _fork_spare(pipes: tuple[socket.socket, int, int, int, int]) -> int | None:
    try:
        pid = os.fork()
    except OSError as exc:
        log.warning("cannot fork a spare worker (%s); calls queue or run in-process",
                    exc.strerror)
        return None
    if pid == 0:
        _spare(*pipes)  # never returns
    return pid


def _spare(listener: socket.socket, notify_w: int, halt_r: int, halt_w: int,
           log_fd: int) -> None:
    """In a forked child: wait for one call, run it, exit. Never returns."""
    code = 1
    try:
        os.close(halt_w)
        for sig in (signal.SIGTERM, signal.SIGCHLD):
            signal.signal(sig, signal.SIG_DFL)
        # the server decides when workers stop; caught, not ignored (see the module doc)
        signal.signal(signal.SIGINT, _ignore_signal)
        signal.set_wakeup_fd(-1)
        gc.disable()  # a worker lives for one call; collections would only copy shared pages
        while True:
            ready, _, _ = select.select([listener.fileno(), halt_r], [], [])
            if halt_r in ready:
                os._exit(0)
            try:
                conn, _ = listener.accept()
                break
            except (BlockingIOError, InterruptedError):
                continue  # another spare took it
        started = time.perf_counter()
        os.write(notify_w, PID.pack(os.getpid()))
        listener.close()
        os.close(halt_r)
        os.close(notify_w)
        code = _call(conn, log_fd, started)
    except BaseException:  # the child must never return to the server loop
        code = 1
    finally:
        os._exit(code)


def _call(conn: socket.socket, log_fd: int, started: float) -> int:
    fds: list[int] = []
    conn.setblocking(True)
    conn.settimeout(REQUEST_TIMEOUT)
    if not _peer_allowed(conn, log_fd):
        return 1
    try:
        request = _receive(conn, fds, log_fd)
    except TimeoutError:
        _log(log_fd, f"dropped a connection: no whole request within {REQUEST_TIMEOUT:g} s")
        return 1
    if request is None:
        return 1
    umask, cwd, environ = request
    conn.sendall(b"run\n")
    code = _run_plugin(fds, umask, cwd, environ)
    elapsed = (time.perf_counter() - started) * 1000
    # logged before the answer: when the caller has its status, the log has the call
    _log(log_fd, f"{_field(environ.get('CNI_COMMAND'))} container="
                 f"{_field(environ.get('CNI_CONTAINERID'))} ifname="
                 f"{_field(environ.get('CNI_IFNAME'))} worker={os.getpid()} exit={code} "
                 f"{elapsed:.1f} ms")
    with contextlib.suppress(OSError):
        conn.sendall(f"exit {code}\n".encode())
    conn.close()
    _linger()
    return code


def _linger() -> None:
    """After the answer: let the kernel destroy the set elements this call removed before
    the process ends and releases its netfilter sockets (see vfpnet.linux.nfnetlink.LINGER):
    a release that has to wait for them holds a lock a concurrent ADD's veth needs."""
    from vfpnet.linux import nfnetlink

    if nfnetlink.LATE:
        time.sleep(LINGER_SECONDS)


def _field(value: str | None) -> str:
    """A log field from the caller's environment: one word, never a forged line."""
    if not value:
        return "-"
    if value.isprintable() and " " not in value:
        return value
    return value.encode("unicode_escape").decode("ascii").replace(" ", "\\x20")


def _run_plugin(fds: list[int], umask: int | None, cwd: str, environ: dict[str, str]) -> int:
    """Become the caller's plugin process and run the plugin; its exit status."""
    from vfpnet.linux import nfnetlink
    from vfpnet.linux.netns import setns

    nfnetlink.LINGER = True  # this process outlives its answer: see _linger

    setns(fds[3])
    if umask is not None:
        os.umask(umask)
    for target, fd in enumerate(fds[:3]):
        os.dup2(fd, target)
    for fd in fds:
        if fd > 2:
            os.close(fd)  # host-local and friends inherit only 0, 1, 2
    os.environ.clear()
    os.environ.update(environ)
    try:
        os.chdir(cwd)
    except OSError:
        os.chdir("/")
    # fresh text streams over the caller's descriptors (the server's were never read)
    sys.stdin = open(0, closefd=False)  # noqa: SIM115
    sys.stdout = open(1, "w", closefd=False)  # noqa: SIM115
    sys.stderr = open(2, "w", closefd=False)  # noqa: SIM115
    logging.disable(logging.CRITICAL)  # the server's log handlers write to its own stderr
    from vfpnet.cni.plugin import main

    code = 1
    try:
        code = main(exit_process=False)
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        except OSError:
            pass
        # Let go of the caller's pipes now: the runtime reads stdout to its end, and this
        # process's teardown should not be part of the call.
        null = os.open(os.devnull, os.O_RDWR)
        for target in (0, 1, 2):
            os.dup2(null, target)
        os.close(null)
    return code


def _peer_allowed(conn: socket.socket, log_fd: int) -> bool:
    creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    pid, uid, _gid = struct.unpack("3i", creds)
    if uid != os.geteuid():
        _log(log_fd, f"refused a call from pid {pid}: uid {uid} is not the server's")
        return False
    return True


def _receive(conn: socket.socket, fds: list[int],
             log_fd: int) -> tuple[int | None, str, dict[str, str]] | None:
    """Read one request: (umask or None, cwd, environment); the descriptors go into `fds`.

    The whole request must come within REQUEST_TIMEOUT (a front sends it in one go): one
    that dribbles in cannot hold a worker (and the server's SIGTERM) for longer.
    """
    header_len = len(MAGIC) + 4
    deadline = time.monotonic() + REQUEST_TIMEOUT
    data, passed, _flags, _addr = socket.recv_fds(conn, 65536, PASSED_FDS)
    fds.extend(passed)
    if not data:
        return None  # connected and hung up (a liveness probe): nothing to run or to log
    while len(data) < header_len:
        conn.settimeout(max(deadline - time.monotonic(), 0.001))
        more = conn.recv(65536)
        if not more:
            return None
        data += more
    magic = data[: len(MAGIC)]
    if magic not in (MAGIC, MAGIC_V1) or len(fds) != PASSED_FDS:
        _log(log_fd, "refused a call: not this protocol version (another vfpnet front?)")
        conn.sendall(b"fallback\n")
        return None
    (size,) = struct.unpack(">I", data[len(MAGIC):header_len])
    if size > MAX_REQUEST:
        _log(log_fd, f"refused a call: a request of {size} bytes")
        conn.sendall(b"fallback\n")
        return None
    body = bytearray(data[header_len:])
    while len(body) < size:
        conn.settimeout(max(deadline - time.monotonic(), 0.001))
        more = conn.recv(min(65536, size - len(body)))
        if not more:
            return None  # the front gave up before sending it all: nothing ran
        body += more
    parts = bytes(body[:size]).split(b"\0")
    if parts and parts[-1] == b"":
        parts.pop()
    umask = None
    if magic == MAGIC:
        try:
            umask = int(parts.pop(0), 8) & 0o777
        except (IndexError, ValueError):
            parts = []
    if not parts:
        _log(log_fd, "refused a call: a malformed request")
        return None
    cwd = os.fsdecode(parts[0])
    environ: dict[str, str] = {}
    for entry in parts[1:]:
        key, sep, value = entry.partition(b"=")
        if sep and key:
            # the first of duplicates wins, as in getenv() and Python's os.environ
            environ.setdefault(os.fsdecode(key), os.fsdecode(value))
    return umask, cwd, environ


def _log(fd: int, message: str) -> None:
    stamp = time.strftime("%Y-%m-%d %H:%M:%S")
    with contextlib.suppress(OSError):
        os.write(fd, f"{stamp} vfpnet cni: {message}\n".encode())


def _reap(idle: set[int], busy: set[int], block: bool) -> None:
    while idle or busy:
        try:
            pid, status = os.waitpid(-1, 0 if block else os.WNOHANG)
        except ChildProcessError:
            idle.clear()
            busy.clear()
            return
        except InterruptedError:
            continue
        if pid == 0:
            return
        if os.WIFSIGNALED(status):
            log.warning("worker %d ended by signal %d%s", pid, os.WTERMSIG(status),
                        " during a call" if pid in busy else "")
        elif pid in idle and not block:
            log.warning("spare worker %d ended before taking a call (exit %d)", pid,
                        os.waitstatus_to_exitcode(status))
        idle.discard(pid)
        busy.discard(pid)
