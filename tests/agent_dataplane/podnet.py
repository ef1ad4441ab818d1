"""A node of real namespaces for packet tests: pods are network namespaces whose veths sit
on a bridge in the node's namespace, each serving TCP and UDP; probes are real
connections made from inside the source pod (threads that `setns` into it); SCTP by a
crafted INIT seen by the destination's raw receiver (`sctp_raw`).

Bridged IPv4 goes through the node's `inet` forward hook (`bridge-nf-call-iptables`), so
the agent's table in the node namespace filters pod-to-pod traffic as on a real node.
"""

from __future__ import annotations

import ctypes
import os
import secrets
import selectors
import socket
import subprocess
import threading
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field

from agent_dataplane.sctp_raw import InitReceiver, send_init, wait_arrived

CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)
PREFIX_LENGTH = 15  # 10.240.0.0/15: the e2e pods (10.240.x.y) and the houses (10.241.x.y)
NODE_ADDRESS = "10.240.0.1"


def sh(*argv: str) -> str:
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)}: {done.stderr.strip()}")
    return done.stdout


def enter(netns: str) -> None:
    """Move the calling thread (only) into network namespace `netns`."""
    fd = os.open(f"/run/netns/{netns}", os.O_RDONLY)
    try:
        if _libc.setns(fd, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), f"setns {netns}")
    finally:
        os.close(fd)


@dataclass
class Pod:
    id: str
    netns: str
    ip: str


@dataclass
class Node:
    prefix: str
    netns: str
    pods: dict[str, Pod] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)
    _servers: list[threading.Thread] = field(default_factory=list)
    receivers: dict[str, InitReceiver] = field(default_factory=dict)  # netns -> SCTP INITs

    def add_pod(self, pod_id: str, ip: str, ports: Iterable[int]) -> Pod:
        index = len(self.pods)
        ns = f"{self.prefix}p{index}"
        host_side = f"{self.prefix}v{index}"
        sh("ip", "netns", "add", ns)
        pod = Pod(pod_id, ns, ip)
        self.pods[pod_id] = pod
        sh("ip", "link", "add", host_side, "type", "veth", "peer", "name", "eth0", "netns", ns)
        sh("ip", "link", "set", host_side, "netns", self.netns)
        sh("ip", "-n", self.netns, "link", "set", host_side, "master", "br0", "up")
        sh("ip", "-n", ns, "link", "set", "lo", "up")
        sh("ip", "-n", ns, "addr", "add", f"{ip}/{PREFIX_LENGTH}", "dev", "eth0")
        sh("ip", "-n", ns, "link", "set", "eth0", "up")
        ready = threading.Event()
        thread = threading.Thread(
            target=self._serve, args=(ns, tuple(ports), ready), daemon=True
        )
        thread.start()
        if not ready.wait(5):
            raise RuntimeError(f"pod {pod_id}: listeners did not start")
        self._servers.append(thread)
        return pod

    def _serve(self, netns: str, ports: Sequence[int], ready: threading.Event) -> None:
        enter(netns)
        receiver = InitReceiver()
        self.receivers[netns] = receiver
        sctp = threading.Thread(target=receiver.serve, args=(self._stop,), daemon=True)
        sctp.start()
        self._servers.append(sctp)
        sel = selectors.DefaultSelector()
        sockets = []
        for port in ports:
            tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            tcp.bind(("0.0.0.0", port))
            tcp.listen(128)
            tcp.setblocking(False)
            udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            udp.bind(("0.0.0.0", port))
            udp.setblocking(False)
            sel.register(tcp, selectors.EVENT_READ, "tcp")
            sel.register(udp, selectors.EVENT_READ, "udp")
            sockets += [tcp, udp]
        ready.set()
        try:
            while not self._stop.is_set():
                for key, _ in sel.select(timeout=0.2):
                    sock = key.fileobj
                    assert isinstance(sock, socket.socket)
                    try:
                        if key.data == "tcp":
                            conn, _ = sock.accept()
                            conn.close()
                        else:
                            data, peer = sock.recvfrom(2048)
                            sock.sendto(data, peer)
                    except (BlockingIOError, ConnectionError):
                        pass
        finally:
            for sock in sockets:
                sock.close()

    def stop(self) -> None:
        self._stop.set()
        for thread in self._servers:
            thread.join(timeout=2)

    def flush_conntrack(self) -> None:
        """Forget connections, so a flow allowed before a policy change is judged anew."""
        subprocess.run(["ip", "netns", "exec", self.netns, "conntrack", "-F"],
                       capture_output=True, check=False)


@contextmanager
def node_with_pods(pods: dict[str, str], ports: Iterable[int] = (80, 81)) -> Iterator[Node]:
    """A node namespace with a bridge and one namespace per pod (`NS/NAME` -> IP)."""
    prefix = f"vt{secrets.token_hex(3)}"
    node = Node(prefix, f"{prefix}n")
    try:
        sh("ip", "netns", "add", node.netns)
        sh("ip", "-n", node.netns, "link", "set", "lo", "up")
        sh("ip", "-n", node.netns, "link", "add", "br0", "type", "bridge")
        sh("ip", "-n", node.netns, "addr", "add", f"{NODE_ADDRESS}/{PREFIX_LENGTH}", "dev", "br0")
        sh("ip", "-n", node.netns, "link", "set", "br0", "up")
        sh("ip", "netns", "exec", node.netns, "sysctl", "-qw",
           "net.bridge.bridge-nf-call-iptables=1")
        port_list = tuple(ports)
        for pod_id, ip in sorted(pods.items()):
            node.add_pod(pod_id, ip, port_list)
        yield node
    finally:
        node.stop()
        for pod in node.pods.values():
            subprocess.run(["ip", "netns", "del", pod.netns], capture_output=True, check=False)
        subprocess.run(["ip", "netns", "del", node.netns], capture_output=True, check=False)


def probe_one(
    node: Node, src: Pod, dst: Pod, protocol: str, port: int, timeout: float
) -> bool:
    """True when a connection (TCP), an echoed datagram (UDP) or an INIT (SCTP, seen by
    the destination's raw receiver) got through."""
    enter(src.netns)
    if protocol == "SCTP":
        tag = send_init(src.ip, dst.ip, port)
        return wait_arrived(node.receivers[dst.netns], src.ip, port, tag, timeout)
    dst_ip = dst.ip
    if protocol == "TCP":
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.settimeout(timeout)
            try:
                s.connect((dst_ip, port))
                return True
            except ConnectionRefusedError:
                return True  # a reset came back: the path is open
            except OSError:
                return False
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        try:
            s.sendto(b"probe", (dst_ip, port))
            s.recvfrom(64)
            return True
        except ConnectionRefusedError:
            return True
        except OSError:
            return False


Flow = tuple[str, str, str, int]  # src pod, dst pod, protocol, port


def probe_all(node: Node, flows: Sequence[Flow], timeout: float = 0.3) -> dict[Flow, bool]:
    """Every flow probed in parallel from inside its source pod."""
    with ThreadPoolExecutor(max_workers=48) as pool:
        futures = {
            flow: pool.submit(
                probe_one, node, node.pods[flow[0]], node.pods[flow[1]], flow[2], flow[3], timeout
            )
            for flow in flows
        }
        return {flow: f.result() for flow, f in futures.items()}
