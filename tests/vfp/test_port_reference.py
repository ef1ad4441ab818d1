"""The compiled rule match agrees with a slow, obvious reading of the ACL policies."""

from __future__ import annotations

import ipaddress
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from vfpnet.vfp import Packet, build_port

POD = "10.240.0.5"
PEERS = ["10.240.0.9", "10.240.1.7", "192.168.3.4"]
CIDRS = ["", "10.240.0.0/24", "10.240.0.9", "10.240.0.0/16,192.168.3.0/24", "172.16.0.0/12"]
PORTS = ["", "80", "80,443", "1000-2000", "53"]
PROTOCOLS = ["", "256", "6", "17", "6,17"]

acl_settings = st.fixed_dictionaries(
    {
        "Action": st.sampled_from(["Allow", "Block", "Pass"]),
        "Direction": st.sampled_from(["In", "Out"]),
        "Priority": st.integers(100, 105),
        "Protocols": st.sampled_from(PROTOCOLS),
        "RemoteAddresses": st.sampled_from(CIDRS),
        "LocalPorts": st.sampled_from(PORTS),
        "RemotePorts": st.sampled_from(PORTS),
    }
)
packets = st.tuples(
    st.sampled_from(["in", "out"]),
    st.sampled_from([6, 17, 1]),
    st.sampled_from(PEERS),
    st.sampled_from([80, 443, 1500, 53, 9999]),
    st.sampled_from([80, 443, 1500, 53, 9999]),
)


def reference(policies: list[dict[str, Any]], direction: str, proto: int, peer: str,
              lport: int, rport: int) -> tuple[str, str | None]:  # fmt: skip
    """First matching rule by (Priority, Block<Pass<Allow, order); Pass = no filter left."""

    def ports_ok(text: str, port: int) -> bool:
        if not text:
            return True
        if proto == 1:
            return False
        for part in text.split(","):
            lo, _, hi = part.partition("-")
            if int(lo) <= port <= int(hi or lo):
                return True
        return False

    def matches(s: dict[str, Any]) -> bool:
        if s["Direction"].lower() != direction:
            return False
        if s["Protocols"] not in ("", "256") and str(proto) not in s["Protocols"].split(","):
            return False
        if s["RemoteAddresses"] and not any(
            ipaddress.ip_address(peer) in ipaddress.ip_network(c, strict=False)
            for c in s["RemoteAddresses"].split(",")
        ):
            return False
        if (s["LocalPorts"] or s["RemotePorts"]) and proto == 1:
            return False
        return ports_ok(s["LocalPorts"], lport) and ports_ok(s["RemotePorts"], rport)

    if not policies:
        return "allow", None
    rank = {"Block": 0, "Pass": 1, "Allow": 2}
    order = sorted(range(len(policies)), key=lambda i: (
        policies[i]["Priority"], rank[policies[i]["Action"]], i))  # fmt: skip
    for i in order:
        s = policies[i]
        if matches(s):
            verdict = "block" if s["Action"] == "Block" else "allow"
            return verdict, f"r{i}"
    return "block", None


@settings(max_examples=300, deadline=None)
@given(st.lists(acl_settings, max_size=8), st.lists(packets, min_size=1, max_size=6))
def test_compiled_match_equals_reference(rules: list[dict[str, Any]], pkts: list[Any]) -> None:
    policies = [{"Type": "ACL", "Settings": {**s, "Id": f"r{i}"}} for i, s in enumerate(rules)]
    port = build_port({"ID": "ep", "IpConfigurations": [{"IpAddress": POD}], "Policies": policies})
    for direction, proto, peer, lport, rport in pkts:
        if proto == 1:
            lport = rport = 0
        packet = (
            Packet(proto, POD, lport, peer, rport)
            if direction == "out"
            else Packet(proto, peer, rport, POD, lport)
        )
        got = port.evaluate(packet, direction)
        want = reference(rules, direction, proto, peer, lport, rport)
        assert (got.verdict, got.rule) == want
