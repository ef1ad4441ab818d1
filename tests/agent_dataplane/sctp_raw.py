"""SCTP probes without kernel SCTP sockets: a crafted INIT over a raw socket.

This kernel has no SCTP socket support (TESTBED.md), but raw IP sockets of protocol 132
work and nftables matches `sctp dport`. A probe sends one INIT chunk whose Initiate Tag
is unique; the destination pod's raw receiver records every INIT that arrives (source
address, destination port, tag). The forward path's verdict is what the probe measures:
a dropped INIT never arrives.
"""

from __future__ import annotations

import secrets
import socket
import struct
import threading
import time

from vfpnet.lab.sctp_wire import init_chunk, packet

IPPROTO_SCTP = 132


def init_packet(src_port: int, dst_port: int, tag: int) -> bytes:
    """An SCTP common header (verification tag 0, as INIT requires) + one INIT chunk."""
    return packet(src_port, dst_port, 0, init_chunk(tag, tag))


class InitReceiver:
    """Records INITs arriving in the namespace of the calling thread (start it there)."""

    def __init__(self) -> None:
        self.seen: set[tuple[str, int, int]] = set()
        self._lock = threading.Lock()
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, IPPROTO_SCTP)
        self.sock.settimeout(0.2)

    def serve(self, stop: threading.Event) -> None:
        try:
            while not stop.is_set():
                try:
                    data, (src, _) = self.sock.recvfrom(2048)
                except TimeoutError:
                    continue
                ihl = (data[0] & 0x0F) * 4
                sctp = data[ihl:]
                if len(sctp) < 20 or sctp[12] != 1:
                    continue
                dst_port = struct.unpack("!H", sctp[2:4])[0]
                tag = struct.unpack("!I", sctp[16:20])[0]
                with self._lock:
                    self.seen.add((src, dst_port, tag))
        finally:
            self.sock.close()

    def arrived(self, src: str, dst_port: int, tag: int) -> bool:
        with self._lock:
            return (src, dst_port, tag) in self.seen


def send_init(src_ip: str, dst: str, dst_port: int) -> int:
    """Send one INIT from the calling thread's namespace; returns its tag."""
    tag = secrets.randbits(32) or 1
    with socket.socket(socket.AF_INET, socket.SOCK_RAW, IPPROTO_SCTP) as s:
        s.bind((src_ip, 0))
        s.sendto(init_packet(40000 + tag % 20000, dst_port, tag), (dst, 0))
    return tag


def wait_arrived(receiver: InitReceiver, src: str, dst_port: int, tag: int,
                 timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if receiver.arrived(src, dst_port, tag):
            return True
        time.sleep(0.01)
    return receiver.arrived(src, dst_port, tag)
