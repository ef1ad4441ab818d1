"""Fixtures for the HNS tests: a fresh emulator state file per test, recorded HCN JSON."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from vfpnet.hns.emulator import Emulator

RECORDED = Path(__file__).parent / "recorded"


def recorded(name: str) -> Any:
    return json.loads((RECORDED / name).read_text())


def l2bridge(
    name: str = "azure", prefix: str = "10.240.0.0/24", gateway: str = "10.240.0.1", **extra: Any
) -> dict[str, Any]:
    return {
        "Name": name,
        "Type": "L2Bridge",
        "Ipams": [
            {
                "Type": "Static",
                "Subnets": [
                    {
                        "IpAddressPrefix": prefix,
                        "Routes": [{"NextHop": gateway, "DestinationPrefix": "0.0.0.0/0"}],
                    }
                ],
            }
        ],
        "SchemaVersion": {"Major": 2, "Minor": 0},
        **extra,
    }


def acl(**settings: Any) -> dict[str, Any]:
    base = {"Action": "Allow", "Direction": "In", "RuleType": "Switch", "Priority": 100}
    base.update(settings)
    return {"Type": "ACL", "Settings": base}


@pytest.fixture
def state(tmp_path: Path) -> str:
    return str(tmp_path / "vt-hns.db")


@pytest.fixture
def emu(state: str) -> Iterator[Emulator]:
    e = Emulator(state)
    try:
        yield e
    finally:
        e.close()


@pytest.fixture
def net(emu: Emulator) -> dict[str, Any]:
    return emu.create_network(l2bridge())
