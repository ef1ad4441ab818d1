"""The network configuration on stdin and the CNI_* environment, parsed and validated.

Classes here are plain `__slots__` classes rather than dataclasses: `dataclasses` (and
`typing`) imports cost several milliseconds each on the ADD path, which is budgeted
against a Go plugin's whole run. They are treated as immutable after construction.
"""

from __future__ import annotations

from vfpnet.cni import errors
from vfpnet.cni.jsonwire import JsonError, loads

SUPPORTED_VERSIONS = ("0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0")
MODES = ("l2bridge", "transparent", "transparent-tunnel")
BACKENDS = ("linux", "hns")
DEFAULT_STATE_DIR = "/var/lib/vfpnet/cni"
STATE_DIR_ENV = "VFPNET_CNI_STATE_DIR"
_ID_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-")


def version_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in version.split("."))


class NetConf:
    """One plugin's configuration (a conflist's entry with name/cniVersion filled in)."""

    __slots__ = (
        "backend", "bridge", "cni_version", "gateway", "ipam", "mode", "mtu", "name",
        "prev_result", "raw", "state_dir", "tunnel", "type", "valid_attachments",
    )

    def __init__(self, raw: dict[str, object], *, command: str, environ: dict[str, str]) -> None:
        self.raw = raw
        self.cni_version = _string(raw, "cniVersion", required=True)
        if self.cni_version not in SUPPORTED_VERSIONS:
            raise errors.CniError(
                errors.INCOMPATIBLE_VERSION,
                f"cniVersion: {self.cni_version!r} is not supported "
                f"(supported: {', '.join(SUPPORTED_VERSIONS)})",
            )
        self.name = _string(raw, "name", required=command != "VERSION")
        self.type = _string(raw, "type")
        self.mode = _string(raw, "mode")
        if command in ("ADD", "CHECK") or self.mode:
            if not self.mode:
                raise _invalid(f"mode: required (one of {', '.join(MODES)})")
            if self.mode not in MODES:
                raise _invalid(f"mode: unknown mode {self.mode!r} (expected {', '.join(MODES)})")
        self.backend = _string(raw, "backend") or _default_backend()
        if self.backend not in BACKENDS:
            raise _invalid(f"backend: unknown backend {self.backend!r} (expected linux or hns)")
        self.gateway = _string(raw, "gateway")
        if self.gateway:
            _check_ipv4(self.gateway, "gateway")
            if self.gateway == "0.0.0.0":
                raise _invalid("gateway: 0.0.0.0 is not a gateway")
        self.bridge = _string(raw, "bridge") or "vfpbr0"
        if len(self.bridge) > 15 or "/" in self.bridge or " " in self.bridge:
            raise _invalid(f"bridge: {self.bridge!r} is not a valid interface name")
        ipam = raw.get("ipam")
        if ipam is not None and not isinstance(ipam, dict):
            raise _invalid("ipam: must be an object")
        if ipam:
            if not isinstance(ipam.get("type"), str) or not ipam["type"]:
                raise _invalid("ipam.type: required (the IPAM plugin to delegate to)")
            if "/" in ipam["type"]:
                raise _invalid(f"ipam.type: {ipam['type']!r} must be a plugin name, not a path")
        self.ipam: dict[str, object] | None = ipam or None
        self.mtu = _mtu(raw.get("mtu"), self.ipam)
        self.tunnel = TunnelConf(raw.get("tunnel"))
        self.state_dir = (
            environ.get(STATE_DIR_ENV) or _string(raw, "stateDir") or DEFAULT_STATE_DIR
        )
        if not self.state_dir.startswith("/"):
            raise _invalid(f"stateDir: {self.state_dir!r} must be an absolute path")
        prev = raw.get("prevResult")
        if prev is not None and not isinstance(prev, dict):
            raise _invalid("prevResult: must be an object")
        self.prev_result: dict[str, object] | None = prev or None
        self.valid_attachments = _attachments(raw) if command == "GC" else None


class TunnelConf:
    """transparent-tunnel knobs (netconf `tunnel`): fwmark, routing table, rule priority."""

    __slots__ = ("mark", "priority", "table")

    def __init__(self, raw: object) -> None:
        if raw is None:
            raw = {}
        if not isinstance(raw, dict):
            raise _invalid("tunnel: must be an object")
        self.mark = _uint(raw, "mark", 0x100000, "tunnel.mark", 1, 0xFFFFFFFF)
        self.table = _uint(raw, "table", 129, "tunnel.table", 1, 0xFFFFFFFE)
        self.priority = _uint(raw, "priority", 1029, "tunnel.priority", 1, 32765)
        if self.table in (253, 254, 255):
            raise _invalid(f"tunnel.table: {self.table} is a reserved kernel table")


class RuntimeArgs:
    """The CNI_* environment of one invocation."""

    __slots__ = ("args", "command", "container_id", "ifname", "netns", "path")

    def __init__(self, environ: dict[str, str]) -> None:
        self.command = environ.get("CNI_COMMAND", "")
        if self.command not in ("ADD", "DEL", "CHECK", "STATUS", "GC", "VERSION"):
            raise errors.CniError(
                errors.INVALID_ENVIRONMENT,
                f"CNI_COMMAND: unknown command {self.command!r} "
                "(expected ADD, DEL, CHECK, STATUS, GC or VERSION)",
            )
        self.container_id = environ.get("CNI_CONTAINERID", "")
        self.netns = environ.get("CNI_NETNS", "")
        self.ifname = environ.get("CNI_IFNAME", "")
        self.path = [p for p in environ.get("CNI_PATH", "").split(":") if p]
        self.args = _cni_args(environ.get("CNI_ARGS", ""))
        required = {
            "ADD": ("CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME"),
            "CHECK": ("CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME"),
            "DEL": ("CNI_CONTAINERID", "CNI_IFNAME"),
        }.get(self.command, ())
        missing = [name for name in required if not environ.get(name)]
        if missing:
            raise errors.CniError(
                errors.INVALID_ENVIRONMENT, f"{', '.join(missing)}: required for {self.command}"
            )
        if self.command in ("VERSION", "STATUS", "GC"):
            return  # runtimes fill the other variables with placeholders here (libcni: "dummy")
        if self.container_id:
            check_container_id(self.container_id, "CNI_CONTAINERID")
        if self.ifname:
            check_ifname(self.ifname, "CNI_IFNAME")
        # CNI_NETNS is a path on Linux but a namespace GUID on Windows: each backend checks it.

    @property
    def pod_namespace(self) -> str:
        return self.args.get("K8S_POD_NAMESPACE", "")

    @property
    def pod_name(self) -> str:
        return self.args.get("K8S_POD_NAME", "")


def check_container_id(value: str, field: str, code: int = errors.INVALID_ENVIRONMENT) -> None:
    if not value or not value[0].isalnum() or not set(value) <= _ID_CHARS:
        raise errors.CniError(
            code, f"{field}: {value!r} is not a valid container id ([A-Za-z0-9][A-Za-z0-9_.-]*)"
        )


def check_ifname(value: str, field: str, code: int = errors.INVALID_ENVIRONMENT) -> None:
    if (len(value) > 15 or value in (".", "..") or "/" in value or ":" in value
            or any(c.isspace() for c in value)):
        raise errors.CniError(code, f"{field}: {value!r} is not a valid interface name")


def is_guid(value: str) -> bool:
    """'3f2c...-...' (8-4-4-4-12 hex digits, braces allowed), without importing uuid."""
    parts = value.strip("{}").split("-")
    return [len(p) for p in parts] == [8, 4, 4, 4, 12] and all(
        c in "0123456789abcdefABCDEF" for p in parts for c in p
    )


def parse_stdin(data: bytes) -> dict[str, object]:
    try:
        raw = loads(data)
    except JsonError as exc:
        raise errors.CniError(
            errors.DECODE_FAILURE, f"network configuration (stdin): invalid JSON: {exc}"
        ) from None
    if not isinstance(raw, dict):
        raise errors.CniError(
            errors.DECODE_FAILURE, "network configuration (stdin): must be a JSON object"
        )
    return raw


def _default_backend() -> str:
    import sys

    return "hns" if sys.platform == "win32" else "linux"


def _invalid(msg: str) -> errors.CniError:
    return errors.CniError(errors.INVALID_CONFIG, msg)


def _string(raw: dict[str, object], key: str, *, required: bool = False) -> str:
    value = raw.get(key)
    if value is None or value == "":
        if required:
            code = errors.INCOMPATIBLE_VERSION if key == "cniVersion" else errors.INVALID_CONFIG
            raise errors.CniError(code, f"{key}: required")
        return ""
    if not isinstance(value, str):
        raise _invalid(f"{key}: must be a string, got {type(value).__name__}")
    return value


def _uint(raw: dict[str, object], key: str, default: int, field: str, lo: int, hi: int) -> int:
    value = raw.get(key, default)
    if isinstance(value, str):
        try:
            value = int(value, 0)
        except ValueError:
            raise _invalid(f"{field}: {value!r} is not an integer") from None
    if not isinstance(value, int) or isinstance(value, bool) or not lo <= value <= hi:
        raise _invalid(f"{field}: {value!r} must be an integer in {lo}..{hi}")
    return value


IPV4_MIN_MTU = 576  # every IPv4 host must accept datagrams of this size (RFC 791)
IPV6_MIN_MTU = 1280  # below it the kernel turns IPv6 off on the link (RFC 8200)


def _mtu(value: object, ipam: dict[str, object] | None) -> int:
    """Netconf `mtu` (0 when absent). An `ipam` that names an IPv6 subnet or range (a ':'
    in `subnet`, `ranges`, `addresses`) raises the floor to 1280; the backend checks it
    again against the addresses IPAM hands out."""
    if value is None:
        return 0
    if not isinstance(value, int) or isinstance(value, bool):
        raise _invalid(f"mtu: {value!r} must be an integer ({IPV4_MIN_MTU}..65535)")
    if not IPV4_MIN_MTU <= value <= 65535:
        raise _invalid(f"mtu: {value} is outside {IPV4_MIN_MTU}..65535")
    if value < IPV6_MIN_MTU and ipam and any(
        ":" in text for key in ("subnet", "ranges", "addresses") for text in _leaves(ipam.get(key))
    ):
        raise _invalid(f"mtu: {value} is below {IPV6_MIN_MTU}, the IPv6 minimum, and ipam "
                       "has an IPv6 subnet")
    return value


def _leaves(value: object) -> list[str]:
    """The strings inside nested lists and objects."""
    if isinstance(value, str):
        return [value]
    items = value.values() if isinstance(value, dict) else value if isinstance(value, list) else ()
    return [text for item in items for text in _leaves(item)]


def _check_ipv4(text: str, field: str) -> None:
    parts = text.split(".")
    if len(parts) != 4 or not all(p.isdigit() and int(p) < 256 and len(p) <= 3 for p in parts):
        raise _invalid(f"{field}: {text!r} is not an IPv4 address")


def _cni_args(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in text.split(";"):
        if not item:
            continue
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise errors.CniError(
                errors.INVALID_ENVIRONMENT, f"CNI_ARGS: {item!r} is not KEY=VALUE"
            )
        out[key] = value
    return out


def _attachments(raw: dict[str, object]) -> set[tuple[str, str]]:
    items = raw.get("cni.dev/valid-attachments", [])
    if not isinstance(items, list):
        raise _invalid("cni.dev/valid-attachments: must be an array")
    out = set()
    for i, item in enumerate(items):
        field = f"cni.dev/valid-attachments[{i}]"
        if not isinstance(item, dict):
            raise _invalid(f"{field}: must be an object")
        cid, ifname = item.get("containerID"), item.get("ifname")
        if not isinstance(cid, str) or not isinstance(ifname, str):
            raise _invalid(f"{field}: containerID and ifname must be strings")
        out.add((cid, ifname))
    return out
