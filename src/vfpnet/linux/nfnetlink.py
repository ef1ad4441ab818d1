"""nftables set elements and rule listings straight over NETLINK_NETFILTER.

libnftables (`vfpnet.linux.nftables`) is the general tool, but loading it (ctypes, the
library and its dependencies) and its cache fill before every transaction (a dump of the
tables, chains, sets and flowtables) cost a transparent-tunnel ADD milliseconds. A pod's
ADD/DEL only adds or removes one element of a set that exists, and checks that the
steering rule is in place: that is three message types, sent here directly (_socket and
struct only). Element changes go in one batch, so they are atomic like a libnftables run.
"""

from __future__ import annotations

import _socket  # socket.py imports enum, selectors...: milliseconds on the ADD path
import os
import struct

NETLINK_NETFILTER = 12
NFNL_SUBSYS_NFTABLES = 10
NFNL_MSG_BATCH_BEGIN = 0x10
NFNL_MSG_BATCH_END = 0x11
NFT_MSG_GETRULE = 7
NFT_MSG_NEWSETELEM = 12
NFT_MSG_DELSETELEM = 14
NFPROTO_IPV4 = 2
NFPROTO_IPV6 = 10

NLM_F_REQUEST = 0x1
NLM_F_MULTI = 0x2
NLM_F_ACK = 0x4
NLM_F_DUMP = 0x300
NLM_F_CREATE = 0x400
NLMSG_ERROR = 2
NLMSG_DONE = 3
NLA_F_NESTED = 0x8000

NFTA_SET_ELEM_LIST_TABLE = 1
NFTA_SET_ELEM_LIST_SET = 2
NFTA_SET_ELEM_LIST_ELEMENTS = 3
NFTA_LIST_ELEM = 1
NFTA_SET_ELEM_KEY = 1
NFTA_DATA_VALUE = 1
NFTA_RULE_TABLE = 1
NFTA_RULE_CHAIN = 2
NFTA_RULE_USERDATA = 7
IFNAMSIZ = 16

_HDR = struct.Struct("=IHHII")
_NFGEN = struct.Struct("=BBH")


# Releasing a netfilter socket while the kernel still has freed set elements to destroy
# makes the release wait for them (an RCU grace period, ~15 ms here) with the nf_tables
# commit mutex held, which a new network device (a pod's veth) also takes. A process that
# stays up after it has answered (a CNI server's worker) sets LINGER: sockets handed to
# `close_soon` stay open until the process ends, by when the kernel has destroyed the
# elements by itself. Elsewhere a thread closes them while the caller goes on.
LINGER = False
LATE: list[NfNetlink] = []


def close_soon(nf: NfNetlink) -> None:
    if LINGER:
        LATE.append(nf)
    else:
        import _thread

        _thread.start_new_thread(nf.close, ())


class NfNetlinkError(OSError):
    """The kernel refused an nftables message (errno from its ack)."""


def _attr(kind: int, data: bytes) -> bytes:
    size = 4 + len(data)
    return struct.pack("=HH", size, kind) + data + b"\0" * ((4 - size % 4) % 4)


def _nested(kind: int, data: bytes) -> bytes:
    return _attr(kind | NLA_F_NESTED, data)


def _str(kind: int, text: str) -> bytes:
    return _attr(kind, text.encode() + b"\0")


def addr_ifname_key(address: str, ifname: str) -> bytes:
    """The key of an `ipv4_addr . ifname` (or `ipv6_addr . ifname`) element: 4 (16) address
    bytes, then IFNAMSIZ name bytes (each part of a concatenation fills whole 32-bit
    registers). The length tells the family apart (`key_family`)."""
    name = ifname.encode()
    if len(name) >= IFNAMSIZ:
        raise ValueError(f"interface name {ifname!r} is too long")
    packed = (_socket.inet_pton(_socket.AF_INET6, address) if ":" in address
              else _socket.inet_aton(address))
    return packed + name.ljust(IFNAMSIZ, b"\0")


def key_family(key: bytes) -> int:
    """NFPROTO_IPV6 for a key made of an IPv6 address and a name, else NFPROTO_IPV4."""
    return NFPROTO_IPV6 if len(key) == 16 + IFNAMSIZ else NFPROTO_IPV4


def _attrs(data: bytes, offset: int) -> dict[int, bytes]:
    out: dict[int, bytes] = {}
    while offset + 4 <= len(data):
        size, kind = struct.unpack_from("=HH", data, offset)
        if size < 4:
            break
        out[kind & 0x3FFF] = data[offset + 4 : offset + size]
        offset += (size + 3) & ~3
    return out


class NfNetlink:
    """One NETLINK_NETFILTER socket, in the network namespace current at creation."""

    def __init__(self) -> None:
        self.sock = _socket.socket(16, _socket.SOCK_RAW, NETLINK_NETFILTER)
        self.sock.bind((0, 0))
        self.seq = 0

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> NfNetlink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _msg(self, kind: int, flags: int, family: int, body: bytes, res_id: int = 0) -> bytes:
        self.seq += 1
        head = _NFGEN.pack(family, 0, _socket.htons(res_id))
        return _HDR.pack(16 + len(head) + len(body), kind, flags | NLM_F_REQUEST,
                         self.seq, 0) + head + body

    def _batch(self, kind: int, flags: int, bodies: list[tuple[int, bytes]], what: str) -> None:
        """Send `bodies` ((family, body) pairs) as messages of `kind` in one batch (all or
        nothing, across families too); wait for every ack; the first error raises."""
        begin = self._msg(NFNL_MSG_BATCH_BEGIN, 0, 0, b"", NFNL_SUBSYS_NFTABLES)
        seqs = []
        msgs = []
        for family, body in bodies:
            msgs.append(self._msg((NFNL_SUBSYS_NFTABLES << 8) | kind, flags | NLM_F_ACK,
                                  family, body))
            seqs.append(self.seq)
        end = self._msg(NFNL_MSG_BATCH_END, 0, 0, b"", NFNL_SUBSYS_NFTABLES)
        self.sock.send(begin + b"".join(msgs) + end)
        pending = set(seqs)
        error = 0
        while pending:
            data = self.sock.recv(1 << 16)
            offset = 0
            while offset + 16 <= len(data):
                size, mtype, _, mseq, _ = _HDR.unpack_from(data, offset)
                if mtype == NLMSG_ERROR and mseq in pending:
                    pending.discard(mseq)
                    err = -struct.unpack_from("=i", data, offset + 16)[0]
                    error = error or err
                offset += (size + 3) & ~3
                if size < 16:
                    break
            if error:  # the batch was aborted: later messages may not be acked at all
                raise NfNetlinkError(error, f"{what}: {os.strerror(error)}")

    def add_elements(self, table: str, set_name: str, keys: list[bytes]) -> None:
        """Add elements to set `ip TABLE SET` (IPv4 keys) and `ip6 TABLE SET` (IPv6 keys) in
        one batch (existing ones are kept, as `nft add element`)."""
        self._batch(NFT_MSG_NEWSETELEM, NLM_F_CREATE, self._elements(table, set_name, keys),
                    f"add element to {table} {set_name}")

    def delete_elements(self, table: str, set_name: str, keys: list[bytes]) -> None:
        """Delete elements (either family) in one batch: nothing is deleted when one of them
        is missing (ENOENT, as for a missing table or set)."""
        self._batch(NFT_MSG_DELSETELEM, 0, self._elements(table, set_name, keys),
                    f"delete element from {table} {set_name}")

    @staticmethod
    def _elements(table: str, set_name: str, keys: list[bytes]) -> list[tuple[int, bytes]]:
        """One message body per family of `keys` (a set holds one family's keys)."""
        out = []
        for family in (NFPROTO_IPV4, NFPROTO_IPV6):
            elems = b"".join(
                _nested(NFTA_LIST_ELEM, _nested(NFTA_SET_ELEM_KEY, _attr(NFTA_DATA_VALUE, key)))
                for key in keys if key_family(key) == family
            )
            if elems:
                out.append((family, _str(NFTA_SET_ELEM_LIST_TABLE, table)
                            + _str(NFTA_SET_ELEM_LIST_SET, set_name)
                            + _nested(NFTA_SET_ELEM_LIST_ELEMENTS, elems)))
        return out

    def rule_userdata(self, table: str, chain: str, family: int = NFPROTO_IPV4) -> list[bytes]:
        """The userdata (where nft keeps a rule's comment) of each rule of chain `TABLE CHAIN`
        of `family` (NFPROTO_IPV4: `ip`, NFPROTO_IPV6: `ip6`); raises NfNetlinkError
        (ENOENT) when the table or chain does not exist."""
        body = _str(NFTA_RULE_TABLE, table) + _str(NFTA_RULE_CHAIN, chain)
        self.sock.send(self._msg((NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_GETRULE, NLM_F_DUMP,
                                 family, body))
        seq = self.seq
        out: list[bytes] = []
        while True:
            data = self.sock.recv(1 << 20)
            offset = 0
            while offset + 16 <= len(data):
                size, mtype, _, mseq, _ = _HDR.unpack_from(data, offset)
                if size < 16:
                    return out
                if mseq == seq:
                    if mtype == NLMSG_DONE:
                        return out
                    if mtype == NLMSG_ERROR:
                        err = -struct.unpack_from("=i", data, offset + 16)[0]
                        if err:
                            raise NfNetlinkError(err, f"list rules of {table} {chain}: "
                                                      f"{os.strerror(err)}")
                        return out
                    attrs = _attrs(data[offset : offset + size], 16 + _NFGEN.size)
                    out.append(attrs.get(NFTA_RULE_USERDATA, b""))
                offset += (size + 3) & ~3
