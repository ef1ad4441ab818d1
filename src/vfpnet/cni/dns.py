"""The pod's DNS settings, one choice for the CNI result and for the backend.

ADD reports them in the result and the hns backend puts them on the HNS endpoint: both
take them from here, so the endpoint never differs from what the runtime is told.
"""

from __future__ import annotations

from vfpnet.cni import errors

TYPE_CHECKING = False
if TYPE_CHECKING:
    from vfpnet.cni.netconf import NetConf


def pod_dns(conf: NetConf, result: dict[str, object]) -> dict[str, object]:
    """The pod's DNS: the runtimeConfig `dns` capability or the netconf's `dns` (both
    checked by the netconf), else the IPAM answer's (`result`), else the previous plugin's
    (the reference `bridge` order); {} for none."""
    if conf.dns:
        return dict(conf.dns)
    prev = conf.prev_result or {}
    found = [("ipam result.dns", result.get("dns"))] if conf.ipam else []
    found.append(("prevResult.dns", prev.get("dns")))  # also `result` without an ipam
    for where, dns in found:
        if isinstance(dns, dict) and dns:
            return checked_dns(dns, where)
    return {}


def checked_dns(dns: dict[str, object], where: str) -> dict[str, object]:
    """A `dns` object another plugin handed us, in the result's shape, members checked."""
    out: dict[str, object] = {}
    for key in ("nameservers", "search", "options"):
        value = dns.get(key)
        if value is None:
            continue
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise errors.CniError(errors.DECODE_FAILURE,
                                  f"{where}.{key}: must be an array of strings")
        if value:
            out[key] = list(value)
    domain = dns.get("domain")
    if domain is not None and not isinstance(domain, str):
        raise errors.CniError(errors.DECODE_FAILURE, f"{where}.domain: must be a string")
    if domain:
        out["domain"] = domain
    return out
