"""A pod's prober: `python -m vfpnet.lab.prober` inside the source pod's namespace.

Reads `{"timeout": S, "parallel": N, "targets": [[key, PROTOCOL, ip, port], ...]}` on
stdin and prints `{key: true|false}`: whether a real connection got its answer (TCP: the
responder's `ok`; UDP: the echo of a random payload; SCTP: an INIT-ACK to our INIT).
A target that fails is tried once more with twice the timeout, so a lost first packet
(neighbour resolution) or a slow moment of a loaded machine is not read as a block.
"""

from __future__ import annotations

import json
import os
import socket
import sys
from concurrent.futures import ThreadPoolExecutor


def _tcp(ip: str, port: int, timeout: float) -> bool:
    try:
        with socket.create_connection((ip, port), timeout=timeout) as conn:
            conn.settimeout(timeout)
            return conn.recv(2) == b"ok"
    except OSError:
        return False


def _udp(ip: str, port: int, timeout: float) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        payload = os.urandom(8)
        try:
            s.sendto(payload, (ip, port))
            while True:
                if s.recv(64) == payload:
                    return True
        except OSError:
            return False


def _sctp(ip: str, port: int, timeout: float) -> bool:
    """An INIT answered by an INIT-ACK carrying our tag (see `vfpnet.lab.sctp_wire`)."""
    import time

    from vfpnet.lab import sctp_wire as wire

    tag = int.from_bytes(os.urandom(4), "big") or 1
    sport = 32768 + int.from_bytes(os.urandom(2), "big") % 28000
    with socket.socket(socket.AF_INET, socket.SOCK_RAW, wire.IPPROTO_SCTP) as s:
        s.sendto(wire.packet(sport, port, 0, wire.init_chunk(tag, tag)), (ip, 0))
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            s.settimeout(left)
            try:
                seen = wire.parse(s.recv(65535))
            except OSError:
                return False
            if seen == (ip, port, sport, tag, wire.INIT_ACK, seen[5] if seen else 0):
                return True
    return False


_PROBES = {"TCP": _tcp, "UDP": _udp, "SCTP": _sctp}


def probe(target: list[object], timeout: float) -> bool:
    _, proto, ip, port = target
    try:
        return _PROBES[str(proto)](str(ip), int(str(port)), timeout)
    except OSError:  # e.g. a send refused by a local rule: no answer came back
        return False


def main() -> int:
    request = json.load(sys.stdin)
    timeout = float(request.get("timeout", 1.0))
    targets = request["targets"]
    with ThreadPoolExecutor(max_workers=int(request.get("parallel", 16))) as pool:
        first = list(pool.map(lambda t: probe(t, timeout), targets))
        again = [t for t, ok in zip(targets, first, strict=True) if not ok]
        # A loaded machine may be slow to answer: the second try waits longer.
        second = dict(zip((str(t[0]) for t in again),
                          pool.map(lambda t: probe(t, 2 * timeout), again), strict=True))
    out = {str(t[0]): ok or second.get(str(t[0]), False)
           for t, ok in zip(targets, first, strict=True)}
    json.dump(out, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
