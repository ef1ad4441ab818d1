"""A pod's responder: `python -m vfpnet.lab.responder --lab PREFIX --tcp 80 --udp 53`.

TCP: accept, send `ok`, close. UDP: echo each datagram. Prints `ready` once every port is
bound. `--lab` is not used by the program: it puts the lab's prefix on the command line so
`lab down` can tell its own processes from others that reuse a recorded pid.
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


def main(argv: list[str]) -> int:
    it = iter(argv)
    for flag in it:
        value = next(it, "")
        if flag == "--tcp":
            _tcp(int(value))
        elif flag == "--udp":
            _udp(int(value))
    print("ready", flush=True)
    threading.Event().wait()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
