"""A small rtnetlink client: links, addresses, neighbours, routes and rules.

Why not pyroute2 here: the CNI ADD path runs once per pod start and its budget is the
reference Go plugin's latency (a few milliseconds); importing pyroute2 costs 30-150 ms
(measured with `python -X importtime`), so the plugin speaks netlink directly with
`_socket` and `struct` (both load in well under a millisecond). The tests read the kernel
state back through pyroute2, an independent implementation. Only what the modes need is
here; every call raises `NetlinkError` with the kernel's errno and the operation named.
"""

from __future__ import annotations

import _socket
import os
import struct

# netlink message types and flags (linux/netlink.h, linux/rtnetlink.h)
NLMSG_ERROR = 2
NLMSG_DONE = 3
NLM_F_REQUEST = 0x1
NLM_F_MULTI = 0x2
NLM_F_ACK = 0x4
NLM_F_REPLACE = 0x100
NLM_F_EXCL = 0x200
NLM_F_CREATE = 0x400
NLM_F_DUMP = 0x300
RTM_NEWLINK, RTM_DELLINK, RTM_GETLINK = 16, 17, 18
RTM_NEWADDR, RTM_DELADDR, RTM_GETADDR = 20, 21, 22
RTM_NEWROUTE, RTM_DELROUTE, RTM_GETROUTE = 24, 25, 26
RTM_NEWNEIGH = 28
RTM_NEWRULE, RTM_DELRULE, RTM_GETRULE = 32, 33, 34

IFLA_ADDRESS, IFLA_IFNAME, IFLA_MTU, IFLA_MASTER = 1, 3, 4, 10
IFLA_LINKINFO, IFLA_NET_NS_FD = 18, 28
IFLA_INFO_KIND, IFLA_INFO_DATA = 1, 2
VETH_INFO_PEER = 1
IFF_UP = 0x1
IFA_ADDRESS, IFA_LOCAL = 1, 2
RTA_DST, RTA_OIF, RTA_GATEWAY, RTA_PRIORITY, RTA_TABLE = 1, 4, 5, 6, 15
FRA_PRIORITY, FRA_FWMARK, FRA_TABLE, FRA_FWMASK = 6, 10, 15, 16
NDA_DST, NDA_LLADDR = 1, 2
NUD_PERMANENT = 0x80
FR_ACT_TO_TBL = 1
RT_TABLE_MAIN = 254
RTPROT_STATIC = 4
RT_SCOPE_UNIVERSE, RT_SCOPE_LINK = 0, 253
RTN_UNICAST = 1
RTNH_F_ONLINK = 0x4
AF_INET = 2

EEXIST = 17
ENOENT = 2
ESRCH = 3
ENODEV = 19
EADDRNOTAVAIL = 99
GONE = frozenset({ENOENT, ESRCH, ENODEV, EADDRNOTAVAIL})

_HDR = struct.Struct("=IHHII")
_ATTR = struct.Struct("=HH")
_IFINFO = struct.Struct("=BxHiII")
_IFADDR = struct.Struct("=BBBBI")
_RTMSG = struct.Struct("=BBBBBBBBI")
_NDMSG = struct.Struct("=BxxxiHBB")


class NetlinkError(OSError):
    """A netlink request the kernel refused; `errno` is the kernel's error number."""

    def __init__(self, errno: int, what: str) -> None:
        super().__init__(errno, f"{what}: {os.strerror(errno)}")
        self.what = what


def attr(kind: int, payload: bytes) -> bytes:
    size = 4 + len(payload)
    return _ATTR.pack(size, kind) + payload + b"\0" * ((4 - size % 4) % 4)


def attr_str(kind: int, value: str) -> bytes:
    return attr(kind, value.encode() + b"\0")


def attr_u32(kind: int, value: int) -> bytes:
    return attr(kind, struct.pack("=I", value))


def parse_attrs(data: bytes, offset: int = 0) -> dict[int, bytes]:
    """Attributes of one message body from `offset` (the last of a repeated type wins)."""
    out: dict[int, bytes] = {}
    end = len(data)
    while offset + 4 <= end:
        size, kind = _ATTR.unpack_from(data, offset)
        if size < 4:
            break
        out[kind & 0x3FFF] = data[offset + 4 : offset + size]
        offset += (size + 3) & ~3
    return out


def ip4(text: str) -> bytes:
    return _socket.inet_aton(text)


def mac_bytes(text: str) -> bytes:
    return bytes(int(part, 16) for part in text.split(":"))


def mac_text(raw: bytes) -> str:
    return ":".join(f"{b:02x}" for b in raw)


class Netlink:
    """One NETLINK_ROUTE socket, bound in the network namespace current at creation."""

    def __init__(self) -> None:
        self.sock = _socket.socket(16, _socket.SOCK_RAW, 0)  # AF_NETLINK, NETLINK_ROUTE
        self.sock.bind((0, 0))
        self.seq = 0

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> Netlink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- transport -----------------------------------------------------------------
    def request(self, kind: int, flags: int, body: bytes, what: str) -> list[bytes]:
        """Send one request; return the bodies of the replies (for dumps, all of them)."""
        self.seq += 1
        seq = self.seq
        self.sock.send(_HDR.pack(16 + len(body), kind, flags | NLM_F_REQUEST, seq, 0) + body)
        replies: list[bytes] = []
        while True:
            data = self.sock.recv(1 << 20)
            offset = 0
            while offset + 16 <= len(data):
                size, mtype, mflags, mseq, _ = _HDR.unpack_from(data, offset)
                payload = data[offset + 16 : offset + size]
                offset += (size + 3) & ~3
                if mseq != seq:
                    continue
                if mtype == NLMSG_ERROR:
                    err = -struct.unpack_from("=i", payload)[0]
                    if err:
                        raise NetlinkError(err, what)
                    return replies
                if mtype == NLMSG_DONE:
                    return replies
                replies.append(payload)
                if not mflags & NLM_F_MULTI and not flags & NLM_F_ACK:
                    return replies

    # -- links ---------------------------------------------------------------------
    def link_index(self, name: str) -> int | None:
        """The ifindex of `name`, or None when there is no such link."""
        found = self.link(name)
        return None if found is None else found[0]

    def link(self, name: str) -> tuple[int, int, dict[int, bytes]] | None:
        """(index, flags, attributes) of the link called `name`, or None."""
        body = _IFINFO.pack(0, 0, 0, 0, 0) + attr_str(IFLA_IFNAME, name)
        try:
            replies = self.request(RTM_GETLINK, 0, body, f"link {name}")
        except NetlinkError as exc:
            if exc.errno in GONE:
                return None
            raise
        _, _, index, flags, _ = _IFINFO.unpack_from(replies[0])
        return index, flags, parse_attrs(replies[0], _IFINFO.size)

    def link_name(self, index: int) -> str | None:
        """The name of the link with ifindex `index` (one reply, not a dump), or None."""
        try:
            replies = self.request(RTM_GETLINK, 0, _IFINFO.pack(0, 0, index, 0, 0),
                                   f"link #{index}")
        except NetlinkError as exc:
            if exc.errno in GONE:
                return None
            raise
        name = parse_attrs(replies[0], _IFINFO.size).get(IFLA_IFNAME, b"")
        return name.rstrip(b"\0").decode() or None

    def create_veth(
        self, host: str, host_mac: str, peer: str, peer_mac: str, peer_netns_fd: int
    ) -> None:
        """A veth pair: `host` here, `peer` created directly inside the namespace of the fd."""
        peer_msg = (
            _IFINFO.pack(0, 0, 0, 0, 0)
            + attr_str(IFLA_IFNAME, peer)
            + attr(IFLA_ADDRESS, mac_bytes(peer_mac))
            + attr_u32(IFLA_NET_NS_FD, peer_netns_fd)
        )
        info = attr_str(IFLA_INFO_KIND, "veth") + attr(
            IFLA_INFO_DATA, attr(VETH_INFO_PEER, peer_msg)
        )
        body = (
            _IFINFO.pack(0, 0, 0, 0, 0)
            + attr_str(IFLA_IFNAME, host)
            + attr(IFLA_ADDRESS, mac_bytes(host_mac))
            + attr(IFLA_LINKINFO, info)
        )
        self.request(
            RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL | NLM_F_ACK, body, f"create veth {host}"
        )

    def ensure_bridge(self, name: str) -> bool:
        """Create bridge `name` unless it exists; True when this call created it."""
        info = attr(IFLA_LINKINFO, attr_str(IFLA_INFO_KIND, "bridge"))
        body = _IFINFO.pack(0, 0, 0, 0, 0) + attr_str(IFLA_IFNAME, name) + info
        try:
            self.request(
                RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL | NLM_F_ACK, body, f"create bridge {name}"
            )
        except NetlinkError as exc:
            if exc.errno == EEXIST:
                return False
            raise
        return True

    def set_link(self, index: int, *, up: bool | None = None, master: int | None = None,
                 what: str = "link") -> None:
        flags = change = 0
        if up is not None:
            change = IFF_UP
            flags = IFF_UP if up else 0
        attrs = attr_u32(IFLA_MASTER, master) if master is not None else b""
        body = _IFINFO.pack(0, 0, index, flags, change) + attrs
        self.request(RTM_NEWLINK, NLM_F_ACK, body, f"set {what}")

    def delete_link(self, name: str) -> bool:
        """Delete link `name`; False when it was already gone."""
        body = _IFINFO.pack(0, 0, 0, 0, 0) + attr_str(IFLA_IFNAME, name)
        try:
            self.request(RTM_DELLINK, NLM_F_ACK, body, f"delete link {name}")
        except NetlinkError as exc:
            if exc.errno in GONE:
                return False
            raise
        return True

    # -- addresses -----------------------------------------------------------------
    def add_address(self, index: int, address: str, prefix: int, what: str = "address") -> bool:
        """Add an IPv4 address; False when it was already there."""
        raw = ip4(address)
        body = _IFADDR.pack(AF_INET, prefix, 0, 0, index) + attr(IFA_LOCAL, raw) + attr(
            IFA_ADDRESS, raw
        )
        try:
            self.request(
                RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL | NLM_F_ACK, body,
                f"add {what} {address}/{prefix}",
            )
        except NetlinkError as exc:
            if exc.errno == EEXIST:
                return False
            raise
        return True

    def addresses(self, index: int) -> list[tuple[str, int]]:
        body = _IFADDR.pack(AF_INET, 0, 0, 0, 0)
        out = []
        for reply in self.request(RTM_GETADDR, NLM_F_DUMP, body, "list addresses"):
            _, prefix, _, _, ifindex = _IFADDR.unpack_from(reply)
            if ifindex != index:
                continue
            attrs = parse_attrs(reply, _IFADDR.size)
            raw = attrs.get(IFA_LOCAL) or attrs.get(IFA_ADDRESS)
            if raw:
                out.append((_socket.inet_ntoa(raw), prefix))
        return out

    # -- neighbours ----------------------------------------------------------------
    def add_permanent_neighbour(self, index: int, address: str, mac: str) -> None:
        body = (
            _NDMSG.pack(AF_INET, index, NUD_PERMANENT, 0, 0)
            + attr(NDA_DST, ip4(address))
            + attr(NDA_LLADDR, mac_bytes(mac))
        )
        self.request(
            RTM_NEWNEIGH, NLM_F_CREATE | NLM_F_REPLACE | NLM_F_ACK, body, f"neighbour {address}"
        )

    # -- routes --------------------------------------------------------------------
    def _route_body(self, dst: str, prefix: int, *, gateway: str | None, oif: int | None,
                    table: int, scope: int, onlink: bool) -> bytes:
        rtable = table if table < 256 else 252  # RT_TABLE_COMPAT; the real id is RTA_TABLE
        body = _RTMSG.pack(
            AF_INET, prefix, 0, 0, rtable, RTPROT_STATIC, scope, RTN_UNICAST,
            RTNH_F_ONLINK if onlink else 0,
        ) + attr_u32(RTA_TABLE, table)
        if prefix:
            body += attr(RTA_DST, ip4(dst))
        if gateway:
            body += attr(RTA_GATEWAY, ip4(gateway))
        if oif is not None:
            body += attr_u32(RTA_OIF, oif)
        return body

    def add_route(self, dst: str, prefix: int, *, gateway: str | None = None,
                  oif: int | None = None, table: int = RT_TABLE_MAIN,
                  scope: int = RT_SCOPE_UNIVERSE, onlink: bool = False) -> bool:
        """Add a route; False when an identical one was already there."""
        body = self._route_body(dst, prefix, gateway=gateway, oif=oif, table=table,
                                scope=scope, onlink=onlink)
        try:
            self.request(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL | NLM_F_ACK, body,
                         f"add route {dst}/{prefix} table {table}")
        except NetlinkError as exc:
            if exc.errno == EEXIST:
                return False
            raise
        return True

    def delete_route(self, dst: str, prefix: int, *, oif: int | None = None,
                     table: int = RT_TABLE_MAIN) -> bool:
        body = _RTMSG.pack(AF_INET, prefix, 0, 0, table if table < 256 else 252, 0, 0, 0, 0)
        body += attr_u32(RTA_TABLE, table)
        if prefix:
            body += attr(RTA_DST, ip4(dst))
        if oif is not None:
            body += attr_u32(RTA_OIF, oif)
        try:
            self.request(RTM_DELROUTE, NLM_F_ACK, body, f"delete route {dst}/{prefix}")
        except NetlinkError as exc:
            if exc.errno in GONE:
                return False
            raise
        return True

    def routes(self, table: int = RT_TABLE_MAIN) -> list[dict[str, object]]:
        """IPv4 routes of one table: dst, prefix, gateway, oif."""
        body = _RTMSG.pack(AF_INET, 0, 0, 0, 0, 0, 0, 0, 0)
        out: list[dict[str, object]] = []
        for reply in self.request(RTM_GETROUTE, NLM_F_DUMP, body, "list routes"):
            _, prefix, _, _, rtable, _, _, _, _ = _RTMSG.unpack_from(reply)
            attrs = parse_attrs(reply, _RTMSG.size)
            real = struct.unpack("=I", attrs[RTA_TABLE])[0] if RTA_TABLE in attrs else rtable
            if real != table:
                continue
            gw = attrs.get(RTA_GATEWAY)
            oif = attrs.get(RTA_OIF)
            out.append({
                "dst": _socket.inet_ntoa(attrs[RTA_DST]) if RTA_DST in attrs else "0.0.0.0",
                "prefix": prefix,
                "gateway": _socket.inet_ntoa(gw) if gw else None,
                "oif": struct.unpack("=I", oif)[0] if oif else None,
            })
        return out

    def route_oif(self, address: str) -> int | None:
        """The output interface the main lookup picks for `address` (RTM_GETROUTE)."""
        body = _RTMSG.pack(AF_INET, 32, 0, 0, 0, 0, 0, 0, 0) + attr(RTA_DST, ip4(address))
        try:
            replies = self.request(RTM_GETROUTE, 0, body, f"route to {address}")
        except NetlinkError as exc:
            if exc.errno in GONE or exc.errno == 101:  # ENETUNREACH
                return None
            raise
        oif = parse_attrs(replies[0], _RTMSG.size).get(RTA_OIF)
        return struct.unpack("=I", oif)[0] if oif else None

    # -- policy rules --------------------------------------------------------------
    def _rule_body(self, mark: int, mask: int, table: int, priority: int) -> bytes:
        return (
            _RTMSG.pack(AF_INET, 0, 0, 0, table if table < 256 else 252, 0, 0, FR_ACT_TO_TBL, 0)
            + attr_u32(FRA_TABLE, table)
            + attr_u32(FRA_FWMARK, mark)
            + attr_u32(FRA_FWMASK, mask)
            + attr_u32(FRA_PRIORITY, priority)
        )

    def add_fwmark_rule(self, mark: int, mask: int, table: int, priority: int) -> bool:
        """`fwmark mark/mask lookup table` at `priority`; False when it already existed."""
        try:
            self.request(RTM_NEWRULE, NLM_F_CREATE | NLM_F_EXCL | NLM_F_ACK,
                         self._rule_body(mark, mask, table, priority),
                         f"add rule fwmark {mark:#x} table {table}")
        except NetlinkError as exc:
            if exc.errno == EEXIST:
                return False
            raise
        return True

    def delete_fwmark_rule(self, mark: int, mask: int, table: int, priority: int) -> bool:
        try:
            self.request(RTM_DELRULE, NLM_F_ACK, self._rule_body(mark, mask, table, priority),
                         f"delete rule fwmark {mark:#x}")
        except NetlinkError as exc:
            if exc.errno in GONE:
                return False
            raise
        return True

    def fwmark_rules(self) -> list[tuple[int, int, int, int]]:
        """(mark, mask, table, priority) of every IPv4 fwmark rule."""
        body = _RTMSG.pack(AF_INET, 0, 0, 0, 0, 0, 0, 0, 0)
        out = []
        for reply in self.request(RTM_GETRULE, NLM_F_DUMP, body, "list rules"):
            attrs = parse_attrs(reply, _RTMSG.size)
            if FRA_FWMARK not in attrs:
                continue

            def u32(kind: int, attrs: dict[int, bytes] = attrs) -> int:
                return struct.unpack("=I", attrs[kind])[0] if kind in attrs else 0

            out.append((u32(FRA_FWMARK), u32(FRA_FWMASK), u32(FRA_TABLE), u32(FRA_PRIORITY)))
        return out
