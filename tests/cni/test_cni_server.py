"""`vfpnet cni serve` and the native front: CNI calls handed to warm workers.

The server runs in the root network namespace and the calls come from inside the lab's
node namespace, as `ip netns exec` would run a plugin: a worker must act in the caller's
namespace (its veths, routes and sets appear in the node, never in the root namespace),
read the caller's stdin and write the caller's stdout. The server's log names every call
it ran, which tells a handed-over call from one the front ran itself.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import stat
import struct
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from netlab import VFPNET, Lab, in_ns, needs_root, sh

pytestmark = [
    needs_root,
    pytest.mark.skipif(not Path(VFPNET).read_bytes().startswith(b"\x7fELF"),
                       reason="the native vfpnet front is not installed (make setup builds it "
                              "with a C compiler)"),
]

SUBNET_OCTET = 110


class Server:
    """A `vfpnet cni serve` on a socket of its own, its log in a file."""

    def __init__(self, directory: Path, spares: int = 2) -> None:
        self.socket = str(directory / "cni.sock")
        self.log = directory / "server.log"
        self._log_file = self.log.open("w")
        self.proc = subprocess.Popen(
            [VFPNET, "cni", "serve", "--socket", self.socket, "--spares", str(spares)],
            stderr=self._log_file, stdout=subprocess.DEVNULL,
            env={k: v for k, v in os.environ.items() if not k.startswith("CNI_")},
        )
        deadline = time.monotonic() + 30
        while "listening on" not in self.log.read_text():
            assert self.proc.poll() is None, self.log.read_text()
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.05)

    def env(self) -> dict[str, str]:
        return {"VFPNET_CNI_SOCKET": self.socket}

    def ran(self, command: str, container: str) -> list[str]:
        """The log lines of the calls this server ran for `container`."""
        return [line for line in self.log.read_text().splitlines()
                if f"{command} container={container} " in line]

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=30)
        finally:
            self._log_file.close()

    def children(self) -> list[int]:
        out = sh("pgrep", "-P", str(self.proc.pid), check=False).stdout
        return [int(p) for p in out.split()]


@pytest.fixture(scope="module")
def server(lab: Lab) -> Iterator[Server]:
    srv = Server(lab.tmp)
    try:
        yield srv
    finally:
        srv.stop()


def _ns_inode(path: str) -> int:
    return os.stat(path).st_ino


@pytest.mark.parametrize("mode", ["l2bridge", "transparent", "transparent-tunnel"])
def test_call_runs_in_a_worker_inside_the_callers_namespace(lab: Lab, server: Server,
                                                             mode: str) -> None:
    conf = lab.netconf(mode)
    pod = lab.pod()
    cid = f"srv-{mode}"
    result = lab.add(conf, cid, pod, **server.env())
    assert server.ran("ADD", cid) and "exit=0" in server.ran("ADD", cid)[0]
    host_if = result["interfaces"][0]["name"]  # type: ignore[index]
    assert in_ns(lab.node, "ip", "link", "show", host_if, check=False).returncode == 0
    assert sh("ip", "link", "show", host_if, check=False).returncode != 0, \
        "the worker made the veth in the server's namespace, not the caller's"
    address = result["ips"][0]["address"].split("/")[0]  # type: ignore[index]
    assert address in in_ns(pod, "ip", "-4", "addr", "show", "eth0").stdout
    rc, out = lab.run("CHECK", {**conf, "prevResult": result}, cid, pod, **server.env())
    assert rc == 0, out
    assert server.ran("CHECK", cid)
    lab.delete(conf, cid, pod, **server.env())
    assert server.ran("DEL", cid)
    lab.assert_clean()


def test_result_through_server_matches_the_in_process_result(lab: Lab, server: Server) -> None:
    conf = lab.netconf("l2bridge", cniVersion="0.4.0")
    via_server = lab.add(conf, "srv-shape-a", lab.pod(), **server.env())
    in_process = lab.add(conf, "srv-shape-b", lab.pod())
    assert not server.ran("ADD", "srv-shape-b")

    def shape(result: dict[str, object]) -> object:
        return sorted(result), result["cniVersion"], len(result["ips"]), \
            [sorted(i) for i in result["interfaces"]]  # type: ignore[union-attr]

    assert shape(via_server) == shape(in_process)
    for cid, pod in (("srv-shape-a", lab.pods[-2]), ("srv-shape-b", lab.pods[-1])):
        lab.delete(conf, cid, pod, **server.env())
    lab.assert_clean()


def test_error_object_reaches_the_caller_through_the_server(lab: Lab, server: Server) -> None:
    conf = lab.netconf("hairpin")
    rc, out = lab.run("ADD", conf, "srv-bad-mode", lab.pod(), **server.env())
    assert rc == 1
    assert out is not None and out["code"] == 7 and "mode" in str(out["msg"])
    assert "exit=1" in server.ran("ADD", "srv-bad-mode")[0]
    lab.assert_clean()


def test_without_a_server_the_front_runs_the_plugin_itself(lab: Lab, tmp_path: Path) -> None:
    conf = lab.netconf("l2bridge")
    stale = tmp_path / "stale.sock"  # a socket file nobody listens on: connection refused
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(stale))
    sock.close()
    for cid, path in (("srv-none", str(tmp_path / "missing.sock")), ("srv-stale", str(stale))):
        pod = lab.pod()
        result = lab.add(conf, cid, pod, VFPNET_CNI_SOCKET=path)
        assert result["ips"]
        lab.delete(conf, cid, pod, VFPNET_CNI_SOCKET=path)
    lab.assert_clean()


def test_twenty_concurrent_adds_through_two_spares(lab: Lab, server: Server) -> None:
    conf = lab.netconf("transparent")
    pods = [lab.pod() for _ in range(20)]
    results: dict[int, tuple[int, dict[str, object] | None]] = {}

    def add(i: int) -> None:
        results[i] = lab.run("ADD", conf, f"srv-par{i}", pods[i], **server.env())

    threads = [threading.Thread(target=add, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(rc == 0 for rc, _ in results.values()), results
    addresses = {out["ips"][0]["address"] for _, out in results.values()}  # type: ignore[index]
    assert len(addresses) == 20
    assert all(server.ran("ADD", f"srv-par{i}") for i in range(20))
    for i in range(20):
        lab.delete(conf, f"srv-par{i}", pods[i], **server.env())
    lab.assert_clean()


def test_50_concurrent_add_del_pairs_through_the_server_leak_nothing(lab: Lab,
                                                                     server: Server) -> None:
    conf = lab.netconf("transparent-tunnel")
    pods = [lab.pod() for _ in range(50)]

    def pair(i: int) -> tuple[int, int]:
        add_rc, _ = lab.run("ADD", conf, f"srv-conc{i}", pods[i], **server.env())
        del_rc, _ = lab.run("DEL", conf, f"srv-conc{i}", pods[i], **server.env())
        return add_rc, del_rc

    threads: list[threading.Thread] = []
    outcomes: dict[int, tuple[int, int]] = {}
    for i in range(50):
        threads.append(threading.Thread(target=lambda i=i: outcomes.__setitem__(i, pair(i))))
        threads[-1].start()
    for t in threads:
        t.join()
    assert all(o == (0, 0) for o in outcomes.values()) and len(outcomes) == 50, outcomes
    assert all(server.ran("ADD", f"srv-conc{i}") and server.ran("DEL", f"srv-conc{i}")
               for i in range(50))
    lab.assert_clean()
    assert server.proc.poll() is None  # still serving


def test_second_server_on_the_same_socket_is_refused(server: Server) -> None:
    res = subprocess.run([VFPNET, "cni", "serve", "--socket", server.socket],
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 1
    assert "another vfpnet cni server is listening there" in res.stderr
    assert "Traceback" not in res.stderr
    assert os.path.exists(server.socket)  # the running server's socket is untouched


@pytest.mark.parametrize(("args", "code", "message"), [
    (["--spares", "0"], 2, "--spares 0: at least 1"),
    (["--socket", "/proc/vt-no/cni.sock"], 1, "--socket /proc/vt-no/cni.sock: cannot create"),
    (["--socket", "off"], 2, "--socket off: name a socket path"),
])
def test_bad_server_options_get_one_clear_line(args: list[str], code: int, message: str) -> None:
    res = subprocess.run([VFPNET, "cni", "serve", *args], capture_output=True, text=True,
                         timeout=60)
    assert res.returncode == code
    assert message in res.stderr and len(res.stderr.strip().splitlines()) == 1, res.stderr
    assert res.stdout == ""


def test_socket_is_private_and_other_users_are_refused() -> None:
    assert os.geteuid() == 0
    directory = Path(tempfile.mkdtemp(prefix="vt-srv-"))
    directory.chmod(0o711)  # others may reach the socket's path; the socket decides
    srv = Server(directory, spares=1)
    try:
        assert stat.S_IMODE(os.stat(srv.socket).st_mode) == 0o600
        assert _as_nobody(srv.socket) == "refused by the socket's mode"
        os.chmod(srv.socket, 0o666)  # let another user connect: the credentials check decides
        assert _as_nobody(srv.socket) == "no answer"
        assert "is not the server's" in srv.log.read_text()
    finally:
        srv.stop()
        shutil.rmtree(directory, ignore_errors=True)


def _as_nobody(path: str) -> str:
    """What a well-formed request from uid 65534 gets."""
    read_r, read_w = os.pipe()
    child = os.fork()
    if child == 0:
        verdict = b"error"
        try:
            os.setgid(65534)
            os.setuid(65534)
            try:
                verdict = b"no answer" if _raw_call(path, b"VFPCNI1\n") == b"" else b"answered"
            except PermissionError:
                verdict = b"refused by the socket's mode"
        finally:
            os.write(read_w, verdict)
            os._exit(0)
    os.close(read_w)
    verdict = os.read(read_r, 100).decode()
    os.close(read_r)
    os.waitpid(child, 0)
    return verdict


def test_other_protocol_version_is_told_to_fall_back(server: Server) -> None:
    assert _raw_call(server.socket, b"VFPCNI9\n") == b"fallback\n"
    assert _raw_call(server.socket, b"VFPCNI1\n", fds=2) == b"fallback\n"


def test_sigterm_lets_a_running_call_finish(lab: Lab, tmp_path: Path) -> None:
    # an IPAM plugin that takes a second: the server is told to stop in the middle of ADD
    slow = tmp_path / "bin"
    slow.mkdir()
    (slow / "slow-ipam").write_text("#!/bin/sh\nsleep 1\nexec /usr/lib/cni/host-local\n")
    (slow / "slow-ipam").chmod(0o755)
    srv = Server(tmp_path, spares=1)
    conf = lab.netconf("l2bridge")
    conf["ipam"] = {**conf["ipam"], "type": "slow-ipam"}  # type: ignore[dict-item]
    pod = lab.pod()
    try:
        proc = subprocess.Popen(
            ["ip", "netns", "exec", lab.node, VFPNET], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, text=True,
            env=lab.env("ADD", "srv-term", pod, CNI_PATH=str(slow), **srv.env()))
        assert proc.stdin is not None
        proc.stdin.write(json.dumps(conf))
        proc.stdin.close()
        deadline = time.monotonic() + 20  # the worker is mid-call once its IPAM plugin runs
        while sh("pgrep", "-f", str(slow / "slow-ipam"), check=False).returncode != 0:
            assert time.monotonic() < deadline and proc.poll() is None, "the call never started"
            time.sleep(0.02)
        assert srv.stop() == 0
        assert proc.stdout is not None
        result = json.loads(proc.stdout.read())
        assert proc.wait(timeout=30) == 0, result
        assert result["ips"]
        assert not os.path.exists(srv.socket)
        assert srv.children() == []
        assert "stopping: waiting for 1 running call(s)" in srv.log.read_text()
    finally:
        srv.stop()
    lab.delete(conf, "srv-term", pod, CNI_PATH=str(slow))
    lab.assert_clean()


def test_worker_killed_mid_call_is_reported_and_del_cleans_up(lab: Lab, server: Server) -> None:
    conf = lab.netconf("transparent-tunnel")
    pod = lab.pod()
    proc = subprocess.Popen(
        ["ip", "netns", "exec", lab.node, VFPNET], stdin=subprocess.PIPE,
        stdout=subprocess.PIPE, text=True,
        env=lab.env("ADD", "srv-kill", pod, VFPNET_CNI_FAULT="before-record-ready:pause",
                    **server.env()))
    assert proc.stdin is not None
    proc.stdin.write(json.dumps(conf))
    proc.stdin.close()
    node_ns = _ns_inode(f"/var/run/netns/{lab.node}")
    deadline = time.monotonic() + 20
    worker = None
    while worker is None:  # the worker is the server's child that joined the node namespace
        assert time.monotonic() < deadline, "no worker entered the node namespace"
        for pid in server.children():
            try:
                if _ns_inode(f"/proc/{pid}/ns/net") == node_ns:
                    worker = pid
            except FileNotFoundError:
                pass
        time.sleep(0.05)
    time.sleep(0.3)  # let it reach the pause
    os.kill(worker, signal.SIGKILL)
    assert proc.stdout is not None
    out = json.loads(proc.stdout.read())
    assert proc.wait(timeout=30) == 1
    assert out["code"] == 11 and "try again" in out["msg"]
    assert "ended by signal 9 during a call" in _wait_for(server, "ended by signal 9")
    lab.delete(conf, "srv-kill", pod, **server.env())
    lab.assert_clean()
    # the server replaced the worker and goes on serving
    again = lab.pod()
    lab.add(conf, "srv-after-kill", again, **server.env())
    lab.delete(conf, "srv-after-kill", again, **server.env())
    lab.assert_clean()


def _wait_for(server: Server, text: str) -> str:
    deadline = time.monotonic() + 10
    while text not in (log := server.log.read_text()):
        assert time.monotonic() < deadline, log
        time.sleep(0.05)
    return log


def _raw_call(path: str, magic: bytes, fds: int = 4) -> bytes:
    """Send a request by hand; everything the server answers until it closes."""
    passed = [os.open("/dev/null", os.O_RDWR) for _ in range(fds)]
    body = b"/\0CNI_COMMAND=VERSION\0"
    sock = socket.socket(socket.AF_UNIX)
    try:
        sock.settimeout(20)
        sock.connect(path)
        answer = b""
        try:
            socket.send_fds(sock, [magic + struct.pack(">I", len(body)) + body], passed)
            while chunk := sock.recv(256):
                answer += chunk
        except (BrokenPipeError, ConnectionResetError):  # closed on us: no answer either
            pass
        return answer
    finally:
        sock.close()
        for fd in passed:
            os.close(fd)
