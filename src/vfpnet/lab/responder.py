"""A pod's responder: `python -m vfpnet.lab.responder --lab PREFIX --tcp 80 --udp 53`.

TCP: accept, send `ok`, close. UDP: echo each datagram. SCTP (`--sctp`): answer an INIT
with an INIT-ACK over a raw socket (this kernel has no SCTP stack). Prints `ready` once
every port is bound. `--lab` is not used by the program: it puts the lab's prefix on the
command line so `lab down` can tell its own processes from others that reuse a pid.
Imports stay minimal: a lab starts one per pod.
"""

from __future__ import annotations

import contextlib
import socket
import sys
import threading


def _tcp(port: int) -> None:
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", port))
    s.listen(128)

    def serve() -> None:
        while True:
            conn, _ = s.accept()
            with contextlib.suppress(OSError):
                conn.sendall(b"ok")
            conn.close()

    threading.Thread(target=serve, daemon=True).start()


def _udp(port: int) -> None:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("0.0.0.0", port))

    def serve() -> None:
        while True:
            data, peer = s.recvfrom(2048)
            with contextlib.suppress(OSError):
                s.sendto(data, peer)

    threading.Thread(target=serve, daemon=True).start()


def _sctp(ports: set[int]) -> None:
    """Answer an INIT to one of `ports` with an INIT-ACK (see `vfpnet.lab.sctp_wire`)."""
    import os

    from vfpnet.lab import sctp_wire as wire

    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, wire.IPPROTO_SCTP)

    def serve() -> None:
        while True:
            data = s.recv(65535)
            seen = wire.parse(data)
            if seen is None:
                continue
            src, sport, dport, _, chunk, tag = seen
            if chunk != wire.INIT or dport not in ports:
                continue
            mine = int.from_bytes(os.urandom(4), "big") or 1
            ack = wire.init_ack_chunk(mine, mine, os.urandom(8))
            with contextlib.suppress(OSError):
                s.sendto(wire.packet(dport, sport, tag, ack), (src, 0))

    threading.Thread(target=serve, daemon=True).start()


def main(argv: list[str]) -> int:
    it = iter(argv)
    sctp: set[int] = set()
    for flag in it:
        value = next(it, "")
        if flag == "--tcp":
            _tcp(int(value))
        elif flag == "--udp":
            _udp(int(value))
        elif flag == "--sctp":
            sctp.add(int(value))
    if sctp:
        _sctp(sctp)
    print("ready", flush=True)
    threading.Event().wait()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
