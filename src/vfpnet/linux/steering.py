"""transparent-tunnel steering on a Linux node: mark local pods' traffic, route it to the gateway.

Node-wide objects (created idempotently, shared by every pod, never removed by a pod's
DEL):
- nftables table `ip vfpnet_tunnel` with set `pods` (`ipv4_addr . ifname`) and a
  prerouting chain at mangle priority that ORs the tunnel mark into packets whose
  (source address, input interface) is a member: only traffic a pod sends from its own
  veth, never the same packet coming back from the gateway on the uplink;
- policy rule `fwmark MARK/MARK lookup TABLE` and in TABLE `default via GATEWAY`.
Per pod: one set member `ADDRESS . HOST_VETH`.

No NAT happens on the way through the gateway and back, so both passes of a same-node
packet map to one conntrack entry in the same direction (no hairpin tuple clash).
"""

from __future__ import annotations

from vfpnet.linux.netlink import Netlink, NetlinkError
from vfpnet.linux.nftables import Nft, NftError

TABLE = "vfpnet_tunnel"
SET = "pods"
CHAIN = "steer"


def _table_ref() -> dict[str, object]:
    return {"family": "ip", "table": TABLE, "name": SET}


def ensure_node(nft: Nft, nl: Netlink, *, mark: int, table: int, priority: int,
                gateway: str, uplink_index: int, member: tuple[str, str] | None = None) -> None:
    """Create (or converge) the node-wide objects, and add `member` in the same nftables
    transaction (one ruleset round trip instead of two); call under the node lock."""
    nft.run(node_commands(mark) + ([_element("add", *member)] if member else []))
    nl.add_fwmark_rule(mark, mark, table, priority)
    nl.add_route("0.0.0.0", 0, gateway=gateway, oif=uplink_index, table=table)


def node_commands(mark: int) -> list[dict[str, object]]:
    return [
        {"add": {"table": {"family": "ip", "name": TABLE}}},
        {"add": {"set": {"family": "ip", "table": TABLE, "name": SET,
                         "type": ["ipv4_addr", "ifname"]}}},
        {"add": {"chain": {"family": "ip", "table": TABLE, "name": CHAIN, "type": "filter",
                           "hook": "prerouting", "prio": -150, "policy": "accept"}}},
        # flush + add in one transaction: exactly one rule, never a moment without it
        {"flush": {"chain": {"family": "ip", "table": TABLE, "name": CHAIN}}},
        {"add": {"rule": {"family": "ip", "table": TABLE, "chain": CHAIN, "expr": [
            {"match": {"op": "==", "left": {"concat": [
                {"payload": {"protocol": "ip", "field": "saddr"}}, {"meta": {"key": "iifname"}},
            ]}, "right": f"@{SET}"}},
            {"mangle": {"key": {"meta": {"key": "mark"}},
                        "value": {"|": [{"meta": {"key": "mark"}}, mark]}}},
        ]}}},
    ]


def _element(verb: str, address: str, host_ifname: str) -> dict[str, object]:
    return {verb: {"element": {**_table_ref(), "elem": [{"concat": [address, host_ifname]}]}}}


def add_member(nft: Nft, address: str, host_ifname: str) -> None:
    nft.run([_element("add", address, host_ifname)])


def remove_member(nft: Nft, address: str, host_ifname: str) -> bool:
    """Remove one member; False when it (or the whole table) was not there."""
    return remove_members(nft, [(address, host_ifname)])


def remove_members(nft: Nft, members: list[tuple[str, str]]) -> bool:
    """Remove members in one transaction; False (nothing removed) when one was not there."""
    if not members:
        return True
    try:
        nft.run([_element("delete", *m) for m in members])
    except NftError as exc:
        if "No such file or directory" in str(exc) or "does not exist" in str(exc):
            return False
        raise
    return True


def members(nft: Nft) -> list[tuple[str, str]]:
    try:
        out = nft.run([{"list": {"set": {"family": "ip", "table": TABLE, "name": SET}}}])
    except NftError:
        return []
    found: list[tuple[str, str]] = []
    for item in (out or {}).get("nftables", []):
        for elem in item.get("set", {}).get("elem", []):
            parts = elem.get("concat") if isinstance(elem, dict) else None
            if parts and len(parts) == 2:
                found.append((str(parts[0]), str(parts[1])))
    return found


def node_ready(nft: Nft, nl: Netlink, *, mark: int, table: int, priority: int) -> list[str]:
    """What is missing of the node-wide objects (empty when all is in place)."""
    missing = []
    try:
        out = nft.run([{"list": {"chain": {"family": "ip", "table": TABLE, "name": CHAIN}}}])
        rules = [i for i in (out or {}).get("nftables", []) if "rule" in i]
        if not rules:
            missing.append(f"nftables rule in ip {TABLE} {CHAIN}")
    except NftError:
        missing.append(f"nftables chain ip {TABLE} {CHAIN}")
    try:
        if (mark, mark, table, priority) not in nl.fwmark_rules():
            missing.append(f"policy rule fwmark {mark:#x} lookup {table}")
        if not any(r["prefix"] == 0 for r in nl.routes(table)):
            missing.append(f"default route in table {table}")
    except NetlinkError as exc:
        missing.append(str(exc))
    return missing
