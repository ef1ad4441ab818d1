"""Just enough SCTP on raw sockets to prove an association would start: INIT and INIT-ACK.

This kernel has no SCTP stack (no SCTP sockets, no module to load), but raw sockets of
protocol 132 work and netfilter tracks SCTP. A prober sends an INIT to the destination
port; the destination's responder answers with an INIT-ACK that echoes the INIT's tag; a
blocked INIT gets no answer. Packets carry a correct CRC32c (conntrack checks it).
Imports stay minimal: the responder and prober load this module.
"""

from __future__ import annotations

import struct

IPPROTO_SCTP = 132
INIT = 1
INIT_ACK = 2
_COMMON = struct.Struct("!HHI")  # source port, destination port, verification tag; + checksum


def _crc32c_table() -> list[int]:
    table = []
    for n in range(256):
        crc = n
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
        table.append(crc)
    return table


_TABLE = _crc32c_table()


def crc32c(data: bytes) -> int:
    crc = 0xFFFFFFFF
    for byte in data:
        crc = _TABLE[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def packet(src_port: int, dst_port: int, vtag: int, chunk: bytes) -> bytes:
    body = _COMMON.pack(src_port, dst_port, vtag) + b"\0\0\0\0" + chunk
    # The checksum goes on the wire least significant byte first (RFC 9260, appendix A).
    return body[:8] + struct.pack("<I", crc32c(body)) + body[12:]


def init_chunk(tag: int, tsn: int) -> bytes:
    """INIT: initiate tag, a_rwnd, outbound/inbound streams, initial TSN."""
    return struct.pack("!BBHIIHHI", INIT, 0, 20, tag, 65535, 1, 1, tsn)


def init_ack_chunk(tag: int, tsn: int, cookie: bytes) -> bytes:
    """INIT-ACK with the State Cookie parameter (type 7) it must carry."""
    param = struct.pack("!HH", 7, 4 + len(cookie)) + cookie
    param += b"\0" * (-len(param) % 4)
    return struct.pack("!BBHIIHHI", INIT_ACK, 0, 20 + len(param), tag, 65535, 1, 1,
                       tsn) + param


def parse(datagram: bytes) -> tuple[str, int, int, int, int, int] | None:
    """(source address, source port, destination port, verification tag, chunk type,
    initiate tag) of a raw IPv4 datagram carrying SCTP with an INIT or INIT-ACK first."""
    if len(datagram) < 20:
        return None
    ihl = (datagram[0] & 0x0F) * 4
    if datagram[9] != IPPROTO_SCTP or len(datagram) < ihl + 20:
        return None
    src = ".".join(str(b) for b in datagram[12:16])
    sport, dport, vtag = _COMMON.unpack_from(datagram, ihl)
    chunk_type = datagram[ihl + 12]
    tag = struct.unpack_from("!I", datagram, ihl + 16)[0] if chunk_type in (INIT, INIT_ACK) \
        else 0
    return src, sport, dport, vtag, chunk_type, tag
