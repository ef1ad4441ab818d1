"""CNI results: one internal shape (the 1.x one) and conversion to each requested version.

0.3.0, 0.3.1 and 0.4.0 results carry `"version": "4"|"6"` on each IP; 1.0.0 and 1.1.0
dropped it. 1.1.0 added `interfaces[].mtu`: results of older versions leave it out.
Everything else the plugin emits has the same shape in all of them.
"""

from __future__ import annotations

from vfpnet.cni import errors


def normalize(result: dict[str, object], field: str) -> dict[str, object]:
    """A result of any supported version -> the 1.x shape (a new dict)."""
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
    if "dns" not in out:
        out["dns"] = {}
    return out
