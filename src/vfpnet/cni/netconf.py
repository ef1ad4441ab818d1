"""The network configuration on stdin and the CNI_* environment, parsed and validated.

Classes here are plain `__slots__` classes rather than dataclasses: `dataclasses` (and
`typing`) imports cost several milliseconds each on the ADD path, which is budgeted
against a Go plugin's whole run. They are treated as immutable after construction.
"""

from __future__ import annotations

from vfpnet.cni import errors
from vfpnet.cni.jsonwire import JsonError, dumps, loads

# As the reference plugins (libcni's version.All): 0.1.0 and 0.2.0 results have the old
# `ip4`/`ip6` shape (`vfpnet.cni.result`).
SUPPORTED_VERSIONS = ("0.1.0", "0.2.0", "0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0")
# What a netconf without `cniVersion` means: libcni's DecodeVersion reads it as 0.1.0, and
# libcni hands a conflist without one to each plugin as `"cniVersion": ""`.
NO_VERSION = "0.1.0"
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
        "backend", "bridge", "cni_version", "dns", "gateway", "ipam", "mac", "mac_source", "mode",
        "mtu", "name", "prev_result", "raw", "state_dir", "tunnel", "type", "valid_attachments",
    )

    def __init__(self, raw: dict[str, object], *, command: str, environ: dict[str, str]) -> None:
        self.raw = raw
        version = raw.get("cniVersion")
        if version is None or version == "":
            version = NO_VERSION
        if not isinstance(version, str):
            raise errors.CniError(
                errors.DECODE_FAILURE,
                f"cniVersion: must be a string, got {type(version).__name__}",
            )
        if version not in SUPPORTED_VERSIONS:
            raise errors.CniError(
                errors.INCOMPATIBLE_VERSION,
                f"cniVersion: {version!r} is not supported "
                f"(supported: {', '.join(SUPPORTED_VERSIONS)})",
            )
        self.cni_version = version
        self.name = _string(raw, "name", required=command != "VERSION")
        if self.name and not is_cni_name(self.name):
            raise _invalid(
                f"name: {self.name!r} is not a valid network name ([A-Za-z0-9][A-Za-z0-9_.-]*)"
            )
        self.type = _string(raw, "type")
        self.state_dir = (
            environ.get(STATE_DIR_ENV) or _string(raw, "stateDir") or DEFAULT_STATE_DIR
        )
        if not self.state_dir.startswith("/"):
            raise _invalid(f"stateDir: {self.state_dir!r} must be an absolute path")
        self.mode = ""
        self.backend = _default_backend()
        self.gateway = ""
        self.bridge = "vfpbr0"
        self.ipam: dict[str, object] | None = None
        self.mtu = 0
        self.tunnel = TunnelConf(None)
        self.dns: dict[str, object] | None = None
        self.prev_result: dict[str, object] | None = None
        self.mac = self.mac_source = ""
        try:
            self._attachment_fields(raw, command)
        except errors.CniError:
            # The runtime calls DEL after every failed ADD, also one refused for a bad field:
            # that DEL must succeed. It takes what it removes from the ADD's record (or finds
            # nothing when the ADD was refused), never from these fields.
            if command != "DEL":
                raise
        self.valid_attachments = _attachments(raw) if command == "GC" else None

    def _attachment_fields(self, raw: dict[str, object], command: str) -> None:
        mode = _string(raw, "mode")
        if command in ("ADD", "CHECK") or mode:
            if not mode:
                raise _invalid(f"mode: required (one of {', '.join(MODES)})")
            if mode not in MODES:
                raise _invalid(f"mode: unknown mode {mode!r} (expected {', '.join(MODES)})")
        self.mode = mode
        backend = _string(raw, "backend") or self.backend
        if backend not in BACKENDS:
            raise _invalid(f"backend: unknown backend {backend!r} (expected linux or hns)")
        self.backend = backend
        gateway = _string(raw, "gateway")
        if gateway:
            _check_ipv4(gateway, "gateway")
            if gateway == "0.0.0.0":
                raise _invalid("gateway: 0.0.0.0 is not a gateway")
        self.gateway = gateway
        bridge = _string(raw, "bridge") or self.bridge
        if len(bridge) > 15 or "/" in bridge or " " in bridge:
            raise _invalid(f"bridge: {bridge!r} is not a valid interface name")
        self.bridge = bridge
        ipam = raw.get("ipam")
        if ipam is not None and not isinstance(ipam, dict):
            raise _invalid("ipam: must be an object")
        if ipam:
            if not isinstance(ipam.get("type"), str) or not ipam["type"]:
                raise _invalid("ipam.type: required (the IPAM plugin to delegate to)")
            if "/" in ipam["type"] or "\\" in ipam["type"]:
                raise _invalid(f"ipam.type: {ipam['type']!r} must be a plugin name, not a path")
        self.ipam = ipam or None
        self.mtu = _mtu(raw.get("mtu"), self.ipam)
        self.tunnel = TunnelConf(raw.get("tunnel"))
        self.dns = _dns(raw.get("dns"))
        prev = raw.get("prevResult")
        if prev is not None and not isinstance(prev, dict):
            raise _invalid("prevResult: must be an object")
        self.prev_result = prev or None
        runtime = raw.get("runtimeConfig")
        if runtime is not None and not isinstance(runtime, dict):
            raise _invalid("runtimeConfig: must be an object")
        self.mac, self.mac_source = _netconf_mac(raw.get("args"), runtime)
        if runtime and runtime.get("dns"):
            self.dns = _runtime_dns(runtime["dns"]) or self.dns


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
        from vfpnet.cni.ipam import split_path  # os.pathsep, and Windows quoting

        self.path = split_path(environ.get("CNI_PATH", ""))
        # As the spec lists them (the reference plugins' skel also wants CNI_PATH for every
        # command; here it is wanted where an IPAM plugin has to be found: `ipam.find_plugin`).
        required = {
            "ADD": ("CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME"),
            "CHECK": ("CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME"),
            "DEL": ("CNI_CONTAINERID", "CNI_IFNAME"),
            "GC": ("CNI_PATH",),
        }.get(self.command, ())
        missing = [name for name in required if not environ.get(name)]
        if missing:
            raise errors.CniError(
                errors.INVALID_ENVIRONMENT, f"{', '.join(missing)}: required for {self.command}"
            )
        if self.command in ("VERSION", "STATUS", "GC"):
            # No attachment: runtimes fill the other variables with placeholders or leave
            # them empty (libcni: "dummy" for VERSION), and VERSION must answer whatever
            # they hold.
            self.args: dict[str, str] = {}
            return
        # A DEL must clean up after an ADD refused for its arguments: only ADD and CHECK
        # refuse what vfpnet cannot act on.
        self.args = _cni_args(environ.get("CNI_ARGS", ""), strict=self.command != "DEL")
        if self.args.get("MAC") and self.command != "DEL":
            self.args["MAC"] = parse_mac(self.args["MAC"], "CNI_ARGS MAC")
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


def is_cni_name(value: str) -> bool:
    """[A-Za-z0-9][A-Za-z0-9_.-]*: what the spec allows for container ids and network names."""
    return bool(value) and value[0] in _ID_CHARS and value[0] not in "_.-" and set(
        value) <= _ID_CHARS


def check_container_id(value: str, field: str, code: int = errors.INVALID_ENVIRONMENT) -> None:
    if not is_cni_name(value):
        raise errors.CniError(
            code, f"{field}: {value!r} is not a valid container id ([A-Za-z0-9][A-Za-z0-9_.-]*)"
        )


def check_ifname(value: str, field: str, code: int = errors.INVALID_ENVIRONMENT) -> None:
    if (len(value.encode()) > 15 or value in (".", "..") or "/" in value or ":" in value
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


# CNI_ARGS keys vfpnet acts on: the pod's identity (recorded for the policy agent), `IP`,
# which the IPAM plugin reads from the same environment (host-local, static), and `MAC`,
# the pod interface's MAC (as the reference `bridge` plugin reads it).
KNOWN_ARGS = frozenset((
    "IgnoreUnknown", "IP", "K8S_POD_NAMESPACE", "K8S_POD_NAME", "K8S_POD_INFRA_CONTAINER_ID",
    "K8S_POD_UID", "MAC",
))


def _cni_args(text: str, *, strict: bool) -> dict[str, str]:
    """CNI_ARGS as the reference plugins read it (libcni's types.LoadArgs): KEY=VALUE pairs
    split by ';'; a key vfpnet does not act on is refused unless IgnoreUnknown is true."""
    out: dict[str, str] = {}
    for item in text.split(";"):
        if not item:
            continue
        key, sep, value = item.partition("=")
        if not sep or not key:
            if not strict:
                continue
            raise errors.CniError(
                errors.INVALID_ENVIRONMENT, f"CNI_ARGS: {item!r} is not KEY=VALUE"
            )
        out[key] = value
    if not strict:
        return out
    ignore = out.get("IgnoreUnknown", "0").lower()
    if ignore not in ("1", "true", "0", "false"):
        raise errors.CniError(
            errors.INVALID_ENVIRONMENT,
            f"CNI_ARGS: IgnoreUnknown={out['IgnoreUnknown']!r} must be 1, true, 0 or false",
        )
    unknown = [key for key in out if key not in KNOWN_ARGS]
    if unknown and ignore in ("0", "false"):
        raise errors.CniError(
            errors.INVALID_ENVIRONMENT,
            f"CNI_ARGS: unknown argument {', '.join(unknown)} (vfpnet reads "
            f"{', '.join(sorted(KNOWN_ARGS - {'IgnoreUnknown'}))}; add IgnoreUnknown=1 to "
            "have others ignored)",
        )
    return out


# runtimeConfig capabilities: `mac` and `dns` are acted on here; those that other plugins
# of a chain act on (portMappings, bandwidth, aliases) and those meant for IPAM (ips,
# ipRanges, which the IPAM plugin reads from the same stdin) are left alone, as the spec has
# a plugin ignore what it does not support.


def parse_mac(value: object, field: str) -> str:
    """A unicast Ethernet MAC in its canonical form ('c2:11:22:33:44:55'). Accepted as Go's
    net.ParseMAC writes a 6-byte address: with ':' or '-' between bytes, or '.' between
    groups of 4 hex digits."""
    if not isinstance(value, str):
        raise _invalid(f"{field}: must be a string, got {type(value).__name__}")
    if len(value) == 14 and value.count(".") == 2:
        groups = value.split(".")
        parts = [g[i:i + 2] for g in groups if len(g) == 4 for i in (0, 2)]
    else:
        parts = value.split(":" if ":" in value else "-")
    if len(parts) != 6 or not all(len(p) == 2 and p.strip("0123456789abcdefABCDEF") == ""
                                  for p in parts):
        raise _invalid(f"{field}: {dumps(value)} is not a MAC address (6 bytes, "
                       "e.g. c2:11:22:33:44:55)")
    mac = ":".join(parts).lower()
    if int(parts[0], 16) & 1:
        raise _invalid(f"{field}: {mac} is a multicast MAC address (a pod interface needs a "
                       "unicast one: the first byte even)")
    if mac == "00:00:00:00:00:00":
        raise _invalid(f"{field}: {mac} is not a usable MAC address")
    return mac


def _netconf_mac(args: object, runtime: dict[str, object] | None) -> tuple[str, str]:
    """The MAC the netconf asks for and its field: `runtimeConfig.mac` (the `mac`
    capability) over `args.cni.mac`, as the reference `bridge` plugin ranks them; both are
    checked when both are given."""
    found = ("", "")
    cni = args.get("cni") if isinstance(args, dict) else None
    if isinstance(cni, dict) and cni.get("mac") not in (None, ""):
        found = (parse_mac(cni["mac"], "args.cni.mac"), "args.cni.mac")
    if runtime and runtime.get("mac") not in (None, ""):
        found = (parse_mac(runtime["mac"], "runtimeConfig.mac"), "runtimeConfig.mac")
    return found


def requested_mac(conf: NetConf, args: RuntimeArgs) -> tuple[str, str]:
    """The MAC asked for the pod interface and where it came from (("", "") when none):
    the netconf's (`_netconf_mac`), else `CNI_ARGS` `MAC`, the reference `bridge` order."""
    if conf.mac:
        return conf.mac, conf.mac_source
    mac = args.args.get("MAC", "")
    return (mac, "CNI_ARGS MAC") if mac else ("", "")


def _runtime_dns(raw: object) -> dict[str, object] | None:
    """The `dns` capability (the pod's DNS settings, as containerd and the win-bridge plugin
    know it: servers, searches, options) in the result's `dns` shape."""
    if not isinstance(raw, dict):
        raise _invalid("runtimeConfig.dns: must be an object")
    out: dict[str, object] = {}
    for key, to in (("servers", "nameservers"), ("searches", "search"), ("options", "options")):
        value = raw.get(key)
        if value is None:
            continue
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise _invalid(f"runtimeConfig.dns.{key}: must be an array of strings")
        if value:
            out[to] = list(value)
    return out or None


def _dns(raw: object) -> dict[str, object] | None:
    """The netconf's well-known `dns` section, which the result reports (as `bridge` does)."""
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise _invalid("dns: must be an object")
    out: dict[str, object] = {}
    for key in ("nameservers", "search", "options"):
        value = raw.get(key)
        if value is None:
            continue
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise _invalid(f"dns.{key}: must be an array of strings")
        if value:
            out[key] = list(value)
    domain = raw.get("domain")
    if domain is not None and not isinstance(domain, str):
        raise _invalid("dns.domain: must be a string")
    if domain:
        out["domain"] = domain
    return out or None


def _attachments(raw: dict[str, object]) -> set[tuple[str, str]]:
    # libcni (1.2) sends the list under both names: the spec's and `cni.dev/attachments`,
    # which the spec text used at first (containernetworking/cni#1101).
    key = "cni.dev/valid-attachments"
    if key not in raw and "cni.dev/attachments" in raw:
        key = "cni.dev/attachments"
    items = raw.get(key)
    if items is None:
        items = []
    if not isinstance(items, list):
        raise _invalid(f"{key}: must be an array")
    out = set()
    for i, item in enumerate(items):
        field = f"{key}[{i}]"
        if not isinstance(item, dict):
            raise _invalid(f"{field}: must be an object")
        cid, ifname = item.get("containerID"), item.get("ifname")
        if not isinstance(cid, str) or not isinstance(ifname, str):
            raise _invalid(f"{field}: containerID and ifname must be strings")
        out.add((cid, ifname))
    return out
