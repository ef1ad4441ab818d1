"""CNI results: one internal shape (the 1.x one) and conversion to each requested version.

0.3.0, 0.3.1 and 0.4.0 results carry `"version": "4"|"6"` on each IP; 1.0.0 and 1.1.0
dropped it. 1.1.0 added `interfaces[].mtu`: results of older versions leave it out.
Everything else the plugin emits has the same shape in all of them. 0.1.0 and 0.2.0 results
(and IPAM answers) have the older `ip4`/`ip6` shape, converted as libcni's types/040
converters do.
"""

from __future__ import annotations

from vfpnet.cni import errors


def normalize(result: dict[str, object], field: str) -> dict[str, object]:
    """A result of any supported version -> the 1.x shape (a new dict)."""
    if "ips" not in result and ("ip4" in result or "ip6" in result):
        result = _from_020(result, field)
    out: dict[str, object] = {}
    for key in ("interfaces", "ips", "routes"):
        value = result.get(key, [])
        if value is None:
            value = []
        if not isinstance(value, list) or not all(isinstance(x, dict) for x in value):
            raise errors.CniError(
                errors.DECODE_FAILURE, f"{field}.{key}: must be an array of objects"
            )
        out[key] = [dict(x) for x in value]
    ips = out["ips"]
    assert isinstance(ips, list)
    for i, ip in enumerate(ips):
        ip.pop("version", None)
        if not isinstance(ip.get("address"), str):
            raise errors.CniError(errors.DECODE_FAILURE, f"{field}.ips[{i}].address: required")
    dns = result.get("dns")
    if isinstance(dns, dict) and dns:
        out["dns"] = dict(dns)
    return out


def render(result: dict[str, object], version: str) -> dict[str, object]:
    """The result as the runtime asked for it (`cniVersion` = the netconf's)."""
    if version in ("0.1.0", "0.2.0"):
        return _to_020(result, version)
    out: dict[str, object] = {"cniVersion": version}
    out.update(result)
    if version.startswith("0."):
        ips = []
        for ip in result.get("ips", []):  # type: ignore[attr-defined]
            ip = dict(ip)
            ip["version"] = "6" if ":" in ip["address"] else "4"
            ips.append(ip)
        out["ips"] = ips
    if version != "1.1.0" and any("mtu" in i for i in out.get("interfaces", [])):  # type: ignore[attr-defined]
        out["interfaces"] = [{k: v for k, v in i.items() if k != "mtu"}
                             for i in out["interfaces"]]  # type: ignore[attr-defined]
    if not out.get("dns"):
        # libcni prints an empty `dns` in 0.x results and leaves it out of 1.x ones
        if version.startswith("0."):
            out["dns"] = {}
        else:
            out.pop("dns", None)
    return out


def _from_020(result: dict[str, object], field: str) -> dict[str, object]:
    ips: list[dict[str, object]] = []
    routes: list[object] = []
    for key in ("ip4", "ip6"):
        cfg = result.get(key)
        if cfg is None:
            continue
        if not isinstance(cfg, dict) or not isinstance(cfg.get("ip"), str):
            raise errors.CniError(
                errors.DECODE_FAILURE, f"{field}.{key}.ip: required (an address in CIDR notation)"
            )
        ip: dict[str, object] = {"address": cfg["ip"]}
        if cfg.get("gateway"):
            ip["gateway"] = cfg["gateway"]
        ips.append(ip)
        more = cfg.get("routes") or []
        if not isinstance(more, list):
            raise errors.CniError(errors.DECODE_FAILURE, f"{field}.{key}.routes: must be an array")
        routes += more
    return {"ips": ips, "routes": routes, "dns": result.get("dns")}


def _to_020(result: dict[str, object], version: str) -> dict[str, object]:
    """The first IPv4 and first IPv6 address, each with the routes of its family."""
    family: dict[str, dict[str, object]] = {}
    for ip in result.get("ips", []):  # type: ignore[attr-defined]
        key = "ip6" if ":" in str(ip["address"]) else "ip4"
        if key not in family:
            family[key] = {"ip": ip["address"]}
            if ip.get("gateway"):
                family[key]["gateway"] = ip["gateway"]
    if not family:
        raise errors.CniError(
            errors.INCOMPATIBLE_VERSION, f"cniVersion: a {version} result needs an IP address"
        )
    for route in result.get("routes", []):  # type: ignore[attr-defined]
        cfg = family.get("ip6" if ":" in str(route.get("dst", "")) else "ip4")
        if cfg is not None:
            kept = {k: route[k] for k in ("dst", "gw") if k in route}
            cfg.setdefault("routes", []).append(kept)  # type: ignore[attr-defined]
    out: dict[str, object] = {"cniVersion": version}
    out.update((k, family[k]) for k in ("ip4", "ip6") if k in family)
    out["dns"] = result.get("dns") or {}
    return out
