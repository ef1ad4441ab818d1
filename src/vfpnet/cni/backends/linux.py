"""The Linux backend: a veth per pod, wired in one of three modes (netlink + nftables).

- l2bridge: host veth enslaved to a Linux bridge that holds the gateway address; the pod
  sits on the subnet with a default route via that gateway.
- transparent: the pod has its address as /32 and a default route via 169.254.1.1 on its
  veth (a permanent neighbour entry points it at the host veth's MAC, and the host veth
  answers ARP by proxy); the node routes the /32 to the host veth.
- transparent-tunnel: transparent, plus the pod becomes a member of the steering set so
  all its traffic is marked and policy-routed to the gateway (`vfpnet.linux.steering`),
  even to pods on the same node.

IPv6 and dual-stack: the IPAM result's first address of each family is configured.
l2bridge puts the IPv6 gateway on the bridge too; transparent modes give the pod its
address as /128 with a default route via fe80::1, which a permanent neighbour entry maps
to the host veth's MAC (as 169.254.1.1 for IPv4), and the node a /128 route plus a
permanent neighbour entry for the pod. IPv6 addresses are added `nodad` (usable at once).
The IPv6 gateway (l2bridge, transparent-tunnel) comes from `vfpnet.cni.gateway`: netconf
`gateway` is IPv4, so it is IPAM's or the subnet's first host. An IPv4-only result takes
exactly the path it took before IPv6 existed: no IPv6 module is imported, no round trip
added.

Netconf `mtu` goes into the veth creation request (both ends) and into the bridge's.

ADD order keeps the pod unreachable until it is fully steered: the host veth comes up
only after the steering set members exist (and the host routes right after it).
DEL removes the veth first (the pod is gone), then the set members.
"""

from __future__ import annotations

import _socket
import os

from vfpnet.cni import errors, faults
from vfpnet.cni.addressing import contains, first_host, parse_cidr
from vfpnet.cni.attachment import Added, Request
from vfpnet.cni.netconf import IPV6_MIN_MTU, requested_mac
from vfpnet.linux.netlink import (
    AF_INET,
    AF_INET6,
    IFLA_MTU,
    RT_SCOPE_LINK,
    Netlink,
    NetlinkError,
    mac_text,
)
from vfpnet.linux.netns import NetNS, read_sysctl, write_sysctl

TYPE_CHECKING = False
if TYPE_CHECKING:
    from vfpnet.cni.backend import IpamSource
    from vfpnet.cni.netconf import NetConf
    from vfpnet.cni.undo import UndoStack
    from vfpnet.linux.nftables import Nft

LINK_LOCAL_GW = "169.254.1.1"
LINK_LOCAL_GW6 = "fe80::1"
HOST_PREFIX = "vfp"
EACCES = 13


def host_ifname(container_id: str, ifname: str) -> str:
    """The host-side veth name: derived from (container, ifname) so DEL finds it statelessly."""
    import _sha1  # type: ignore[import-not-found]  # builtin; hashlib loads OpenSSL

    digest: str = _sha1.sha1(f"{container_id}\0{ifname}".encode()).hexdigest()
    return HOST_PREFIX + digest[:12]


class _Veth:
    """Both ends of a pod's veth as created: names, ifindexes, MACs."""

    __slots__ = ("host", "host_index", "host_mac", "pod", "pod_index", "pod_mac")

    def __init__(self, host: str, host_index: int | None, host_mac: str, pod: str,
                 pod_index: int | None, pod_mac: str) -> None:
        if host_index is None or pod_index is None:
            raise errors.CniError(
                errors.NETWORK_SETUP_FAILED, f"veth {host}/{pod}: vanished after creation"
            )
        self.host, self.host_index, self.host_mac = host, host_index, host_mac
        self.pod, self.pod_index, self.pod_mac = pod, pod_index, pod_mac


class _V6:
    """The pod's IPv6 address, its prefix length and (where the mode needs one) its gateway
    with the field it came from."""

    __slots__ = ("address", "gateway", "prefix", "source")

    def __init__(self, address: str, prefix: int, gateway: str, source: str) -> None:
        self.address, self.prefix, self.gateway, self.source = address, prefix, gateway, source


def _cidr6(text: str, field: str) -> tuple[str, int]:
    """'fd00::5/64' -> ('fd00::5', 64), the address in its canonical form."""
    addr, sep, prefix = text.partition("/")
    try:
        if not sep or not prefix.isdigit() or int(prefix) > 128:
            raise OSError
        addr = _socket.inet_ntop(AF_INET6, _socket.inet_pton(AF_INET6, addr))
    except OSError:
        raise errors.CniError(
            errors.INVALID_CONFIG, f"{field}: {text!r} is not an IPv6 address in CIDR notation"
        ) from None
    return addr, int(prefix)


def _node_ipv6(link: str) -> None:
    """IPv6 forwarding on, and IPv6 on `link` (the host veth, or the l2bridge bridge) even
    where the node's default is off. Read first: a write of `all/forwarding` walks every
    link of the node under the RTNL lock, even when nothing changes."""
    for key, value in (("net/ipv6/conf/all/forwarding", "1"),
                       (f"net/ipv6/conf/{link}/disable_ipv6", "0")):
        if read_sysctl(key) != value:
            write_sysctl(key, value)


def _pod_address6(req: Request, pod: Netlink, veth: _Veth, address: str, prefix: int) -> None:
    """The pod's IPv6 address, `nodad`. A runtime may make the namespace with IPv6 off
    (`default/disable_ipv6=1`, so the kernel refuses the address with EACCES): then it is
    turned on for the pod's link alone, as the reference plugins do, and added again."""
    what = f"{veth.pod} address"
    try:
        pod.add_address(veth.pod_index, address, prefix, what=what, nodad=True)
    except NetlinkError as exc:
        if exc.errno != EACCES:
            raise
        with NetNS(req.args.netns):
            write_sysctl(f"net/ipv6/conf/{veth.pod}/disable_ipv6", "0")
        pod.add_address(veth.pod_index, address, prefix, what=what, nodad=True)


def _no_family(gateway: str) -> errors.CniError:
    return errors.CniError(
        errors.INVALID_CONFIG, f"gateway: {gateway} is IPv4, but the pod has no IPv4 address"
    )


def _random_mac() -> str:
    raw = bytearray(os.urandom(6))
    raw[0] = (raw[0] & 0xFC) | 0x02  # locally administered, unicast
    return mac_text(bytes(raw))


def _setup_error(exc: OSError, what: str) -> errors.CniError:
    return errors.CniError(errors.NETWORK_SETUP_FAILED, f"{what}: {exc.strerror or exc}")


class LinuxBackend:
    def __init__(self) -> None:
        self._nft: Nft | None = None

    def nft(self) -> Nft:
        if self._nft is None:
            from vfpnet.cni.jsonwire import dumps, loads
            from vfpnet.linux.nftables import Nft

            self._nft = Nft(dumps=dumps, loads=loads)
        return self._nft

    # -- ADD -----------------------------------------------------------------------
    def add(self, req: Request, ipam: IpamSource, undo: UndoStack) -> Added:
        conf, args = req.conf, req.args
        host = host_ifname(args.container_id, args.ifname)
        # the pod side takes a requested MAC in the veth's creation request itself
        host_mac, pod_mac = _random_mac(), requested_mac(conf, args)[0] or _random_mac()
        if not args.netns.startswith("/"):
            raise errors.CniError(
                errors.INVALID_ENVIRONMENT, f"CNI_NETNS: {args.netns!r} is not an absolute path"
            )
        try:
            netns_fd = os.open(args.netns, os.O_RDONLY | os.O_CLOEXEC)
        except OSError as exc:
            raise errors.CniError(
                errors.INVALID_ENVIRONMENT, f"CNI_NETNS: cannot open {args.netns}: {exc.strerror}"
            ) from None
        nl = Netlink()
        try:
            with NetNS(args.netns):
                pod = Netlink()
        except OSError as exc:
            os.close(netns_fd)
            nl.close()
            raise errors.CniError(
                errors.INVALID_ENVIRONMENT, f"CNI_NETNS: cannot enter {args.netns}: {exc.strerror}"
            ) from None
        try:
            if pod.link_index(args.ifname) is not None:
                raise errors.CniError(
                    errors.INVALID_ENVIRONMENT,
                    f"CNI_IFNAME: interface {args.ifname!r} already exists in {args.netns}",
                )
            try:
                nl.create_veth(host, host_mac, args.ifname, pod_mac, netns_fd, conf.mtu)
            except NetlinkError as exc:
                raise _setup_error(exc, f"veth {host}/{args.ifname}") from None
            def remove_veth() -> None:
                faults.point("undo-veth")
                nl.delete_link(host)

            undo.push(f"veth {host}", remove_veth)
            faults.point("after-veth")
            veth = _Veth(host, nl.link_index(host), host_mac, args.ifname,
                         pod.link_index(args.ifname), pod_mac)
            bridge_index = self._prepare(req, nl, pod, veth)  # while IPAM is still working
            # No record write for the addresses here: everything of a crashed ADD is found
            # by the host veth's name (the tunnel's set members too: DEL sweeps the sets
            # for it, GC keeps a member only while its veth exists).
            result = ipam.result(record=False)
            faults.point("after-ipam")
            return self._wire(req, nl, pod, veth, bridge_index, result, undo)
        except NetlinkError as exc:
            raise _setup_error(exc, f"mode {conf.mode}") from None
        finally:
            os.close(netns_fd)
            pod.close()

    def _prepare(self, req: Request, nl: Netlink, pod: Netlink, veth: _Veth) -> int | None:
        """The steps that need no address; the host veth stays down. Returns the bridge."""
        lo_index = pod.link_index("lo")
        if lo_index is not None:
            pod.set_link(lo_index, up=True, what="lo up")
        write_sysctl("net/ipv4/ip_forward", "1")
        if req.conf.mode == "l2bridge":
            bridge = req.conf.bridge
            nl.ensure_bridge(bridge, req.conf.mtu)  # node-wide: DEL keeps it
            bridge_index = nl.link_index(bridge)
            if bridge_index is None:
                raise errors.CniError(errors.NETWORK_SETUP_FAILED, f"bridge {bridge}: vanished")
            nl.set_link(bridge_index, up=True, what=f"{bridge} up")
            nl.set_link(veth.host_index, master=bridge_index, what=f"{veth.host} master")
            return bridge_index
        # transparent modes: everything goes to the link-local gateway = the host veth
        pod.set_link(veth.pod_index, up=True, what=f"{veth.pod} up")
        pod.add_route(LINK_LOCAL_GW, 32, oif=veth.pod_index, scope=RT_SCOPE_LINK)
        pod.add_permanent_neighbour(veth.pod_index, LINK_LOCAL_GW, veth.host_mac)
        pod.add_route("0.0.0.0", 0, gateway=LINK_LOCAL_GW, oif=veth.pod_index, onlink=True)
        write_sysctl(f"net/ipv4/conf/{veth.host}/proxy_arp", "1")
        return None

    def _wire(self, req: Request, nl: Netlink, pod: Netlink, veth: _Veth,
              bridge_index: int | None, result: dict[str, object], undo: UndoStack) -> Added:
        """Everything that needs the addresses IPAM gave (its first of each family)."""
        args, conf = req.args, req.conf
        ips: list[dict[str, object]] = result["ips"]  # type: ignore[assignment]
        first4: int | None = None
        first6: int | None = None
        for i, ip in enumerate(ips):
            if ":" not in str(ip.get("address", "")):
                first4 = i if first4 is None else first4
            elif first6 is None:
                first6 = i
        if first4 is None and first6 is None:
            raise errors.CniError(errors.INVALID_CONFIG, "ipam result ips: no address")
        v4: tuple[str, int, dict[str, object]] | None = None
        if first4 is not None:
            addr, prefix = parse_cidr(str(ips[first4]["address"]),
                                      f"ipam result ips[{first4}].address")
            v4 = (addr, prefix, ips[first4])
        v6 = None
        if first6 is not None:
            v6 = self._v6(req, ips[first6], first6)
            _node_ipv6(veth.host if bridge_index is None else conf.bridge)
        state: dict[str, object] = {"hostInterface": veth.host}
        if v4 is not None:
            state["address"] = v4[0]
        if v6 is not None:
            state["address6"] = v6.address
        if conf.mtu:
            state["mtu"] = conf.mtu
        if requested_mac(conf, args)[0]:  # only an asked-for MAC is recorded and checked:
            state["mac"] = veth.pod_mac  # a chained `tuning` may change a random one
        if bridge_index is not None:
            out_ips, routes = self._l2bridge(req, nl, pod, veth, bridge_index, v4, v6, result,
                                             state)
        else:
            out_ips, routes = self._transparent(req, nl, pod, veth, v4, v6, undo, state)
        interfaces: list[dict[str, object]] = [
            {"name": veth.host, "mac": veth.host_mac},
            {"name": args.ifname, "mac": veth.pod_mac, "sandbox": args.netns},
        ]
        if conf.mtu:  # a 1.1.0 result field; `result.render` drops it for older versions
            for interface in interfaces:
                interface["mtu"] = conf.mtu
        return Added(interfaces, [dict(ip, interface=1) for ip in out_ips], routes, state)

    @staticmethod
    def _v6(req: Request, ip: dict[str, object], index: int) -> _V6:
        """The pod's IPv6 address; its gateway where the mode routes via one (l2bridge: on
        the bridge; transparent-tunnel: the steering target), chosen by
        `vfpnet.cni.gateway` (netconf `gateway` is IPv4 only, so IPAM's or the first host)."""
        conf = req.conf
        field = f"ipam result ips[{index}]"
        addr, prefix = _cidr6(str(ip.get("address", "")), f"{field}.address")
        if conf.mtu and conf.mtu < IPV6_MIN_MTU:
            raise errors.CniError(
                errors.INVALID_CONFIG,
                f"mtu: {conf.mtu} is below {IPV6_MIN_MTU}, the IPv6 minimum, and {field} is "
                f"the IPv6 address {addr}/{prefix}",
            )
        if conf.mode == "transparent":
            return _V6(addr, prefix, "", "")
        from vfpnet.cni.gateway import choose_gateways

        try:
            (chosen,) = choose_gateways(conf.gateway if ":" in conf.gateway else "", [ip])
        except errors.CniError as exc:  # it numbered the one address it saw as ips[0]
            raise errors.CniError(exc.code, exc.msg.replace("ips[0]", f"ips[{index}]")) from None
        return _V6(addr, prefix, str(chosen.gateway), chosen.source.replace("ips[0]",
                                                                            f"ips[{index}]"))

    def _l2bridge(self, req: Request, nl: Netlink, pod: Netlink, veth: _Veth, bridge_index: int,
                  v4: tuple[str, int, dict[str, object]] | None, v6: _V6 | None,
                  result: dict[str, object], state: dict[str, object],
                  ) -> tuple[list[dict[str, object]], list[dict[str, object]]]:
        conf = req.conf
        out: list[dict[str, object]] = []
        gateway = ""
        if v4 is not None:
            addr, prefix, ip_cfg = v4
            gateway = (conf.gateway or str(ip_cfg.get("gateway") or "")
                       or first_host(addr, prefix))
            if not contains(addr, prefix, gateway) or gateway == addr:
                raise errors.CniError(
                    errors.INVALID_CONFIG,
                    f"gateway: {gateway} is not a host of the pod subnet {addr}/{prefix}",
                )
            # node side: the bridge holds the gateway address
            nl.add_address(bridge_index, gateway, prefix, what=f"gateway on {conf.bridge}")
            # pod side: on the subnet, routes via the gateway
            pod.add_address(veth.pod_index, addr, prefix, what=f"{veth.pod} address")
            out.append({"address": f"{addr}/{prefix}", "gateway": gateway})
            state["gateway"] = gateway
        elif conf.gateway:
            raise _no_family(conf.gateway)
        if v6 is not None:  # nodad: usable at once, not tentative for a second
            nl.add_address(bridge_index, v6.gateway, v6.prefix,
                           what=f"gateway on {conf.bridge}", nodad=True)
            _pod_address6(req, pod, veth, v6.address, v6.prefix)
            out.append({"address": f"{v6.address}/{v6.prefix}", "gateway": v6.gateway})
            state["gateway6"] = v6.gateway
        pod.set_link(veth.pod_index, up=True, what=f"{veth.pod} up")
        routes = self._pod_routes(pod, veth.pod_index, result, gateway,
                                  v6.gateway if v6 is not None else "")
        faults.point("after-pod-config")
        nl.set_link(veth.host_index, up=True, what=f"{veth.host} up")
        state["bridge"] = conf.bridge
        return out, routes

    def _transparent(self, req: Request, nl: Netlink, pod: Netlink, veth: _Veth,
                     v4: tuple[str, int, dict[str, object]] | None, v6: _V6 | None,
                     undo: UndoStack, state: dict[str, object],
                     ) -> tuple[list[dict[str, object]], list[dict[str, object]]]:
        conf = req.conf
        if v4 is not None:  # its routes were made by _prepare
            pod.add_address(veth.pod_index, v4[0], 32, what=f"{veth.pod} address")
        if v6 is not None:
            self._pod_side6(req, pod, veth, v6.address, ipv4=v4 is not None)
        faults.point("after-pod-config")
        if conf.mode == "transparent-tunnel":
            self._tunnel(req, nl, veth.host, v4, v6, undo, state)
            state["tunnel"] = {"mark": conf.tunnel.mark, "table": conf.tunnel.table,
                               "priority": conf.tunnel.priority}
        # node side: a route needs its link up; the pod is already steered (member above)
        nl.set_link(veth.host_index, up=True, what=f"{veth.host} up")
        out: list[dict[str, object]] = []
        routes: list[dict[str, object]] = []
        if v4 is not None:
            nl.add_route(v4[0], 32, oif=veth.host_index, scope=RT_SCOPE_LINK)
            out.append({"address": f"{v4[0]}/32", "gateway": LINK_LOCAL_GW})
            routes.append({"dst": "0.0.0.0/0", "gw": LINK_LOCAL_GW})
        if v6 is not None:
            # the pod's MAC is known: a permanent entry instead of neighbour discovery from
            # a host veth whose link-local address may still be tentative
            nl.add_permanent_neighbour(veth.host_index, v6.address, veth.pod_mac)
            nl.add_route(v6.address, 128, oif=veth.host_index)
            out.append({"address": f"{v6.address}/128", "gateway": LINK_LOCAL_GW6})
            routes.append({"dst": "::/0", "gw": LINK_LOCAL_GW6})
        faults.point("after-host-route")
        return out, routes

    @staticmethod
    def _pod_side6(req: Request, pod: Netlink, veth: _Veth, address: str, ipv4: bool) -> None:
        """The pod's IPv6 /128 and its default route via fe80::1, which a permanent
        neighbour entry maps to the host veth's MAC (IPv4's 169.254.1.1 twin)."""
        _pod_address6(req, pod, veth, address, 128)
        pod.add_permanent_neighbour(veth.pod_index, LINK_LOCAL_GW6, veth.host_mac)
        pod.add_route("::", 0, gateway=LINK_LOCAL_GW6, oif=veth.pod_index)
        if not ipv4:  # an IPv6-only pod: _prepare's IPv4 routes lead nowhere
            pod.delete_route("0.0.0.0", 0, oif=veth.pod_index)
            pod.delete_route(LINK_LOCAL_GW, 32, oif=veth.pod_index, scope=RT_SCOPE_LINK)

    def _pod_routes(self, pod: Netlink, pod_index: int, result: dict[str, object],
                    gateway: str, gateway6: str) -> list[dict[str, object]]:
        """IPAM's routes (default: a default route per family) via the bridge's gateway of
        the route's family; routes of a family the pod has no address of are skipped."""
        default: list[dict[str, object]] = [{"dst": "0.0.0.0/0"}] if gateway else []
        if gateway6:
            default.append({"dst": "::/0"})
        wanted: list[dict[str, object]] = result.get("routes") or default  # type: ignore[assignment]
        out: list[dict[str, object]] = []
        for i, route in enumerate(wanted):
            text, field = str(route.get("dst", "")), f"ipam result routes[{i}].dst"
            if ":" in text:
                if not gateway6:
                    continue
                dst, dprefix = _cidr6(text, field)
                gw = str(route.get("gw") or gateway6)
            else:
                if not gateway:
                    continue
                dst, dprefix = parse_cidr(text, field)
                gw = str(route.get("gw") or gateway)
            pod.add_route(dst, dprefix, gateway=gw, oif=pod_index)
            out.append({"dst": f"{dst}/{dprefix}", "gw": gw})
        return out

    def _tunnel(self, req: Request, nl: Netlink, host: str,
                v4: tuple[str, int, dict[str, object]] | None, v6: _V6 | None,
                undo: UndoStack, state: dict[str, object]) -> None:
        """Steer each address of the pod: its set member, with the node objects of its
        family ensured; the gateways go into `state`."""
        from vfpnet.cni.state import Store
        from vfpnet.linux import steering

        conf = req.conf
        tun = conf.tunnel
        gateway, uplink, uplink6 = "", 0, 0
        if v4 is not None:
            addr, prefix, ip_cfg = v4
            gateway = (conf.gateway or str(ip_cfg.get("gateway") or "")
                       or first_host(addr, prefix))
            if gateway in ("0.0.0.0", addr):
                raise errors.CniError(
                    errors.INVALID_CONFIG, f"gateway: {gateway} cannot be the gateway"
                )
            found = nl.route_oif(gateway)
            if found is None:
                raise errors.CniError(
                    errors.INVALID_CONFIG, f"gateway: {gateway} is not reachable from the node"
                )
            uplink = found
        elif conf.gateway:
            raise _no_family(conf.gateway)
        if v6 is not None:
            found = nl.route_oif(v6.gateway)
            if found is None:
                raise errors.CniError(
                    errors.INVALID_CONFIG,
                    f"{v6.source}: {v6.gateway} is not reachable from the node",
                )
            uplink6 = found
        with Store(conf.state_dir, conf.name).node_lock():
            if v4 is not None:
                addr = v4[0]
                try:
                    from vfpnet.linux.nfnetlink import NfNetlink

                    with NfNetlink() as nf:
                        # the node objects in place: only the member, one netlink batch
                        ready = steering.add_member_if_ready(nf, tun.mark, addr, host)
                    if ready:
                        steering.ensure_routing(nl, mark=tun.mark, table=tun.table,
                                                priority=tun.priority, gateway=gateway,
                                                uplink_index=uplink)
                    else:  # the member goes in with the node objects, in one transaction
                        steering.ensure_node(self.nft(), nl, mark=tun.mark, table=tun.table,
                                             priority=tun.priority, gateway=gateway,
                                             uplink_index=uplink, member=(addr, host))
                except OSError as exc:
                    raise _setup_error(exc, f"steering for {addr} . {host}") from None
                finally:
                    # whatever part of the transaction landed, the member is undone on failure
                    undo.push(f"steering member {addr}",
                              lambda: steering.remove_member(self.nft(), addr, host))
                try:
                    self._loosen_rp_filter(uplink, nl)
                except OSError as exc:
                    raise _setup_error(exc, "transparent-tunnel rp_filter") from None
                state["gateway"] = gateway
            if v6 is not None:
                addr6 = v6.address
                try:
                    from vfpnet.linux.nfnetlink import NfNetlink

                    with NfNetlink() as nf:
                        ready = steering.add_member_if_ready(nf, tun.mark, addr6, host)
                    if ready:
                        steering.ensure_routing(nl, mark=tun.mark, table=tun.table,
                                                priority=tun.priority, gateway=v6.gateway,
                                                uplink_index=uplink6)
                    else:
                        steering.ensure_node(self.nft(), nl, mark=tun.mark, table=tun.table,
                                             priority=tun.priority, gateway=v6.gateway,
                                             uplink_index=uplink6, member=(addr6, host))
                except OSError as exc:
                    raise _setup_error(exc, f"steering for {addr6} . {host}") from None
                finally:
                    undo.push(f"steering member {addr6}",
                              lambda: steering.remove_member(self.nft(), addr6, host))
                state["gateway6"] = v6.gateway
        faults.point("after-steering-member")

    @staticmethod
    def _loosen_rp_filter(uplink: int, nl: Netlink) -> None:
        # Packets of a local pod come back from the gateway on the uplink with a source
        # that routes to a veth; strict reverse-path filtering would drop them.
        if read_sysctl("net/ipv4/conf/all/rp_filter") == "1":
            write_sysctl("net/ipv4/conf/all/rp_filter", "2")
        name = nl.link_name(uplink)
        if name and read_sysctl(f"net/ipv4/conf/{name}/rp_filter") == "1":
            write_sysctl(f"net/ipv4/conf/{name}/rp_filter", "2")

    # -- DEL -----------------------------------------------------------------------
    def delete(self, req: Request, record: dict[str, object] | None) -> None:
        args = req.args
        state = _backend_state(record)
        host = str(state.get("hostInterface") or host_ifname(args.container_id, args.ifname))
        with Netlink() as nl:
            try:
                nl.delete_link(host)  # the pod's link first: it is gone before its steering
            except NetlinkError as exc:
                raise _setup_error(exc, f"delete veth {host}") from None
        if record is None or record.get("mode") == "transparent-tunnel":
            # Members are keyed by the host veth too, so even without a record (or with
            # one written before the addresses were known) they are found and removed.
            from vfpnet.linux import steering
            from vfpnet.linux.nfnetlink import NfNetlink, close_soon

            try:
                recorded = [(a, host) for a in _record_addresses(record)] if record else []
                # one netlink batch for the recorded members of both families; a full sweep
                # by host veth (libnftables) only when that is not the whole story (no
                # record, or one was missing)
                nf = NfNetlink()
                try:
                    gone = steering.discard_members(nf, recorded) if recorded else False
                finally:
                    # Releasing a netfilter socket after a deletion waits for the kernel to
                    # free the element (an RCU grace period, ~15 ms): not on this DEL's way
                    # (`close_soon`: a thread, or after the answer in a server's worker).
                    close_soon(nf)
                if not gone:
                    for member in steering.members(self.nft()):
                        if member[1] == host:
                            steering.remove_member(self.nft(), *member)
            except OSError as exc:
                raise _setup_error(exc, f"remove steering members of {host}") from None

    # -- CHECK ---------------------------------------------------------------------
    def check(self, req: Request, record: dict[str, object]) -> None:
        args = req.args
        state = _backend_state(record)
        host = str(state.get("hostInterface") or host_ifname(args.container_id, args.ifname))
        mode = record.get("mode")
        problems: list[str] = []
        addresses = _record_addresses(record)
        families = [AF_INET6 if ":" in a else AF_INET for a in addresses]
        mtu = state.get("mtu")
        with Netlink() as nl:
            link = nl.link(host)
            if link is None:
                raise _drift(f"host interface {host} is missing")
            host_index, flags, _ = link
            if not flags & 1:
                problems.append(f"host interface {host} is down")
            problems += _mtu_drift(host, link[2], mtu)
            if mode == "l2bridge":
                bridge = nl.link(str(state.get("bridge")))
                from vfpnet.linux.netlink import IFLA_MASTER

                master = link[2].get(IFLA_MASTER)
                if bridge is None:
                    problems.append(f"bridge {state.get('bridge')} is missing")
                elif master is None or int.from_bytes(master, "little") != bridge[0]:
                    problems.append(f"{host} is not attached to bridge {state.get('bridge')}")
            else:
                routes = {af: nl.routes(family=af) for af in set(families)}
                for address, af in zip(addresses, families, strict=True):
                    width = 128 if af == AF_INET6 else 32
                    if not any(r["dst"] == address and r["prefix"] == width
                               and r["oif"] == host_index for r in routes[af]):
                        problems.append(f"host route {address}/{width} dev {host} is missing")
            if mode == "transparent-tunnel":
                from vfpnet.linux import steering

                tun = state.get("tunnel") or {}
                assert isinstance(tun, dict)
                kinds = tuple(sorted({steering.nft_family(a) for a in addresses})) or ("ip",)
                members = steering.members(self.nft(), kinds)
                for address in addresses:
                    if (address, host) not in members:
                        problems.append(f"steering set member {address} . {host} is missing")
                for kind in kinds:
                    problems += steering.node_ready(self.nft(), nl, mark=int(tun.get("mark", 0)),
                                                    table=int(tun.get("table", 0)),
                                                    priority=int(tun.get("priority", 0)),
                                                    family=kind)
        try:
            with NetNS(args.netns):
                pod = Netlink()
        except OSError as exc:
            raise _drift(f"CNI_NETNS {args.netns} cannot be entered: {exc.strerror}") from None
        with pod:
            pod_link = pod.link(args.ifname)
            if pod_link is None:
                problems.append(f"interface {args.ifname} in {args.netns} is missing")
            else:
                problems += _mtu_drift(args.ifname, pod_link[2], mtu)
                problems += _mac_drift(args.ifname, pod_link[2], state.get("mac"))
                for af in sorted(set(families)) or [AF_INET]:
                    have = {a for a, _ in pod.addresses(pod_link[0], af)}
                    for address, family in zip(addresses, families, strict=True):
                        if family == af and address not in have:
                            problems.append(f"address {address} on {args.ifname} is missing")
                    if not any(r["prefix"] == 0 for r in pod.routes(family=af)):
                        label = "IPv6 " if af == AF_INET6 else ""
                        problems.append(f"{label}default route in {args.netns} is missing")
        if problems:
            raise _drift("; ".join(problems))

    # -- GC / STATUS ---------------------------------------------------------------
    def gc(self, conf: NetConf, live: list[dict[str, object]]) -> list[str]:
        """Remove steering members left behind (e.g. by a crash): those no live record owns
        and whose host veth is gone. The set is node-wide: a member whose veth exists
        belongs to a network whose records are elsewhere (another stateDir) or to an ADD in
        flight, and removing it would let that pod bypass the gateway."""
        from vfpnet.linux import steering

        owned = set()
        for record in live:
            host = str(_backend_state(record).get("hostInterface") or host_ifname(
                str(record.get("containerID")), str(record.get("ifname"))))
            owned |= {(a, host) for a in _record_addresses(record)}
        problems = []
        try:
            with Netlink() as nl:
                for member in steering.members(self.nft()):
                    if member not in owned and nl.link_index(member[1]) is None:
                        steering.remove_member(self.nft(), *member)
        except OSError as exc:
            problems.append(f"steering set: {exc}")
        return problems

    def status(self, conf: NetConf) -> None:
        if not os.path.exists("/proc/sys/net/ipv4/ip_forward"):
            raise errors.CniError(errors.NOT_AVAILABLE, "linux backend: no IPv4 networking here")
        if conf.mode == "transparent-tunnel":
            try:
                self.nft()
            except OSError as exc:
                raise errors.CniError(
                    errors.NOT_AVAILABLE, f"linux backend: libnftables unavailable: {exc}"
                ) from None


def _drift(msg: str) -> errors.CniError:
    return errors.CniError(errors.CHECK_DRIFT, f"CHECK: {msg}")


def _backend_state(record: dict[str, object] | None) -> dict[str, object]:
    state = (record or {}).get("backend_state") or {}
    return state if isinstance(state, dict) else {}


def _record_addresses(record: dict[str, object]) -> list[str]:
    ips = record.get("ips") or []
    return [str(ip).split("/")[0] for ip in ips]  # type: ignore[attr-defined]


def _mac_drift(name: str, attrs: dict[int, bytes], mac: object) -> list[str]:
    """The pod link's MAC against the one ADD was asked for (none asked: nothing to check)."""
    from vfpnet.linux.netlink import IFLA_ADDRESS

    if not isinstance(mac, str) or not mac or IFLA_ADDRESS not in attrs:
        return []
    have = mac_text(attrs[IFLA_ADDRESS])
    return [] if have == mac else [f"MAC of {name} is {have}, not {mac}"]


def _mtu_drift(name: str, attrs: dict[int, bytes], mtu: object) -> list[str]:
    """The link's MTU against the recorded one (none recorded: nothing to check)."""
    if not isinstance(mtu, int) or IFLA_MTU not in attrs:
        return []
    have = int.from_bytes(attrs[IFLA_MTU][:4], "little")
    return [] if have == mtu else [f"MTU of {name} is {have}, not {mtu}"]
