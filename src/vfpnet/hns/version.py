"""HNS versions and the feature gates hcsshim derives from them (hcn/hcnglobals.go).

A feature is available when the service's version lies in one of its ranges, exactly as
hcsshim's `isFeatureSupported` decides. `supported_features` returns the JSON object that
hcsshim's `SupportedFeatures` marshals to.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

_MAX = 2**31 - 1


@dataclass(frozen=True, order=True)
class HnsVersion:
    major: int
    minor: int

    def to_json(self) -> dict[str, int]:
        return {"Major": self.major, "Minor": self.minor}

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}"


def parse_version(text: str | tuple[int, int] | HnsVersion) -> HnsVersion:
    """`"15.4"`, `(15, 4)` or an HnsVersion."""
    if isinstance(text, HnsVersion):
        return text
    if isinstance(text, tuple):
        return HnsVersion(int(text[0]), int(text[1]))
    parts = text.strip().split(".")
    if len(parts) != 2 or not all(p.isdigit() for p in parts):
        raise ValueError(f"HNS version must be MAJOR.MINOR, got {text!r}")
    major, minor = int(parts[0]), int(parts[1])
    # hcsshim's feature ranges end at the largest int32; beyond it no feature would match.
    if major > _MAX or minor > _MAX:
        raise ValueError(f"HNS version parts must be 0 to {_MAX}, got {text!r}")
    return HnsVersion(major, minor)


# A current Windows Server build (Windows Server 2025 class: every gate hcsshim knows is open).
DEFAULT_VERSION = HnsVersion(15, 4)

_Range = tuple[tuple[int, int], tuple[int, int]]


def _from(major: int, minor: int) -> tuple[_Range, ...]:
    return (((major, minor), (_MAX, _MAX)),)


# feature name (as in hcsshim's SupportedFeatures JSON) -> version ranges
FEATURE_RANGES: dict[str, tuple[_Range, ...]] = {
    "Acl": _from(7, 2),
    "V2Api": _from(9, 2),
    "RemoteSubnet": _from(9, 2),
    "HostRoute": _from(9, 2),
    "DSR": (((9, 3), (9, _MAX)), ((10, 2), (_MAX, _MAX))),
    "Slash32EndpointPrefixes": (((9, 3), (9, _MAX)), ((10, 4), (_MAX, _MAX))),
    "AclSupportForProtocol252": _from(11, 0),
    "SessionAffinity": _from(12, 0),
    "IPv6DualStack": _from(11, 10),
    "SetPolicy": _from(13, 0),
    "VxlanPort": _from(10, 3),
    "L4Proxy": (
        ((9, 5), (9, _MAX)),
        ((10, 5), (10, _MAX)),
        ((11, 11), (11, _MAX)),
        ((12, 1), (12, _MAX)),
        ((13, 1), (_MAX, _MAX)),
    ),
    "L4WfpProxy": _from(13, 2),
    "TierAcl": _from(14, 0),
    "NetworkACL": _from(15, 0),
    "NestedIpSet": _from(15, 0),
    "DisableHostPort": _from(15, 1),
    "ModifyLoadbalancer": _from(15, 4),
    "Accelnet": _from(15, 4),
}


def supports(version: HnsVersion, feature: str) -> bool:
    """Whether `feature` (a FEATURE_RANGES key) is available at `version`."""
    v = (version.major, version.minor)
    return any(lo <= v <= hi for lo, hi in FEATURE_RANGES[feature])


def supported_features(version: HnsVersion) -> dict[str, Any]:
    """hcsshim's SupportedFeatures for `version`, as its JSON."""
    acl = supports(version, "Acl")
    out: dict[str, Any] = {
        "ACL": {
            "AclAddressLists": acl,
            "AclHostRulePriority": acl,
            "AclPortRanges": acl,
            "AclRuleId": acl,
        },
        "API": {"V1": True, "V2": supports(version, "V2Api")},
    }
    for name in FEATURE_RANGES:
        if name not in ("Acl", "V2Api"):
            out[name] = supports(version, name)
    return out
