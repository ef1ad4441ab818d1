"""A small rtnetlink client: links, addresses, neighbours, routes and rules.

Why not pyroute2 here: the CNI ADD path runs once per pod start and its budget is the
reference Go plugin's latency (a few milliseconds); importing pyroute2 costs 30-150 ms
(measured with `python -X importtime`), so the plugin speaks netlink directly with
`_socket` and `struct` (both load in well under a millisecond). The tests read the kernel
state back through pyroute2, an independent implementation. Only what the modes need is
here; every call raises `NetlinkError` with the kernel's errno and the operation named.

Addresses of either family are taken as text: one with a ':' is IPv6 (AF_INET6), any other
IPv4, so an IPv4 call builds exactly the message it always did.
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
IFA_ADDRESS, IFA_LOCAL, IFA_FLAGS = 1, 2, 8
IFA_F_NODAD = 0x02
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
AF_INET6 = 10

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


def ip_bytes(text: str) -> tuple[int, bytes]:
    """(family, packed address) of an IPv4 or IPv6 address in text."""
    if ":" in text:
        return AF_INET6, _socket.inet_pton(AF_INET6, text)
    return AF_INET, _socket.inet_aton(text)


def ip_text(raw: bytes) -> str:
    return _socket.inet_ntop(AF_INET6, raw) if len(raw) == 16 else _socket.inet_ntoa(raw)


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
        self, host: str, host_mac: str, peer: str, peer_mac: str, peer_netns_fd: int,
        mtu: int = 0,
    ) -> None:
        """A veth pair: `host` here, `peer` created directly inside the namespace of the fd;
        both ends get `mtu` when it is not 0 (in the same request)."""
        mtu_attr = attr_u32(IFLA_MTU, mtu) if mtu else b""
        peer_msg = (
            _IFINFO.pack(0, 0, 0, 0, 0)
            + attr_str(IFLA_IFNAME, peer)
            + attr(IFLA_ADDRESS, mac_bytes(peer_mac))
            + attr_u32(IFLA_NET_NS_FD, peer_netns_fd)
            + mtu_attr
        )
        info = attr_str(IFLA_INFO_KIND, "veth") + attr(
            IFLA_INFO_DATA, attr(VETH_INFO_PEER, peer_msg)
        )
        body = (
            _IFINFO.pack(0, 0, 0, 0, 0)
            + attr_str(IFLA_IFNAME, host)
            + attr(IFLA_ADDRESS, mac_bytes(host_mac))
            + mtu_attr
            + attr(IFLA_LINKINFO, info)
        )
        self.request(
            RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL | NLM_F_ACK, body, f"create veth {host}"
        )

    def ensure_bridge(self, name: str, mtu: int = 0) -> bool:
        """Create bridge `name` (with `mtu` unless 0) unless it exists; True when this call
        created it (an existing bridge keeps its MTU)."""
        info = attr(IFLA_LINKINFO, attr_str(IFLA_INFO_KIND, "bridge"))
        body = _IFINFO.pack(0, 0, 0, 0, 0) + attr_str(IFLA_IFNAME, name) + info
        if mtu:
            body += attr_u32(IFLA_MTU, mtu)
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
    def add_address(self, index: int, address: str, prefix: int, what: str = "address",
                    nodad: bool = False) -> bool:
        """Add an address; False when it was already there. `nodad`: an IPv6 address is
        usable at once instead of tentative for the second or so duplicate detection takes."""
        family, raw = ip_bytes(address)
        body = _IFADDR.pack(family, prefix, IFA_F_NODAD if nodad else 0, 0, index) + attr(
            IFA_LOCAL, raw) + attr(IFA_ADDRESS, raw)
        if nodad:  # the header's byte carries the old flags; IFA_FLAGS the full set
            body += attr_u32(IFA_FLAGS, IFA_F_NODAD)
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

    def addresses(self, index: int, family: int = AF_INET) -> list[tuple[str, int]]:
        """(address, prefix) of link `index` in one family (IPv4 unless AF_INET6)."""
        body = _IFADDR.pack(family, 0, 0, 0, 0)
        out = []
        for reply in self.request(RTM_GETADDR, NLM_F_DUMP, body, "list addresses"):
            _, prefix, _, _, ifindex = _IFADDR.unpack_from(reply)
            if ifindex != index:
                continue
            attrs = parse_attrs(reply, _IFADDR.size)
            raw = attrs.get(IFA_LOCAL) or attrs.get(IFA_ADDRESS)
            if raw:
                out.append((ip_text(raw), prefix))
        return out

    # -- neighbours ----------------------------------------------------------------
    def add_permanent_neighbour(self, index: int, address: str, mac: str) -> None:
        family, raw = ip_bytes(address)
        body = (
            _NDMSG.pack(family, index, NUD_PERMANENT, 0, 0)
            + attr(NDA_DST, raw)
            + attr(NDA_LLADDR, mac_bytes(mac))
        )
        self.request(
            RTM_NEWNEIGH, NLM_F_CREATE | NLM_F_REPLACE | NLM_F_ACK, body, f"neighbour {address}"
        )

    # -- routes --------------------------------------------------------------------
    def _route_body(self, dst: str, prefix: int, *, gateway: str | None, oif: int | None,
                    table: int, scope: int, onlink: bool) -> bytes:
        rtable = table if table < 256 else 252  # RT_TABLE_COMPAT; the real id is RTA_TABLE
        family, raw = ip_bytes(dst)
        body = _RTMSG.pack(
            family, prefix, 0, 0, rtable, RTPROT_STATIC, scope, RTN_UNICAST,
            RTNH_F_ONLINK if onlink else 0,
        ) + attr_u32(RTA_TABLE, table)
        if prefix:
            body += attr(RTA_DST, raw)
        if gateway:
            body += attr(RTA_GATEWAY, ip_bytes(gateway)[1])
        if oif is not None:
            body += attr_u32(RTA_OIF, oif)
        return body

    def add_route(self, dst: str, prefix: int, *, gateway: str | None = None,
                  oif: int | None = None, table: int = RT_TABLE_MAIN,
                  scope: int = RT_SCOPE_UNIVERSE, onlink: bool = False) -> bool:
        """Add a route (the family is `dst`'s; IPv6 routes take no scope: the kernel ignores
        it, and a link-local `gateway` needs `oif`); False when one was already there."""
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
                     table: int = RT_TABLE_MAIN, scope: int = RT_SCOPE_UNIVERSE) -> bool:
        """Delete a route (an IPv4 one matches only with its own `scope`); False when it
        was not there."""
        family, raw = ip_bytes(dst)
        body = _RTMSG.pack(family, prefix, 0, 0, table if table < 256 else 252, 0, scope, 0, 0)
        body += attr_u32(RTA_TABLE, table)
        if prefix:
            body += attr(RTA_DST, raw)
        if oif is not None:
            body += attr_u32(RTA_OIF, oif)
        try:
            self.request(RTM_DELROUTE, NLM_F_ACK, body, f"delete route {dst}/{prefix}")
        except NetlinkError as exc:
            if exc.errno in GONE:
                return False
            raise
        return True

    def routes(self, table: int = RT_TABLE_MAIN, family: int = AF_INET) -> list[dict[str, object]]:
        """Routes of one table and family (IPv4 unless AF_INET6): dst, prefix, gateway, oif."""
        body = _RTMSG.pack(family, 0, 0, 0, 0, 0, 0, 0, 0)
        unspecified = "::" if family == AF_INET6 else "0.0.0.0"
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
                "dst": ip_text(attrs[RTA_DST]) if RTA_DST in attrs else unspecified,
                "prefix": prefix,
                "gateway": ip_text(gw) if gw else None,
                "oif": struct.unpack("=I", oif)[0] if oif else None,
            })
        return out

    def route_oif(self, address: str) -> int | None:
        """The output interface the main lookup picks for `address` (RTM_GETROUTE)."""
        family, raw = ip_bytes(address)
        body = _RTMSG.pack(family, len(raw) * 8, 0, 0, 0, 0, 0, 0, 0) + attr(RTA_DST, raw)
        try:
            replies = self.request(RTM_GETROUTE, 0, body, f"route to {address}")
        except NetlinkError as exc:
            if exc.errno in GONE or exc.errno == 101:  # ENETUNREACH
                return None
            raise
        oif = parse_attrs(replies[0], _RTMSG.size).get(RTA_OIF)
        return struct.unpack("=I", oif)[0] if oif else None

    # -- policy rules --------------------------------------------------------------
    def _rule_body(self, mark: int, mask: int, table: int, priority: int,
                   family: int = AF_INET) -> bytes:
        return (
            _RTMSG.pack(family, 0, 0, 0, table if table < 256 else 252, 0, 0, FR_ACT_TO_TBL, 0)
            + attr_u32(FRA_TABLE, table)
            + attr_u32(FRA_FWMARK, mark)
            + attr_u32(FRA_FWMASK, mask)
            + attr_u32(FRA_PRIORITY, priority)
        )

    def add_fwmark_rule(self, mark: int, mask: int, table: int, priority: int,
                        family: int = AF_INET) -> bool:
        """`fwmark mark/mask lookup table` at `priority` (IPv4 unless `family` is AF_INET6);
        False when it already existed."""
        try:
            self.request(RTM_NEWRULE, NLM_F_CREATE | NLM_F_EXCL | NLM_F_ACK,
                         self._rule_body(mark, mask, table, priority, family),
                         f"add rule fwmark {mark:#x} table {table}")
        except NetlinkError as exc:
            if exc.errno == EEXIST:
                return False
            raise
        return True

    def delete_fwmark_rule(self, mark: int, mask: int, table: int, priority: int,
                           family: int = AF_INET) -> bool:
        try:
            self.request(RTM_DELRULE, NLM_F_ACK,
                         self._rule_body(mark, mask, table, priority, family),
                         f"delete rule fwmark {mark:#x}")
        except NetlinkError as exc:
            if exc.errno in GONE:
                return False
            raise
        return True

    def fwmark_rules(self, family: int = AF_INET) -> list[tuple[int, int, int, int]]:
        """(mark, mask, table, priority) of every fwmark rule of one family (IPv4 unless
        AF_INET6)."""
        body = _RTMSG.pack(family, 0, 0, 0, 0, 0, 0, 0, 0)
        out = []
        for reply in self.request(RTM_GETRULE, NLM_F_DUMP, body, "list rules"):
            attrs = parse_attrs(reply, _RTMSG.size)
            if FRA_FWMARK not in attrs:
                continue

            def u32(kind: int, attrs: dict[int, bytes] = attrs) -> int:
                return struct.unpack("=I", attrs[kind])[0] if kind in attrs else 0

            out.append((u32(FRA_FWMARK), u32(FRA_FWMASK), u32(FRA_TABLE), u32(FRA_PRIORITY)))
        return out
