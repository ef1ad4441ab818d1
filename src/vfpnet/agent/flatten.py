"""The IR of one endpoint and direction as a flat, first-match list of address rules.

Dataplanes match addresses, not endpoint keys, and neither nftables verdict order nor
HNS ACL priorities have the IR's PASS ("skip the rest of this stage"). `flatten` takes
`policy.flatten.flatten` (PASS expanded at the IR level, on peer sets: each PASS replaced
by the later stages restricted to its match, the default last) and resolves it into
`AddressRule`s that any first-match dataplane renders one to one:

- peers become an `AddressSet`: every IP of each peer endpoint, and each CIDR minus its
  excepts as exact prefixes (an except rendered as a Block above its Allow would also
  shadow a later rule that allows the excepted range, so the subtraction is done here);
- rules whose peers resolve to no address (endpoints without IPs) or with no ports are
  dropped;
- the list always ends with a rule matching everything (the default, allow, unless a rule
  matching everything decides first), so a renderer never needs a default of its own;
  rules after one that covers everything are dropped.

Restricting on peer sets rather than addresses is exact: the compiler lists every endpoint
with an address in a CIDR among the peer's endpoints, so an endpoint's IPs and a CIDR's
addresses never need intersecting here.

`ports=None` means every protocol (the IR's ALL_PORTS: a rule with no ports); a `PortSet`
means those TCP/UDP/SCTP ports only.
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from vfpnet.policy import flatten as ir_flatten
from vfpnet.policy.ir import Action, CidrBlock, EndpointKey, EndpointRules, PeerSet, Rule
from vfpnet.policy.portset import PortSet

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True, eq=False)
class AddressSet:
    """`any_address`, or exactly the addresses of `networks` (collapsed, sorted, v4 first)."""

    any_address: bool = False
    networks: tuple[Network, ...] = ()

    # Hashed and compared often (memo keys, desired-state diffs) and big (every pod IP of
    # a selector), so the hash is computed once.
    def __hash__(self) -> int:
        cached: int | None = self.__dict__.get("_hash")
        if cached is None:
            cached = hash((self.any_address, self.networks))
            object.__setattr__(self, "_hash", cached)
        return cached

    def __eq__(self, other: object) -> bool:
        if self is other:
            return True
        if not isinstance(other, AddressSet) or hash(self) != hash(other):
            return False
        return self.any_address == other.any_address and self.networks == other.networks

    @staticmethod
    def of(networks: Iterable[Network]) -> AddressSet:
        """Normalized: sorted, without duplicates or members inside a wider member.
        Single addresses are kept as they are (never merged into prefixes: a set of
        pod IPs stays a set of addresses)."""
        given = list(networks)
        out: list[Network] = []
        for version in (4, 6):
            hosts = {n for n in given if n.version == version and n.num_addresses == 1}
            wide = list(ipaddress.collapse_addresses(  # type: ignore[type-var]
                n for n in given if n.version == version and n.num_addresses > 1
            ))
            if wide:
                hosts = {
                    h for h in hosts
                    if not any(h.subnet_of(w) for w in wide)  # type: ignore[arg-type]
                }
            out.extend(sorted([*hosts, *wide]))
        return AddressSet(networks=tuple(out))

    def is_empty(self) -> bool:
        return not self.any_address and not self.networks

    def hosts_only(self) -> bool:
        """True when every network is a single address (a hash set suffices)."""
        return all(n.num_addresses == 1 for n in self.networks)


ANY_ADDRESS = AddressSet(any_address=True)


@dataclass(frozen=True)
class AddressRule:
    """Match `remote` (the source for ingress, the destination for egress) and `ports`,
    then `action` (ALLOW or DENY). `origin` says which policy rule it comes from."""

    action: Action
    remote: AddressSet
    ports: PortSet | None
    origin: str


def cidr_networks(block: CidrBlock) -> list[Network]:
    """`block.cidr` minus its excepts, as exact prefixes."""
    pieces: list[Network] = [ipaddress.ip_network(block.cidr, strict=False)]
    for text in block.excepts:
        cut = ipaddress.ip_network(text, strict=False)
        next_pieces: list[Network] = []
        for piece in pieces:
            if piece.version != cut.version or not piece.overlaps(cut):
                next_pieces.append(piece)
            elif piece.subnet_of(cut):  # type: ignore[arg-type]
                continue
            else:
                next_pieces.extend(piece.address_exclude(cut))  # type: ignore[arg-type]
        pieces = next_pieces
    return pieces


@functools.lru_cache(maxsize=65536)
def host_network(ip: str) -> Network:
    return ipaddress.ip_network(ip)


def peer_addresses(peers: PeerSet, ips: Callable[[EndpointKey], Sequence[str]]) -> AddressSet:
    if peers.any_peer:
        return ANY_ADDRESS
    networks: list[Network] = []
    for key in peers.endpoints:
        networks.extend(host_network(ip) for ip in ips(key))
    for block in peers.cidrs:
        networks.extend(cidr_networks(block))
    return AddressSet.of(networks)


def origin_of(rule: Rule) -> str:
    p = rule.provenance
    if p.policy is None:
        return f"{p.tier} isolation" if rule.action is Action.DENY else p.tier
    name = f" {p.rule_name!r}" if p.rule_name else ""
    return f"{p.kind} {p.policy} rule {p.rule}{name}"


class PeerAddresses:
    """Peer sets resolved to addresses, memoized: many endpoints share the same peers.
    Valid for one mapping of endpoint keys to IPs (make a new one when IPs change)."""

    def __init__(self, ips: Callable[[EndpointKey], Sequence[str]]) -> None:
        self.ips = ips
        self._memo: dict[PeerSet, AddressSet] = {}

    def __call__(self, peers: PeerSet) -> AddressSet:
        found = self._memo.get(peers)
        if found is None:
            found = self._memo[peers] = peer_addresses(peers, self.ips)
        return found


def flatten(
    rules: EndpointRules, resolve: Callable[[PeerSet], AddressSet]
) -> tuple[AddressRule, ...]:
    """The first-match address rules equal to `rules` (see the module docstring);
    `resolve` gives a peer set's addresses (a `PeerAddresses`)."""
    out: list[AddressRule] = []
    for rule in ir_flatten.flatten(rules):
        remote = resolve(rule.peers)
        if remote.is_empty() or rule.ports.is_empty():
            continue
        ports = None if rule.ports.is_all() else rule.ports
        origin = "Default" if rule.provenance == rules.default_provenance else origin_of(rule)
        out.append(AddressRule(rule.action, remote, ports, origin))
        if remote.any_address and ports is None:
            break
    return tuple(out)


def first_match(
    rules: Sequence[AddressRule], remote_ip: str, protocol: str, port: int
) -> AddressRule:
    """The rule that decides a flow (the reference reading of a flattened list)."""
    address = ipaddress.ip_address(remote_ip)
    for rule in rules:
        if rule.ports is not None and not rule.ports.contains(protocol, port):
            continue
        if rule.remote.any_address or any(address in n for n in rule.remote.networks):
            return rule
    raise ValueError("a flattened list always ends with a rule that matches everything")
