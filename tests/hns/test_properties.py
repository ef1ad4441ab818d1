"""Properties over random input (bounded examples): round-trips and address bookkeeping."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from vfpnet.hns.emulator import Emulator
from vfpnet.hns.errors import HcnError
from vfpnet.hns.schema.codec import decode, encode
from vfpnet.hns.schema.endpoint import HostComputeEndpoint
from vfpnet.hns.schema.network import HostComputeNetwork

from .conftest import l2bridge

json_leaf = st.one_of(st.none(), st.booleans(), st.integers(-(2**40), 2**40), st.text(max_size=8))
json_value = st.recursive(
    json_leaf,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)
unknown_keys = st.text(min_size=1, max_size=10).filter(
    lambda k: (
        k.lower()
        not in {
            "id",
            "name",
            "flags",
            "policies",
            "ipconfigurations",
            "dns",
            "routes",
            "macaddress",
            "health",
            "schemaversion",
            "hostcomputenetwork",
            "hostcomputenamespace",
            "type",
            "ipams",
            "macpool",
        }
    )
)


@settings(max_examples=60, deadline=None)
@given(
    name=st.text(max_size=12),
    flags=st.integers(0, 2**32 - 1),
    extra=st.dictionaries(unknown_keys, json_value, max_size=4),
    ips=st.lists(st.ip_addresses().map(str), max_size=3),
)
def test_endpoints_with_unknown_members_round_trip(
    name: str, flags: int, extra: dict[str, Any], ips: list[str]
) -> None:
    data = {
        "Name": name,
        "Flags": flags,
        **extra,
        "IpConfigurations": [{"IpAddress": ip} for ip in ips],
    }
    assert encode(decode(HostComputeEndpoint, data)) == data
    net = {"Name": name, "Type": "L2Bridge", **extra}
    assert encode(decode(HostComputeNetwork, net)) == net


@settings(max_examples=25, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.just(("create", None)),
            st.tuples(st.just("fixed"), st.integers(2, 14)),
            st.tuples(st.just("delete"), st.integers(0, 20)),
        ),
        max_size=30,
    )
)
def test_addresses_are_never_given_twice_and_freed_on_delete(ops: list[tuple[str, Any]]) -> None:
    with tempfile.TemporaryDirectory(prefix="vt-hns-prop") as tmp:
        emu = Emulator(str(Path(tmp) / "state.db"))
        net = emu.create_network(l2bridge("p", "10.9.0.0/28", "10.9.0.1"))
        live: dict[str, str] = {}
        for op, arg in ops:
            try:
                if op == "create":
                    ep = emu.create_endpoint(net["ID"], {})
                    live[ep["ID"]] = ep["IpConfigurations"][0]["IpAddress"]
                elif op == "fixed":
                    ep = emu.create_endpoint(
                        net["ID"], {"IpConfigurations": [{"IpAddress": f"10.9.0.{arg}"}]}
                    )
                    live[ep["ID"]] = f"10.9.0.{arg}"
                elif live:
                    victim = sorted(live)[arg % len(live)]
                    emu.delete_endpoint(victim)
                    del live[victim]
            except HcnError as exc:
                in_use = op == "fixed" and f"10.9.0.{arg}" in live.values()
                full = op == "create" and len(live) == 13
                assert (in_use and exc.hresult == 0x803B0013) or (
                    full and exc.hresult == 0x803B0005
                )
            stored = {e["ID"]: e["IpConfigurations"][0]["IpAddress"] for e in emu.list_endpoints()}
            assert stored == live
            assert len(set(stored.values())) == len(stored)
        emu.close()
