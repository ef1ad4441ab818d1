"""transparent-tunnel steering on a Linux node: mark local pods' traffic, route it to the gateway.

Node-wide objects (created idempotently, shared by every pod, never removed by a pod's
DEL):
- nftables table `ip vfpnet_tunnel` with set `pods` (`ipv4_addr . ifname`) and a
  prerouting chain at mangle priority that ORs the tunnel mark into packets whose
  (source address, input interface) is a member: only traffic a pod sends from its own
  veth, never the same packet coming back from the gateway on the uplink;
- policy rule `fwmark MARK/MARK lookup TABLE` and in TABLE `default via GATEWAY`.
Per pod: one set member `ADDRESS . HOST_VETH`.

IPv6 (a pod's IPv6 address) has the same objects in its own family: table `ip6
vfpnet_tunnel` with set `pods` (`ipv6_addr . ifname`) and chain `steer`, an IPv6 rule
`fwmark MARK/MARK lookup TABLE` and `default via GATEWAY6` in the IPv6 side of TABLE (the
same mark and table number: the families' rules and routes are separate in the kernel).
Every function here takes the family from the address it is given (a ':' means IPv6).
Both families' members go over the raw netlink fast path below.

A pod's ADD and DEL touch the set over raw netlink (`vfpnet.linux.nfnetlink`) when the node
objects are in place, which the rule's comment (naming the mark) shows; only the first ADD
on a node, or one that finds them changed, loads libnftables to (re)create them.

No NAT happens on the way through the gateway and back, so both passes of a same-node
packet map to one conntrack entry in the same direction (no hairpin tuple clash).
"""

from __future__ import annotations

from vfpnet.linux.netlink import AF_INET, AF_INET6, Netlink, NetlinkError
from vfpnet.linux.nfnetlink import (
    NFPROTO_IPV4,
    NFPROTO_IPV6,
    NfNetlink,
    NfNetlinkError,
    addr_ifname_key,
)

TYPE_CHECKING = False
if TYPE_CHECKING:  # libnftables is loaded (ctypes) only when the slow path needs it
    from vfpnet.linux.nftables import Nft

ENOENT = 2

TABLE = "vfpnet_tunnel"
SET = "pods"
CHAIN = "steer"
FAMILIES = ("ip", "ip6")


def nft_family(address: str) -> str:
    """The nftables family of an address: 'ip6' for IPv6, else 'ip'."""
    return "ip6" if ":" in address else "ip"


def _table_ref(family: str = "ip") -> dict[str, object]:
    return {"family": family, "table": TABLE, "name": SET}


def ensure_node(nft: Nft, nl: Netlink, *, mark: int, table: int, priority: int,
                gateway: str, uplink_index: int, member: tuple[str, str] | None = None) -> None:
    """Create (or converge) the node-wide objects of `gateway`'s family, and add `member`
    in the same nftables transaction (one ruleset round trip instead of two); call under
    the node lock."""
    family = nft_family(gateway)
    nft.run(node_commands(mark, family) + ([_element("add", *member)] if member else []))
    ensure_routing(nl, mark=mark, table=table, priority=priority, gateway=gateway,
                   uplink_index=uplink_index)


def ensure_routing(nl: Netlink, *, mark: int, table: int, priority: int, gateway: str,
                   uplink_index: int) -> None:
    """The policy rule and the tunnel table's default route of `gateway`'s family
    (idempotent)."""
    if ":" in gateway:
        nl.add_fwmark_rule(mark, mark, table, priority, AF_INET6)
        nl.add_route("::", 0, gateway=gateway, oif=uplink_index, table=table)
        return
    nl.add_fwmark_rule(mark, mark, table, priority)
    nl.add_route("0.0.0.0", 0, gateway=gateway, oif=uplink_index, table=table)


def rule_comment(mark: int) -> str:
    return f"vfpnet steering mark {mark:#x}"


def add_member_if_ready(nf: NfNetlink, mark: int, address: str, host_ifname: str) -> bool:
    """Add the member over netlink when the chain holds exactly the steering rule for
    `mark` (its comment says so); False, with nothing changed, when the node objects are
    missing or different: then `ensure_node` (libnftables) must (re)create them."""
    try:
        rules = nf.rule_userdata(TABLE, CHAIN, NFPROTO_IPV6 if ":" in address else NFPROTO_IPV4)
    except NfNetlinkError:
        return False
    if len(rules) != 1 or (rule_comment(mark) + "\0").encode() not in rules[0]:
        return False
    try:
        nf.add_elements(TABLE, SET, [addr_ifname_key(address, host_ifname)])
    except NfNetlinkError as exc:
        if exc.errno == ENOENT:  # the set went away since the listing
            return False
        raise
    return True


def discard_members(nf: NfNetlink, members: list[tuple[str, str]]) -> bool:
    """`remove_members` over netlink: one batch, all or nothing; False when one of them
    (or the set) was not there."""
    if not members:
        return True
    try:
        nf.delete_elements(TABLE, SET, [addr_ifname_key(*m) for m in members])
    except NfNetlinkError as exc:
        if exc.errno == ENOENT:
            return False
        raise
    return True


def node_commands(mark: int, family: str = "ip") -> list[dict[str, object]]:
    """The table, set, chain and rule of one family ('ip' or 'ip6')."""
    addr_type = "ipv6_addr" if family == "ip6" else "ipv4_addr"
    return [
        {"add": {"table": {"family": family, "name": TABLE}}},
        {"add": {"set": {"family": family, "table": TABLE, "name": SET,
                         "type": [addr_type, "ifname"]}}},
        {"add": {"chain": {"family": family, "table": TABLE, "name": CHAIN, "type": "filter",
                           "hook": "prerouting", "prio": -150, "policy": "accept"}}},
        # flush + add in one transaction: exactly one rule, never a moment without it
        {"flush": {"chain": {"family": family, "table": TABLE, "name": CHAIN}}},
        {"add": {"rule": {"family": family, "table": TABLE, "chain": CHAIN,
                          "comment": rule_comment(mark), "expr": [
            {"match": {"op": "==", "left": {"concat": [
                {"payload": {"protocol": family, "field": "saddr"}},
                {"meta": {"key": "iifname"}},
            ]}, "right": f"@{SET}"}},
            {"mangle": {"key": {"meta": {"key": "mark"}},
                        "value": {"|": [{"meta": {"key": "mark"}}, mark]}}},
        ]}}},
    ]


def _element(verb: str, address: str, host_ifname: str) -> dict[str, object]:
    return {verb: {"element": {**_table_ref(nft_family(address)),
                               "elem": [{"concat": [address, host_ifname]}]}}}


def add_member(nft: Nft, address: str, host_ifname: str) -> None:
    nft.run([_element("add", address, host_ifname)])


def remove_member(nft: Nft, address: str, host_ifname: str) -> bool:
    """Remove one member; False when it (or the whole table) was not there."""
    return remove_members(nft, [(address, host_ifname)])


def remove_members(nft: Nft, members: list[tuple[str, str]]) -> bool:
    """Remove members (of either family) in one transaction; False (nothing removed) when
    one was not there."""
    if not members:
        return True
    from vfpnet.linux.nftables import NftError

    try:
        nft.run([_element("delete", *m) for m in members])
    except NftError as exc:
        if "No such file or directory" in str(exc) or "does not exist" in str(exc):
            return False
        raise
    return True


def members(nft: Nft, families: tuple[str, ...] = FAMILIES) -> list[tuple[str, str]]:
    """Every member of the sets of `families` (a missing table has none)."""
    from vfpnet.linux.nftables import NftError

    found: list[tuple[str, str]] = []
    for family in families:
        try:
            out = nft.run([{"list": {"set": _table_ref(family)}}])
        except NftError:
            continue
        for item in (out or {}).get("nftables", []):
            for elem in item.get("set", {}).get("elem", []):
                parts = elem.get("concat") if isinstance(elem, dict) else None
                if parts and len(parts) == 2:
                    found.append((str(parts[0]), str(parts[1])))
    return found


def node_ready(nft: Nft, nl: Netlink, *, mark: int, table: int, priority: int,
               family: str = "ip") -> list[str]:
    """What is missing of the node-wide objects of one family (empty when all is there)."""
    from vfpnet.linux.nftables import NftError

    missing = []
    try:
        out = nft.run([{"list": {"chain": {"family": family, "table": TABLE, "name": CHAIN}}}])
        rules = [i for i in (out or {}).get("nftables", []) if "rule" in i]
        if not rules:
            missing.append(f"nftables rule in {family} {TABLE} {CHAIN}")
    except NftError:
        missing.append(f"nftables chain {family} {TABLE} {CHAIN}")
    af, label = (AF_INET6, "IPv6 ") if family == "ip6" else (AF_INET, "")
    try:
        if (mark, mark, table, priority) not in nl.fwmark_rules(af):
            missing.append(f"{label}policy rule fwmark {mark:#x} lookup {table}")
        if not any(r["prefix"] == 0 for r in nl.routes(table, af)):
            missing.append(f"{label}default route in table {table}")
    except NetlinkError as exc:
        missing.append(str(exc))
    return missing
