"""HCN v2 endpoint JSON for VFP tests, written as HNS serializes it."""

from __future__ import annotations

from typing import Any


def acl(
    action: str,
    direction: str,
    priority: int,
    *,
    protocols: str = "256",
    local: str = "",
    remote: str = "",
    local_ports: str = "",
    remote_ports: str = "",
    rule_type: str = "Switch",
    rule_id: str | None = None,
) -> dict[str, Any]:
    settings: dict[str, Any] = {
        "Protocols": protocols,
        "Action": action,
        "Direction": direction,
        "RuleType": rule_type,
        "Priority": priority,
    }
    for key, value in (
        ("LocalAddresses", local),
        ("RemoteAddresses", remote),
        ("LocalPorts", local_ports),
        ("RemotePorts", remote_ports),
    ):
        if value:
            settings[key] = value
    if rule_id:
        settings["Id"] = rule_id
    return {"Type": "ACL", "Settings": settings}


def endpoint(
    ep_id: str, address: str, *policies: dict[str, Any], prefix: int = 24
) -> dict[str, Any]:
    return {
        "ID": ep_id,
        "Name": f"{ep_id}_eth0",
        "HostComputeNetwork": "net-1",
        "IpConfigurations": [{"IpAddress": address, "PrefixLength": prefix}],
        "Policies": list(policies),
        "SchemaVersion": {"Major": 2, "Minor": 0},
    }
