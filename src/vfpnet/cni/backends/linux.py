"""The Linux backend: a veth per pod, wired in one of three modes (netlink + nftables).

- l2bridge: host veth enslaved to a Linux bridge that holds the gateway address; the pod
  sits on the subnet with a default route via that gateway.
- transparent: the pod has its address as /32 and a default route via 169.254.1.1 on its
  veth (a permanent neighbour entry points it at the host veth's MAC, and the host veth
  answers ARP by proxy); the node routes the /32 to the host veth.
- transparent-tunnel: transparent, plus the pod becomes a member of the steering set so
  all its traffic is marked and policy-routed to the gateway (`vfpnet.linux.steering`),
  even to pods on the same node.

ADD order keeps the pod unreachable until it is fully steered: the host veth comes up
only after the steering set member exists (and the /32 host route right after it).
DEL removes the veth first (the pod is gone), then the set member.
"""

from __future__ import annotations

import os

from vfpnet.cni import errors, faults
from vfpnet.cni.addressing import contains, first_host, parse_cidr
from vfpnet.cni.attachment import Added, Request
from vfpnet.linux.netlink import RT_SCOPE_LINK, Netlink, NetlinkError, mac_text
from vfpnet.linux.netns import NetNS, write_sysctl

TYPE_CHECKING = False
if TYPE_CHECKING:
    from vfpnet.cni.backend import IpamSource
    from vfpnet.cni.netconf import NetConf
    from vfpnet.cni.undo import UndoStack
    from vfpnet.linux.nftables import Nft

LINK_LOCAL_GW = "169.254.1.1"
HOST_PREFIX = "vfp"


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
        host_mac, pod_mac = _random_mac(), _random_mac()
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
                nl.create_veth(host, host_mac, args.ifname, pod_mac, netns_fd)
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
            result = ipam.result()
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
            nl.ensure_bridge(bridge)  # node-wide: DEL keeps it
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
        """Everything that needs the address IPAM gave."""
        args = req.args
        ips: list[dict[str, object]] = result["ips"]  # type: ignore[assignment]
        v6 = [str(ip["address"]) for ip in ips if ":" in str(ip["address"])]
        if v6:  # refused, not half-configured: the address would be held but never used
            raise errors.CniError(
                errors.INVALID_CONFIG,
                f"ipam: IPv6 address {v6[0]} in the IPAM result; the linux backend is IPv4 only",
            )
        addr, prefix = parse_cidr(str(ips[0]["address"]), "ipam result ips[0].address")
        state: dict[str, object] = {"hostInterface": veth.host, "address": addr}
        if bridge_index is not None:
            ip, routes = self._l2bridge(req, nl, pod, veth, bridge_index, addr, prefix, ips[0],
                                        result, state)
        else:
            ip, routes = self._transparent(req, nl, pod, veth, addr, prefix, ips[0], undo, state)
        interfaces: list[dict[str, object]] = [
            {"name": veth.host, "mac": veth.host_mac},
            {"name": args.ifname, "mac": veth.pod_mac, "sandbox": args.netns},
        ]
        return Added(interfaces, [dict(ip, interface=1)], routes, state)

    def _l2bridge(self, req: Request, nl: Netlink, pod: Netlink, veth: _Veth, bridge_index: int,
                  addr: str, prefix: int, ip_cfg: dict[str, object], result: dict[str, object],
                  state: dict[str, object]) -> tuple[dict[str, object], list[dict[str, object]]]:
        conf = req.conf
        gateway = conf.gateway or str(ip_cfg.get("gateway") or "") or first_host(addr, prefix)
        if not contains(addr, prefix, gateway) or gateway == addr:
            raise errors.CniError(
                errors.INVALID_CONFIG,
                f"gateway: {gateway} is not a host of the pod subnet {addr}/{prefix}",
            )
        # node side: the bridge holds the gateway address
        nl.add_address(bridge_index, gateway, prefix, what=f"gateway on {conf.bridge}")
        # pod side: on the subnet, routes via the gateway
        pod.add_address(veth.pod_index, addr, prefix, what=f"{veth.pod} address")
        pod.set_link(veth.pod_index, up=True, what=f"{veth.pod} up")
        routes = self._pod_routes(pod, veth.pod_index, result, gateway)
        faults.point("after-pod-config")
        nl.set_link(veth.host_index, up=True, what=f"{veth.host} up")
        state.update({"bridge": conf.bridge, "gateway": gateway})
        return {"address": f"{addr}/{prefix}", "gateway": gateway}, routes

    def _transparent(self, req: Request, nl: Netlink, pod: Netlink, veth: _Veth, addr: str,
                     prefix: int, ip_cfg: dict[str, object], undo: UndoStack,
                     state: dict[str, object]) -> tuple[dict[str, object],
                                                        list[dict[str, object]]]:
        conf = req.conf
        pod.add_address(veth.pod_index, addr, 32, what=f"{veth.pod} address")  # routes: _prepare
        faults.point("after-pod-config")
        if conf.mode == "transparent-tunnel":
            state["gateway"] = self._tunnel(req, nl, veth.host, addr, prefix, ip_cfg, undo)
            state["tunnel"] = {"mark": conf.tunnel.mark, "table": conf.tunnel.table,
                               "priority": conf.tunnel.priority}
        # node side: a route needs its link up; the pod is already steered (member above)
        nl.set_link(veth.host_index, up=True, what=f"{veth.host} up")
        nl.add_route(addr, 32, oif=veth.host_index, scope=RT_SCOPE_LINK)
        faults.point("after-host-route")
        return ({"address": f"{addr}/32", "gateway": LINK_LOCAL_GW},
                [{"dst": "0.0.0.0/0", "gw": LINK_LOCAL_GW}])

    def _pod_routes(self, pod: Netlink, pod_index: int, result: dict[str, object],
                    gateway: str) -> list[dict[str, object]]:
        wanted: list[dict[str, object]] = result.get("routes") or [  # type: ignore[assignment]
            {"dst": "0.0.0.0/0"}
        ]
        out: list[dict[str, object]] = []
        for i, route in enumerate(wanted):
            dst, dprefix = parse_cidr(str(route.get("dst", "")), f"ipam result routes[{i}].dst")
            if ":" in dst:
                continue
            gw = str(route.get("gw") or gateway)
            pod.add_route(dst, dprefix, gateway=gw, oif=pod_index)
            out.append({"dst": f"{dst}/{dprefix}", "gw": gw})
        return out

    def _tunnel(self, req: Request, nl: Netlink, host: str, addr: str, prefix: int,
                ip_cfg: dict[str, object], undo: UndoStack) -> str:
        from vfpnet.cni.state import Store
        from vfpnet.linux import steering

        conf = req.conf
        gateway = conf.gateway or str(ip_cfg.get("gateway") or "") or first_host(addr, prefix)
        if gateway in ("0.0.0.0", addr):
            raise errors.CniError(
                errors.INVALID_CONFIG, f"gateway: {gateway} cannot be the gateway"
            )
        uplink = nl.route_oif(gateway)
        if uplink is None:
            raise errors.CniError(
                errors.INVALID_CONFIG, f"gateway: {gateway} is not reachable from the node"
            )
        nft = self.nft()
        tun = conf.tunnel
        with Store(conf.state_dir, conf.name).node_lock():
            try:
                # the pod's member goes in with the node objects, in one transaction
                steering.ensure_node(nft, nl, mark=tun.mark, table=tun.table,
                                     priority=tun.priority, gateway=gateway, uplink_index=uplink,
                                     member=(addr, host))
            except OSError as exc:
                raise _setup_error(exc, f"steering for {addr} . {host}") from None
            finally:
                # whatever part of the transaction landed, the member is undone on failure
                undo.push(f"steering member {addr}",
                          lambda: steering.remove_member(nft, addr, host))
            try:
                self._loosen_rp_filter(uplink, nl)
            except OSError as exc:
                raise _setup_error(exc, "transparent-tunnel rp_filter") from None
        faults.point("after-steering-member")
        return gateway

    @staticmethod
    def _loosen_rp_filter(uplink: int, nl: Netlink) -> None:
        # Packets of a local pod come back from the gateway on the uplink with a source
        # that routes to a veth; strict reverse-path filtering would drop them.
        from vfpnet.linux.netns import read_sysctl

        if read_sysctl("net/ipv4/conf/all/rp_filter") == "1":
            write_sysctl("net/ipv4/conf/all/rp_filter", "2")
        name = _link_name(nl, uplink)
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

            try:
                recorded = [(a, host) for a in _record_addresses(record)] if record else []
                # one transaction for the recorded members; a full sweep by host veth
                # only when that is not the whole story (no record, or one was missing)
                if not recorded or not steering.remove_members(self.nft(), recorded):
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
        with Netlink() as nl:
            link = nl.link(host)
            if link is None:
                raise _drift(f"host interface {host} is missing")
            host_index, flags, _ = link
            if not flags & 1:
                problems.append(f"host interface {host} is down")
            addresses = _record_addresses(record)
            if mode == "l2bridge":
                bridge = nl.link(str(state.get("bridge")))
                from vfpnet.linux.netlink import IFLA_MASTER

                master = link[2].get(IFLA_MASTER)
                if bridge is None:
                    problems.append(f"bridge {state.get('bridge')} is missing")
                elif master is None or int.from_bytes(master, "little") != bridge[0]:
                    problems.append(f"{host} is not attached to bridge {state.get('bridge')}")
            else:
                routes = nl.routes()
                for address in addresses:
                    if not any(r["dst"] == address and r["prefix"] == 32 and r["oif"] == host_index
                               for r in routes):
                        problems.append(f"host route {address}/32 dev {host} is missing")
            if mode == "transparent-tunnel":
                from vfpnet.linux import steering

                tun = state.get("tunnel") or {}
                assert isinstance(tun, dict)
                members = steering.members(self.nft())
                for address in addresses:
                    if (address, host) not in members:
                        problems.append(f"steering set member {address} . {host} is missing")
                problems += steering.node_ready(self.nft(), nl, mark=int(tun.get("mark", 0)),
                                                table=int(tun.get("table", 0)),
                                                priority=int(tun.get("priority", 0)))
        try:
            with NetNS(args.netns):
                pod = Netlink()
        except OSError as exc:
            raise _drift(f"CNI_NETNS {args.netns} cannot be entered: {exc.strerror}") from None
        with pod:
            pod_index = pod.link_index(args.ifname)
            if pod_index is None:
                problems.append(f"interface {args.ifname} in {args.netns} is missing")
            else:
                have = {a for a, _ in pod.addresses(pod_index)}
                for address in addresses:
                    if address not in have:
                        problems.append(f"address {address} on {args.ifname} is missing")
                if not any(r["prefix"] == 0 for r in pod.routes()):
                    problems.append(f"default route in {args.netns} is missing")
        if problems:
            raise _drift("; ".join(problems))

    # -- GC / STATUS ---------------------------------------------------------------
    def gc(self, conf: NetConf, live: list[dict[str, object]]) -> list[str]:
        """Remove steering members that no live record owns (e.g. after a crash)."""
        from vfpnet.linux import steering

        owned = set()
        for record in live:
            host = str(_backend_state(record).get("hostInterface") or host_ifname(
                str(record.get("containerID")), str(record.get("ifname"))))
            owned |= {(a, host) for a in _record_addresses(record)}
        problems = []
        try:
            for member in steering.members(self.nft()):
                if member not in owned:
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
    return [str(ip).split("/")[0] for ip in ips if ":" not in str(ip)]  # type: ignore[attr-defined]


def _link_name(nl: Netlink, index: int) -> str | None:
    from vfpnet.linux.netlink import _IFINFO, IFLA_IFNAME, NLM_F_DUMP, RTM_GETLINK, parse_attrs

    for reply in nl.request(RTM_GETLINK, NLM_F_DUMP, _IFINFO.pack(0, 0, 0, 0, 0), "list links"):
        if _IFINFO.unpack_from(reply)[2] == index:
            name = parse_attrs(reply, _IFINFO.size).get(IFLA_IFNAME, b"")
            return name.rstrip(b"\0").decode()
    return None
