"""Edges of the native front and `vfpnet cni serve`: what an exec'd plugin would see.

The server promises that a call handed to a worker behaves like the plugin exec'd by the
runtime: the IPAM plugin it runs gets the caller's environment, working directory and
umask, only descriptors 0, 1 and 2, and default signal dispositions; a front with a closed
standard descriptor answers as the in-process plugin does. The front's reading of the
server's answers is checked against a scripted stand-in server (answers split across
reads, odd statuses, a server that hangs up early). The server's own life: clients that
connect and send nothing or dribble, a burst of calls, no zombies, SIGTERM and SIGKILL,
a stale socket, a path that is not a socket, and its log.

Every server, worker and stand-in started here is killed at the end, also on failure;
namespaces come from the `lab` fixture; VERSION calls need no namespace and send nothing.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from netlab import VFPNET, Lab, needs_root

pytestmark = [
    needs_root,
    pytest.mark.skipif(not Path(VFPNET).read_bytes().startswith(b"\x7fELF"),
                       reason="the native vfpnet front is not installed (make setup builds it "
                              "with a C compiler)"),
]

SUBNET_OCTET = 132
VERSION_IN = '{"cniVersion": "0.4.0"}'
LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d vfpnet cni: \S")
REQUEST_TIMEOUT = 5.0  # vfpnet.cni.server.REQUEST_TIMEOUT


def _base_env() -> dict[str, str]:
    # a fixed locale: the interpreter adds nothing of its own (PEP 538 coercion)
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8"}


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def _wait(predicate: Callable[[], bool], what: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


class Server:
    """A `vfpnet cni serve` of this module; every process it ever forked is remembered."""

    def __init__(self, directory: Path, spares: int = 2, pass_fds: tuple[int, ...] = (),
                 extra_env: dict[str, str] | None = None,
                 preexec: Callable[[], None] | None = None) -> None:
        self.socket = str(directory / f"vt{secrets.token_hex(3)}.sock")
        self.log = directory / f"{Path(self.socket).stem}.log"
        self._log_file = self.log.open("w")
        self.seen: set[int] = set()
        self.proc = subprocess.Popen(
            [VFPNET, "cni", "serve", "--socket", self.socket, "--spares", str(spares)],
            stderr=self._log_file, stdout=subprocess.DEVNULL, pass_fds=pass_fds,
            env={**_base_env(), **(extra_env or {})}, preexec_fn=preexec,
        )
        try:
            _wait(lambda: "listening on" in self.log.read_text() or self.proc.poll() is not None,
                  "the server did not start", 30)
            assert self.proc.poll() is None, self.log.read_text()
        except BaseException:
            self.kill_all()
            raise

    def env(self, **extra: str) -> dict[str, str]:
        return {**_base_env(), "VFPNET_CNI_SOCKET": self.socket, **extra}

    def children(self) -> list[int]:
        try:
            with open(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children") as fh:
                pids = [int(p) for p in fh.read().split()]
        except FileNotFoundError:
            pids = []
        self.seen.update(pids)
        return pids

    def lines(self) -> list[str]:
        return self.log.read_text().splitlines()

    def calls(self, command: str) -> list[str]:
        return [line for line in self.lines() if f"vfpnet cni: {command} container=" in line]

    def stop(self) -> int:
        self.children()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=30)
        finally:
            self.kill_all()

    def kill_all(self) -> None:
        if self.proc.poll() is None:
            self.children()
            self.proc.kill()
            self.proc.wait()
        for pid in self.seen:
            if _alive(pid) and self.socket in _cmdline(pid):
                os.kill(pid, signal.SIGKILL)
        self._log_file.close()


def _cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return fh.read().replace(b"\0", b" ").decode(errors="replace")
    except FileNotFoundError:
        return ""


@pytest.fixture
def workdir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix=f"vt{secrets.token_hex(3)}-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="module")
def moddir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix=f"vt{secrets.token_hex(3)}-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="module")
def server(moddir: Path) -> Iterator[Server]:
    srv = Server(moddir)
    try:
        yield srv
    finally:
        srv.stop()


def _front(env: dict[str, str], stdin: str | None = VERSION_IN,
           preexec: Callable[[], None] | None = None,
           timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run([VFPNET], input=stdin, capture_output=True, text=True,
                          env={"CNI_COMMAND": "VERSION", **env}, preexec_fn=preexec,
                          timeout=timeout)


# -- what the IPAM plugin of a handed-over call sees -------------------------------------

PROBE = """#!{python} -I
import json, os
fds = {{}}
for name in os.listdir("/proc/self/fd"):
    try:
        fds[name] = os.readlink("/proc/self/fd/" + name)
    except OSError:
        pass  # the directory listing's own descriptor
status = dict(line.split(":\\t", 1) for line in open("/proc/self/status").read().splitlines()
              if ":\\t" in line)
if os.environ.get("VT_PROBE_OUT"):  # the ADD under test, not the cleanup DEL
    with open(os.environ["VT_PROBE_OUT"], "w") as fh:
        json.dump({{"fds": fds, "env": dict(os.environ), "cwd": os.getcwd(),
                   "umask": status["Umask"], "sigign": status["SigIgn"]}}, fh)
os.execv("/usr/lib/cni/host-local", ["host-local"])
"""


@pytest.fixture(scope="module")
def probes(lab: Lab, moddir: Path) -> Iterator[dict[str, dict[str, object]]]:
    """One ADD in-process and one through a server, each with a probing IPAM plugin.

    The server inherits an extra descriptor and a variable of its own; the caller runs
    with umask 027 in a directory of its own and an environment of about a megabyte.
    """
    bin_dir = moddir / "bin"
    bin_dir.mkdir()
    (bin_dir / "probe").write_text(PROBE.format(python=sys.executable))
    (bin_dir / "probe").chmod(0o755)
    cwd = moddir / "caller-cwd"
    cwd.mkdir()
    extra = os.open(moddir / "server-extra-fd", os.O_CREAT | os.O_RDWR, 0o600)
    os.set_inheritable(extra, True)
    srv = Server(moddir, pass_fds=(extra,), extra_env={"VT_SERVER_ONLY": "1"})
    os.close(extra)
    conf = lab.netconf("l2bridge")
    conf["ipam"] = {**conf["ipam"], "type": "probe"}  # type: ignore[dict-item]
    big = {f"VT_BIG{i}": secrets.token_hex(50_000) for i in range(10)}  # 1 MB, 100 kB each
    seen: dict[str, dict[str, object]] = {}
    try:
        for way, sock in (("in-process", "off"), ("server", srv.socket)):
            pod = lab.pod()
            env = lab.env("ADD", f"probe-{way}", pod, CNI_PATH=str(bin_dir),
                          VFPNET_CNI_SOCKET=sock, VT_PROBE_OUT=str(moddir / f"{way}.json"),
                          **big)
            env = {k: v for k, v in env.items() if k not in ("PWD", "OLDPWD", "_")}
            env["LANG"] = "C.UTF-8"
            res = subprocess.run(
                ["ip", "netns", "exec", lab.node, VFPNET], input=json.dumps(conf),
                capture_output=True, text=True, env=env, cwd=cwd, timeout=60,
                preexec_fn=lambda: os.umask(0o027) and None)
            assert res.returncode == 0, res.stdout + res.stderr
            seen[way] = json.loads((moddir / f"{way}.json").read_text())
            seen[way]["caller_env"] = env
            lab.delete(conf, f"probe-{way}", pod, CNI_PATH=str(bin_dir))
        assert srv.calls("ADD"), "the server did not run the ADD"
        yield seen
    finally:
        srv.stop()


def test_ipam_plugin_through_the_server_gets_exactly_the_callers_environment(
        probes: dict[str, dict[str, object]]) -> None:
    via_server, in_process = probes["server"], probes["in-process"]
    expected = {**via_server["caller_env"], "CNI_COMMAND": "ADD"}  # type: ignore[dict-item]
    assert via_server["env"] == expected
    assert "VT_SERVER_ONLY" not in via_server["env"]  # type: ignore[operator]
    assert in_process["env"] == {**in_process["caller_env"],  # type: ignore[dict-item]
                                 "CNI_COMMAND": "ADD"}


def test_ipam_plugin_through_the_server_runs_in_the_callers_directory(
        probes: dict[str, dict[str, object]]) -> None:
    assert probes["server"]["cwd"] == probes["in-process"]["cwd"]
    assert str(probes["server"]["cwd"]).endswith("/caller-cwd")


def test_ipam_plugin_through_the_server_gets_the_callers_umask(
        probes: dict[str, dict[str, object]]) -> None:
    assert probes["in-process"]["umask"] == "0027"
    assert probes["server"]["umask"] == "0027"


def test_descriptors_the_server_inherited_never_reach_the_ipam_plugin(
        probes: dict[str, dict[str, object]]) -> None:
    assert sorted(probes["in-process"]["fds"]) == ["0", "1", "2"]  # type: ignore[arg-type]
    assert sorted(probes["server"]["fds"]) == ["0", "1", "2"], \
        probes["server"]["fds"]  # type: ignore[arg-type]


def test_ipam_plugin_through_the_server_has_the_in_process_signal_dispositions(
        probes: dict[str, dict[str, object]]) -> None:
    # the server's workers shrug off SIGINT (a ^C at the server's terminal); that must not
    # be inherited as "ignored" by what they exec
    assert probes["server"]["sigign"] == probes["in-process"]["sigign"]


# -- the front: closed descriptors, duplicates, large requests ---------------------------

@pytest.mark.parametrize("closed", [0, 1])
def test_front_with_a_closed_standard_descriptor_answers_as_in_process(
        server: Server, closed: int) -> None:
    def close() -> None:
        os.close(closed)

    alone = _front({**_base_env(), "VFPNET_CNI_SOCKET": "off"}, preexec=close)
    before = len(server.calls("VERSION"))
    served = _front(server.env(), preexec=close, timeout=20)
    assert (served.returncode, served.stdout) == (alone.returncode, alone.stdout)
    assert alone.returncode == 1
    assert len(server.calls("VERSION")) == before  # not handed over
    _wait(lambda: all(_alive(p) for p in server.children()) and len(server.children()) == 2,
          "a worker was left behind")


def test_duplicate_variables_resolve_as_in_the_plugin_process(server: Server) -> None:
    """The first of two CNI_COMMAND entries wins, as in getenv and os.environ."""
    code = ("import ctypes, os, sys\n"
            "env = [e.encode() for e in sys.argv[2:]] + [None]\n"
            "argv = (ctypes.c_char_p * 2)(sys.argv[1].encode(), None)\n"
            "ctypes.CDLL(None).execve(sys.argv[1].encode(), argv,"
            " (ctypes.c_char_p * len(env))(*env))\n"
            "sys.exit('execve failed')\n")
    answers = []
    for sock in ("off", server.socket):
        res = subprocess.run(
            [sys.executable, "-c", code, VFPNET, "CNI_COMMAND=VERSION", "CNI_COMMAND=DEL",
             f"PATH={_base_env()['PATH']}", "LANG=C.UTF-8", f"VFPNET_CNI_SOCKET={sock}"],
            input=VERSION_IN, capture_output=True, text=True, timeout=30)
        answers.append((res.returncode, res.stdout))
    assert answers[0][0] == 0 and "supportedVersions" in answers[0][1]
    assert answers[1] == answers[0]


def test_request_of_a_front_before_the_umask_was_sent_is_still_served(server: Server) -> None:
    """A `vfpnet` binary copied out before an upgrade speaks version 1 (no umask)."""
    body = b"/\0CNI_COMMAND=VERSION\0CNI_CONTAINERID=vt-v1\0"
    answer = _raw(server.socket, b"VFPCNI1\n" + struct.pack(">I", len(body)) + body)
    assert answer == b"run\nexit 0\n"
    assert server.calls("VERSION") and any("container=vt-v1 " in c
                                           for c in server.calls("VERSION"))


def test_request_with_a_malformed_umask_runs_nothing(server: Server) -> None:
    body = b"u=rwx\0/\0CNI_COMMAND=VERSION\0"
    assert _raw(server.socket, b"VFPCNI2\n" + struct.pack(">I", len(body)) + body) == b""
    _wait(lambda: any("a malformed request" in line for line in server.lines()), "not logged")


def test_request_above_the_size_limit_is_told_to_fall_back(server: Server) -> None:
    assert _raw(server.socket, b"VFPCNI1\n" + struct.pack(">I", 5 << 20)) == b"fallback\n"


def test_front_with_an_environment_above_the_size_limit_runs_the_call_itself(
        server: Server) -> None:
    import resource

    def big_stack() -> None:  # execve takes up to a quarter of the stack limit (capped 6 MB)
        resource.setrlimit(resource.RLIMIT_STACK,
                           (resource.RLIM_INFINITY, resource.RLIM_INFINITY))

    big = {f"VT_BIG{i}": "x" * 120_000 for i in range(40)}  # 4.8 MB > MAX_REQUEST (4 MiB)
    refused = len([line for line in server.lines() if "a request of" in line])
    res = _front(server.env(**big), preexec=big_stack)
    assert res.returncode == 0, res.stderr
    assert "supportedVersions" in json.loads(res.stdout)
    _wait(lambda: len([line for line in server.lines() if "a request of" in line]) > refused,
          "the server did not see the request")


# -- the front against a scripted stand-in server ----------------------------------------

class StandIn:
    """Accepts one call, reads the whole request, answers with `chunks` (a pause each)."""

    def __init__(self, directory: Path, chunks: list[bytes], read_request: bool = True) -> None:
        self.path = str(directory / f"vt{secrets.token_hex(3)}-standin.sock")
        self.listener = socket.socket(socket.AF_UNIX)
        self.listener.bind(self.path)
        self.listener.listen(4)
        self.listener.settimeout(20)
        self.chunks = chunks
        self.read_request = read_request
        self.request: bytes = b""
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        try:
            conn, _ = self.listener.accept()
            with conn:
                if self.read_request:
                    data, fds, _, _ = socket.recv_fds(conn, 65536, 8)
                    for fd in fds:
                        os.close(fd)
                    while len(data) < 12 or len(data) < 12 + struct.unpack(">I", data[8:12])[0]:
                        more = conn.recv(65536)
                        if not more:
                            break
                        data += more
                    self.request = data
                for chunk in self.chunks:
                    time.sleep(0.1)
                    conn.sendall(chunk)
        except BaseException as exc:  # reported by close()
            self.error = exc

    def close(self) -> None:
        self.thread.join(timeout=30)
        self.listener.close()
        assert self.error is None, self.error


@pytest.mark.parametrize(("chunks", "status"), [
    ([b"r", b"un\nex", b"it 3", b"\n"], 3),
    ([b"run\nexit 7\n"], 7),
    ([b"run\n", b"exit 300\n"], 300 & 0xFF),
    ([b"run\n", b"exit -1\n"], 255),
    ([b"run\nexit 0"], 0),  # the connection ends without the newline
])
def test_front_exits_with_the_status_however_the_answer_is_split(
        workdir: Path, chunks: list[bytes], status: int) -> None:
    stand_in = StandIn(workdir, chunks)
    try:
        res = _front({**_base_env(), "VFPNET_CNI_SOCKET": stand_in.path})
    finally:
        stand_in.close()
    assert res.returncode == status
    assert res.stdout == ""  # the worker writes the result, never the front
    assert stand_in.request.startswith(b"VFPCNI")


def test_front_reports_a_call_that_ended_after_run_and_never_runs_it_again(
        workdir: Path) -> None:
    stand_in = StandIn(workdir, [b"run\n"])
    try:
        res = _front({**_base_env(), "VFPNET_CNI_SOCKET": stand_in.path})
    finally:
        stand_in.close()
    assert res.returncode == 1
    assert json.loads(res.stdout)["code"] == 11
    assert "supportedVersions" not in res.stdout


@pytest.mark.parametrize(("chunks", "read_request"), [
    ([b"fall", b"back\n"], True),
    ([], True),   # hangs up without a word
    ([], False),  # hangs up before reading anything: the front's send may hit EPIPE
])
def test_front_runs_the_call_itself_when_the_server_never_said_run(
        workdir: Path, chunks: list[bytes], read_request: bool) -> None:
    stand_in = StandIn(workdir, chunks, read_request=read_request)
    big = {f"VT_BIG{i}": "x" * 100_000 for i in range(5)}  # more than a socket buffer
    try:
        res = _front({**_base_env(), "VFPNET_CNI_SOCKET": stand_in.path, **big})
    finally:
        stand_in.close()
    assert res.returncode == 0, res.stderr  # not killed by SIGPIPE
    assert "supportedVersions" in json.loads(res.stdout)


def test_front_stopped_and_continued_mid_call_still_gets_the_status(server: Server) -> None:
    _wait(lambda: len(server.children()) == 2, "spares not ready")
    before = set(server.children())
    proc = subprocess.Popen([VFPNET], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True, env={"CNI_COMMAND": "VERSION", **server.env()})
    try:
        # a worker took the call (its replacement appears) and waits for our stdin, the
        # front for its answer
        _wait(lambda: bool(set(server.children()) - before), "no worker took the call")
        proc.send_signal(signal.SIGSTOP)
        proc.send_signal(signal.SIGCONT)
        out, _ = proc.communicate(VERSION_IN, timeout=30)
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == 0
    assert "supportedVersions" in json.loads(out)


def test_front_with_a_terminal_as_stdin_is_served(server: Server) -> None:
    import pty

    master, slave = pty.openpty()
    try:
        proc = subprocess.Popen([VFPNET], stdin=slave, stdout=subprocess.PIPE, text=True,
                                env={"CNI_COMMAND": "VERSION", **server.env()})
        os.close(slave)
        try:
            os.write(master, VERSION_IN.encode() + b"\n\x04")  # a line, then end-of-file
            out, _ = proc.communicate(timeout=30)
        finally:
            proc.kill()
            proc.wait()
    finally:
        os.close(master)
    assert proc.returncode == 0
    assert json.loads(out)["cniVersion"] == "0.4.0"


# -- the server's life -------------------------------------------------------------------

def test_silent_clients_hold_a_worker_each_yet_others_are_served(server: Server) -> None:
    _wait(lambda: len(server.children()) == 2, "spares not ready")
    before = set(server.children())
    silent = [socket.socket(socket.AF_UNIX) for _ in range(3)]
    try:
        for sock in silent:
            sock.connect(server.socket)
        res = _front(server.env())
        assert res.returncode == 0 and "supportedVersions" in res.stdout
        assert len(server.calls("VERSION")) >= 1
        # each silent client took a worker; the server replaced them all
        _wait(lambda: len(set(server.children()) - before) >= 3, "spares were not replaced")
        # and each gives up within the request timeout, although the client stays connected
        held = before | (set(server.children()) - before)
        _wait(lambda: len(set(server.children()) & held) <= 2, "a silent client holds a worker "
              "past the request timeout", timeout=REQUEST_TIMEOUT + 5)
        for sock in silent:
            sock.settimeout(5)
            assert sock.recv(16) == b""  # closed by the worker, no answer
    finally:
        for sock in silent:
            sock.close()


def test_a_client_dribbling_its_request_is_cut_off_at_the_request_timeout(
        server: Server) -> None:
    sock = socket.socket(socket.AF_UNIX)
    started = time.monotonic()
    closed = False
    try:
        sock.connect(server.socket)
        passed = [os.open("/dev/null", os.O_RDWR) for _ in range(4)]
        try:
            socket.send_fds(sock, [b"VFPCNI1\n" + struct.pack(">I", 1000)], passed)
        finally:
            for fd in passed:
                os.close(fd)
        sock.settimeout(1.0)
        while time.monotonic() - started < REQUEST_TIMEOUT * 2:
            try:
                sock.send(b"x")
                if sock.recv(16) == b"":
                    closed = True
                    break
            except TimeoutError:
                continue
            except (BrokenPipeError, ConnectionResetError):
                closed = True
                break
    finally:
        sock.close()
    assert closed, "the worker kept waiting for a request sent one byte a second"


def test_connection_closed_without_a_request_is_not_logged_as_another_protocol(
        server: Server) -> None:
    refused = [line for line in server.lines() if "refused" in line]
    _wait(lambda: len(server.children()) == 2, "spares not ready")
    before = set(server.children())
    probe = socket.socket(socket.AF_UNIX)
    probe.connect(server.socket)  # what a second server's liveness probe does
    probe.close()
    _wait(lambda: not before <= set(server.children()), "no worker took the connection")
    _wait(lambda: len(set(server.children()) & before) == len(before) - 1, "the worker stayed")
    assert [line for line in server.lines() if "refused" in line] == refused


def test_burst_of_100_calls_all_answered_and_no_zombies_left(server: Server) -> None:
    before = len(server.calls("VERSION"))
    results: list[subprocess.CompletedProcess[str]] = []
    lock = threading.Lock()

    def call() -> None:
        res = _front(server.env(), timeout=120)
        with lock:
            results.append(res)

    threads = [threading.Thread(target=call) for _ in range(100)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 100
    assert all(r.returncode == 0 and "supportedVersions" in r.stdout for r in results)
    _wait(lambda: len(server.calls("VERSION")) - before == 100, "calls missing from the log")

    def settled() -> bool:
        kids = server.children()
        return len(kids) == 2 and all(_alive(p) for p in kids)

    _wait(settled, "zombies or stray workers after the burst")
    assert server.proc.poll() is None


def test_log_lines_share_one_format_and_a_container_id_cannot_forge_one(
        server: Server) -> None:
    forged = "x\n2026-01-01 00:00:00 vfpnet cni: ADD container=forged ifname=eth0 exit=0"
    res = _front(server.env(CNI_CONTAINERID=forged))
    assert res.returncode == 0
    _wait(lambda: any("VERSION container=x" in line for line in server.lines()), "no log line")
    lines = server.lines()
    assert not [line for line in lines if "container=forged" in line and
                line.startswith("2026-01-01")]
    assert all(LOG_LINE.match(line) for line in lines), lines
    call = next(line for line in lines if "VERSION container=x" in line)
    assert re.search(r" VERSION container=\S+ ifname=- worker=\d+ exit=0 \d+\.\d ms$", call)


def test_sigterm_with_idle_spares_stops_cleanly(workdir: Path) -> None:
    srv = Server(workdir, spares=3)
    try:
        _wait(lambda: len(srv.children()) == 3, "spares not forked")
        spares = srv.children()
        assert srv.stop() == 0
        assert not os.path.exists(srv.socket)
        assert not [p for p in spares if _alive(p)]
        assert all(LOG_LINE.match(line) for line in srv.lines())
    finally:
        srv.kill_all()


def test_sigterm_in_the_middle_of_a_burst_leaves_every_call_answered_once(
        workdir: Path) -> None:
    """Calls queued when the server stops are run by their fronts; none is lost or doubled."""
    srv = Server(workdir, spares=2)
    results: list[subprocess.CompletedProcess[str]] = []
    lock = threading.Lock()

    def call(i: int) -> None:
        res = _front(srv.env(CNI_CONTAINERID=f"vt-burst{i}"), timeout=120)
        with lock:
            results.append(res)

    threads = [threading.Thread(target=call, args=(i,)) for i in range(40)]
    try:
        for i, t in enumerate(threads):
            t.start()
            if i == 20:
                srv.proc.send_signal(signal.SIGTERM)
        for t in threads:
            t.join()
        assert srv.proc.wait(timeout=30) == 0
        assert len(results) == 40
        assert all(r.returncode == 0 and "supportedVersions" in json.loads(r.stdout)
                   for r in results), [r for r in results if r.returncode]
        served = [line.split("container=")[1].split()[0] for line in srv.calls("VERSION")]
        assert len(served) == len(set(served)) <= 40  # no call ran twice in the server
        assert not [p for p in srv.seen if _alive(p)]
    finally:
        srv.kill_all()


def test_sigkilled_server_idle_spares_leave_and_a_running_call_finishes(
        workdir: Path) -> None:
    srv = Server(workdir, spares=2)
    proc = None
    try:
        # the server logs "listening on" before it forks its spares
        _wait(lambda: len(srv.children()) == 2, "spares not ready")
        idle = set(srv.children())
        # a call whose worker waits for our stdin: running while the server dies
        proc = subprocess.Popen([VFPNET], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                text=True, env={"CNI_COMMAND": "VERSION", **srv.env()})
        _wait(lambda: len(set(srv.children()) - idle) == 1, "no replacement for the worker")
        srv.proc.kill()
        srv.proc.wait()
        # idle spares see the halt pipe close and leave; exactly one (the busy one) stays
        _wait(lambda: sum(_alive(p) for p in srv.seen) == 1, "idle spares outlived the server")
        out, _ = proc.communicate(VERSION_IN, timeout=30)
        assert proc.returncode == 0 and "supportedVersions" in json.loads(out)
        _wait(lambda: not any(_alive(p) for p in srv.seen), "a worker outlived its call")
        # a new server replaces the stale socket file and serves
        assert os.path.exists(srv.socket)
        fresh = subprocess.Popen(
            [VFPNET, "cni", "serve", "--socket", srv.socket, "--spares", "1"],
            stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, env=_base_env(), text=True)
        try:
            assert fresh.stderr is not None
            assert "listening on" in fresh.stderr.readline()
            res = _front(srv.env())
            assert res.returncode == 0 and "supportedVersions" in res.stdout
        finally:
            fresh.send_signal(signal.SIGTERM)
            fresh.wait(timeout=30)
    finally:
        if proc is not None:
            proc.kill()
            proc.wait()
        srv.kill_all()


def test_server_that_cannot_fork_retries_instead_of_leaving_callers_waiting(
        workdir: Path) -> None:
    group = Path("/sys/fs/cgroup/pids") / f"vt{secrets.token_hex(3)}"
    if not Path("/sys/fs/cgroup/pids/cgroup.procs").exists():
        pytest.skip("no cgroup v1 pids controller to limit forks with")
    group.mkdir()
    srv = None
    try:
        (group / "pids.max").write_text("1")

        def enter() -> None:
            (group / "cgroup.procs").write_text(str(os.getpid()))

        srv = Server(workdir, spares=1, preexec=enter)
        _wait(lambda: "cannot fork a spare worker" in srv.log.read_text(), "fork did not fail")
        (group / "pids.max").write_text("max")
        res = _front(srv.env(), timeout=20)
        assert res.returncode == 0 and "supportedVersions" in res.stdout
        assert srv.calls("VERSION"), "the call was not served by a late spare"
    finally:
        if srv is not None:
            srv.stop()
        (group / "pids.max").write_text("max")
        _wait(lambda: not (group / "cgroup.procs").read_text().strip(), "processes left")
        group.rmdir()


# -- bad options -------------------------------------------------------------------------

def test_a_file_that_is_not_a_socket_is_never_removed(workdir: Path) -> None:
    victim = workdir / "precious.conf"
    victim.write_text("keep me\n")
    res = subprocess.run([VFPNET, "cni", "serve", "--socket", str(victim)],
                         capture_output=True, text=True, timeout=60, env=_base_env())
    assert res.returncode == 1
    assert victim.read_text() == "keep me\n"
    assert f"--socket {victim}: " in res.stderr and "not a socket" in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1, res.stderr


@pytest.mark.parametrize(("args", "code", "message"), [
    (["--spares", "65"], 2, "--spares 65: at most 64"),
    (["--socket", "/tmp/" + "x" * 120 + "/cni.sock"], 1, "too long"),
])
def test_bad_server_options_name_the_problem_in_one_line(
        args: list[str], code: int, message: str) -> None:
    res = subprocess.run([VFPNET, "cni", "serve", *args], capture_output=True, text=True,
                         timeout=60, env=_base_env())
    assert res.returncode == code
    assert message in res.stderr and len(res.stderr.strip().splitlines()) == 1, res.stderr
    assert "None" not in res.stderr


def test_serving_with_the_front_switched_off_in_the_environment_says_where_off_came_from(
) -> None:
    res = subprocess.run([VFPNET, "cni", "serve"], capture_output=True, text=True, timeout=60,
                         env={**_base_env(), "VFPNET_CNI_SOCKET": "off"})
    assert res.returncode == 2
    assert res.stderr.strip() == ("vfpnet: VFPNET_CNI_SOCKET=off (the default of --socket): "
                                  "name a socket path to listen on"), res.stderr


def _raw(path: str, request: bytes) -> bytes:
    """Send a request by hand (stdin, stdout, stderr on /dev/null); all that is answered."""
    passed = [os.open("/dev/null", os.O_RDWR) for _ in range(3)]
    passed.append(os.open("/proc/self/ns/net", os.O_RDONLY))
    sock = socket.socket(socket.AF_UNIX)
    try:
        sock.settimeout(20)
        sock.connect(path)
        socket.send_fds(sock, [request], passed)
        answer = b""
        while chunk := sock.recv(256):
            answer += chunk
        return answer
    finally:
        sock.close()
        for fd in passed:
            os.close(fd)
