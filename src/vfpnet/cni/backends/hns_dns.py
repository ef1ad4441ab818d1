"""A pod's DNS settings in the shapes HNS takes them: HCN v2 `Dns`, HNS v1 text members."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

# The result's `dns` members and the HCN v2 `Dns` members they go to (hcsshim's hcn.Dns).
_DNS_V2 = (("domain", "Domain"), ("search", "Search"), ("nameservers", "ServerList"),
           ("options", "Options"))
# HNS v1 (hcsshim's HNSEndpoint): comma-joined text; no options; the domain is not sent.
_DNS_V1 = (("nameservers", "DNSServerList"), ("search", "DNSSuffix"))


def dns_v2(dns: dict[str, object]) -> dict[str, object]:
    """The pod's DNS as an HCN v2 endpoint's `Dns`; {} for none (then no `Dns` is sent)."""
    out: dict[str, object] = {}
    for key, member in _DNS_V2:
        value = dns.get(key)
        if value:
            out[member] = list(value) if isinstance(value, list) else str(value)
    return out


def dns_v1(dns: dict[str, object]) -> dict[str, str]:
    """The pod's DNS as an HNS v1 endpoint's `DNSServerList`/`DNSSuffix`."""
    out: dict[str, str] = {}
    for key, member in _DNS_V1:
        value = dns.get(key)
        if isinstance(value, list) and value:
            out[member] = ",".join(str(v) for v in value)
    return out


def dns_drift(endpoint: dict[str, Any], recorded: dict[str, object], v1: bool) -> str | None:
    """How the endpoint's DNS differs from the recorded pod DNS, or None when it does not.
    Members are compared as HNS hands them back: v2 lists in order, v1 comma-split text."""
    import json

    if v1:
        want: dict[str, object] = {m: _joined(v) for m, v in dns_v1(recorded).items()}
        have: dict[str, object] = {m: _joined(endpoint.get(m)) for _, m in _DNS_V1
                                   if _joined(endpoint.get(m))}
    else:
        want = dns_v2(recorded)
        given = endpoint.get("Dns")
        have = dns_v2({k: given.get(m) for k, m in _DNS_V2}) if isinstance(given, dict) else {}
    if have == want:
        return None

    def show(d: dict[str, object]) -> str:
        return json.dumps(d, separators=(",", ":")) if d else "none"

    return f"has DNS {show(have)}, not the recorded {show(want)}"


def _joined(text: object) -> str:
    """v1 comma-separated text without blanks around or between its items."""
    return ",".join(s.strip() for s in str(text or "").split(",") if s.strip())
