"""`choose_gateways` on random addresses: a chosen gateway is always a usable host of the
pod's subnet, and anything else is refused with an error naming where it came from."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vfpnet.cni import errors
from vfpnet.cni.gateway import choose_gateways

interfaces = st.one_of(
    st.tuples(st.ip_addresses(v=4), st.integers(0, 32)),
    st.tuples(st.ip_addresses(v=6), st.integers(0, 128)),
).map(lambda t: ipaddress.ip_interface(f"{t[0]}/{t[1]}"))
candidates = st.one_of(st.none(), st.ip_addresses(v=4), st.ip_addresses(v=6))


@settings(max_examples=1000, deadline=None)
@given(interface=interfaces, configured=candidates, from_ipam=candidates)
def test_a_chosen_gateway_is_a_host_of_the_pod_subnet_other_than_the_pod(
    interface: ipaddress.IPv4Interface | ipaddress.IPv6Interface,
    configured: ipaddress.IPv4Address | ipaddress.IPv6Address | None,
    from_ipam: ipaddress.IPv4Address | ipaddress.IPv6Address | None,
) -> None:
    ip: dict[str, object] = {"address": str(interface)}
    if from_ipam is not None:
        ip["gateway"] = str(from_ipam)
    try:
        [chosen] = choose_gateways(str(configured or ""), [ip])
    except errors.CniError as exc:
        assert exc.code == errors.INVALID_CONFIG
        assert any(exc.msg.startswith(f"{field}: ") for field in (
            "gateway", "ipam result ips[0].gateway", "ipam result ips[0].address",
            f"first host of {interface.network}",
        )), exc.msg
        return
    gateway = ipaddress.ip_address(chosen.gateway)
    assert gateway in interface.network and gateway != interface.ip
    assert not gateway.is_unspecified
    if interface.network.num_addresses > 2:
        assert gateway != interface.network.network_address
        assert interface.version == 6 or gateway != interface.network.broadcast_address
    if configured is not None and configured.version == interface.version:
        assert gateway == configured
    elif from_ipam is not None:
        assert gateway == from_ipam
    else:
        assert gateway == interface.network.network_address + 1
    assert chosen.host_prefix == f"{interface.ip}/{interface.ip.max_prefixlen}"
    assert chosen.subnet == str(interface.network)
    assert chosen.address == str(interface.ip)


@settings(max_examples=2000, deadline=None)
@given(value=st.one_of(st.integers(0, 2**128 - 1),
                       # runs of zero groups of every length and place
                       st.lists(st.sampled_from([0, 0, 0, 1, 0xFFFF]), min_size=8, max_size=8)
                       .map(lambda gs: sum(g << (112 - 16 * i) for i, g in enumerate(gs)))))
def test_ipv6_text_is_the_ipaddress_modules(value: int) -> None:
    from vfpnet.cni.gateway import _text

    assert _text(6, value) == str(ipaddress.IPv6Address(value))


@pytest.mark.parametrize(
    ("address", "gateway", "expected"),
    [
        ("10.0.0.5/24", "10.0.0.1", "10.0.0.1"),
        ("10.0.0.1/24", None, "first host of 10.0.0.0/24: 10.0.0.1 is the pod's own address"),
        ("10.0.0.5/24", "10.0.0.255", "ipam result ips[0].gateway: 10.0.0.255 is the "
         "broadcast address of 10.0.0.0/24"),
        ("10.0.0.5/24", "10.0.0.0", "ipam result ips[0].gateway: 10.0.0.0 is the network "
         "address of 10.0.0.0/24"),
        ("fd00::5/64", "::", "ipam result ips[0].gateway: :: is unspecified, not a gateway"),
        ("fd00::5", None, "ipam result ips[0].address: 'fd00::5' has no prefix length"),
    ],
)
def test_named_cases(address: str, gateway: str | None, expected: str) -> None:
    ip: dict[str, object] = {"address": address}
    if gateway is not None:
        ip["gateway"] = gateway
    try:
        [chosen] = choose_gateways("", [ip])
    except errors.CniError as exc:
        assert exc.msg == expected
        return
    assert str(chosen.gateway) == expected
