"""The CNI operations as recipes: lock, record intent, delegate IPAM, call the backend.

Every function takes the parsed request and returns the JSON object to print (or None);
failures are `CniError`s. The backend is chosen by netconf `backend` for ADD and by the
stored record for DEL/CHECK/GC (never assumed).
"""

from __future__ import annotations

import os
import time

from vfpnet.cni import errors, faults, ipam
from vfpnet.cni.attachment import Request
from vfpnet.cni.dns import pod_dns
from vfpnet.cni.jsonwire import dumps
from vfpnet.cni.netconf import NetConf, RuntimeArgs, version_tuple
from vfpnet.cni.result import normalize, render
from vfpnet.cni.state import Store
from vfpnet.cni.undo import UndoStack

TYPE_CHECKING = False
if TYPE_CHECKING:
    from vfpnet.cni.backend import Backend


def load_backend(name: str) -> Backend:
    from vfpnet.cni.backends import REGISTRY

    if name not in REGISTRY:
        raise errors.CniError(
            errors.INVALID_CONFIG,
            f"backend: {name!r} is not available in this build (available: {', '.join(REGISTRY)})",
        )
    module_name, class_name = REGISTRY[name]
    module = __import__(module_name, fromlist=[class_name])  # importlib costs an import
    backend: Backend = getattr(module, class_name)()
    return backend


class _TrackedIpam:
    """The running IPAM ADD: records its addresses and its release the moment it answers."""

    def __init__(self, call: ipam.IpamCall, record: dict[str, object], store: Store,
                 undo: UndoStack) -> None:
        self.call = call
        self.record = record
        self.store = store
        self.undo = undo
        self.answered: dict[str, object] | None = None

    def result(self, record: bool = True) -> dict[str, object]:
        if self.answered is None:
            try:
                result = self.call.result()
            except errors.CniError as exc:
                self.answered = {}
                # The spec (section 4): a failed delegated ADD is followed by its DEL, so
                # whatever the IPAM plugin took before failing goes back.
                try:
                    self._release()
                except errors.CniError as release:
                    exc.details = "; ".join(filter(None, [exc.details, f"DEL: {release.msg}"]))
                raise
            self.answered = result
            # Release first registered: if anything after this fails, the address goes back.
            self.undo.push("ipam allocation", self._release)
            self.record["ips"] = [ip["address"] for ip in result["ips"]]  # type: ignore[attr-defined]
            if record:  # else the ready record is the first to carry them (the backend said)
                self.store.write(self.record)
        return self.answered

    def settle(self) -> None:
        """After a failure: make sure a still-running IPAM ADD is waited for and released."""
        if self.answered is None:
            try:  # noqa: SIM105 (contextlib is an import the ADD path avoids)
                self.result()
            except errors.CniError:
                pass

    def _release(self) -> None:
        ipam.run(self.call.plugin, "DEL", self.record_stdin(), _env_for(self.record),
                 self.store.root)

    def record_stdin(self) -> bytes:
        return dumps(self.record["netconf"]).encode()


class _GivenIpam:
    """Addresses handed in by a previous plugin of the chain (no `ipam` section)."""

    def __init__(self, prev: dict[str, object]) -> None:
        self.prev = prev

    def result(self, record: bool = True) -> dict[str, object]:
        return self.prev

    def settle(self) -> None:
        pass


def _env_for(record: dict[str, object]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CNI_")}
    env.update({
        "CNI_CONTAINERID": str(record["containerID"]),
        "CNI_IFNAME": str(record["ifname"]),
        "CNI_NETNS": str(record.get("netns") or ""),
        "CNI_PATH": str(record.get("cniPath") or os.environ.get("CNI_PATH", "")),
    })
    return env


def _ipam_env(args: RuntimeArgs) -> dict[str, str]:
    """The environment for the IPAM plugin: this one's, with IgnoreUnknown=1 added to a
    CNI_ARGS that lacks it. Every key left there is one vfpnet acts on (`netconf._cni_args`
    refused the rest): the pod's K8S_POD_* names, which IPAM plugins do not know and
    (host-local) refuse, and IP, which they act on. cnitool, for one, adds no IgnoreUnknown.
    """
    env = dict(os.environ)
    if args.args and "IgnoreUnknown" not in args.args:
        env["CNI_ARGS"] = env.get("CNI_ARGS", "") + ";IgnoreUnknown=1"
    return env


def _stored_netconf(conf: NetConf) -> dict[str, object]:
    dropped = ("prevResult", "cni.dev/valid-attachments")
    return {k: v for k, v in conf.raw.items() if k not in dropped}


def add(req: Request) -> dict[str, object]:
    conf, args = req.conf, req.args
    prev = normalize(conf.prev_result, "prevResult") if conf.prev_result else None
    if conf.backend == "linux" and _is_own_netns(args.netns):
        raise errors.CniError(
            errors.INVALID_ENVIRONMENT,
            f"CNI_NETNS: {args.netns} is the network namespace the plugin runs in, not the "
            "container's",
        )
    store = Store(conf.state_dir, conf.name)
    with store.lock():
        old = store.read(args.container_id, args.ifname)
        if old is not None:
            if old.get("status") == "ready":
                raise errors.CniError(
                    errors.INVALID_ENVIRONMENT,
                    f"CNI_CONTAINERID/CNI_IFNAME: {args.container_id}/{args.ifname} is already "
                    f"attached to network {conf.name!r} (DEL it first)",
                )
            _delete_attachment(store, old, req)  # a crashed ADD: finish its cleanup first
        record: dict[str, object] = {
            "containerID": args.container_id, "ifname": args.ifname, "network": conf.name,
            "netns": args.netns, "mode": conf.mode, "backend": conf.backend,
            "podNamespace": args.pod_namespace, "podName": args.pod_name,
            "cniPath": os.pathsep.join(args.path), "status": "adding", "ips": [],
            "created": int(time.time()), "netconf": _stored_netconf(conf),
        }
        store.write(record)
        undo = UndoStack()
        source: _TrackedIpam | _GivenIpam | None = None
        try:
            if conf.ipam:
                plugin = ipam.find_plugin(str(conf.ipam["type"]), args.path)
                call = ipam.IpamCall(plugin, "ADD", req.stdin, _ipam_env(args), conf.state_dir)
                source = _TrackedIpam(call, record, store, undo)
            elif prev and prev["ips"]:
                source = _GivenIpam(prev)
                record["ips"] = [ip["address"] for ip in prev["ips"]]  # type: ignore[attr-defined]
            else:
                raise errors.CniError(
                    errors.INVALID_CONFIG, "ipam: required (no prevResult with ips to use)"
                )
            # loaded while the IPAM plugin runs: its import is off the critical path
            added = load_backend(conf.backend).add(req, source, undo)
            dns = pod_dns(conf, source.result())  # a bad `dns` from IPAM: rolled back here
            faults.point("before-record-ready")
        except BaseException as exc:
            if source is not None:
                source.settle()  # an IPAM plugin still running must answer, to be released
            undo_errors = undo.rollback()
            if not undo_errors:
                store.remove(args.container_id, args.ifname)
            # else the `adding` record stays, so the runtime's DEL (or GC) finishes the job
            if isinstance(exc, errors.CniError):
                if undo_errors:
                    exc.details = "; ".join(filter(None, [exc.details, *undo_errors]))
                raise
            if isinstance(exc, OSError):
                raise errors.CniError(errors.NETWORK_SETUP_FAILED, f"ADD: {exc}",
                                      "; ".join(undo_errors)) from None
            raise
        record["status"] = "ready"
        record["backend_state"] = added.state
        record["ips"] = [ip["address"] for ip in added.ips]
        store.write(record)
    merged = _merge(prev, added.interfaces, added.ips, added.routes)
    if dns:  # the same DNS the backend gave the pod (hns: the endpoint's)
        merged["dns"] = dns
    return render(merged, conf.cni_version)


def _is_own_netns(path: str) -> bool:
    """True when CNI_NETNS names the namespace this process runs in (skel refuses that too:
    the pod's interface would be made, and addressed, on the host)."""
    try:
        mine, theirs = os.stat("/proc/self/ns/net"), os.stat(path)
    except OSError:
        return False  # the backend says what is wrong with an unusable CNI_NETNS
    return (mine.st_dev, mine.st_ino) == (theirs.st_dev, theirs.st_ino)


def _merge(prev: dict[str, object] | None, interfaces: list[dict[str, object]],
           ips: list[dict[str, object]], routes: list[dict[str, object]]) -> dict[str, object]:
    """Our interfaces appended to a previous result's; our IPs point at them."""
    base_ifaces: list[dict[str, object]] = (
        list(prev["interfaces"]) if prev else []  # type: ignore[call-overload]
    )
    offset = len(base_ifaces)
    out_ips = [dict(ip, interface=int(ip["interface"]) + offset) for ip in ips]  # type: ignore[call-overload]
    ours = {str(ip["address"]).split("/")[0] for ip in out_ips}
    kept = [ip for ip in (prev["ips"] if prev else [])  # type: ignore[attr-defined]
            if str(ip["address"]).split("/")[0] not in ours]  # now configured on our interface
    merged: dict[str, object] = {
        "interfaces": base_ifaces + interfaces,
        "ips": kept + out_ips,
        "routes": (list(prev["routes"]) if prev else []) + routes,  # type: ignore[call-overload]
    }
    return merged


def delete(req: Request) -> None:
    conf, args = req.conf, req.args
    store = Store(conf.state_dir, conf.name)
    with store.lock():
        record = store.read(args.container_id, args.ifname)
        if record is None:
            # Unknown attachment: nothing recorded, so remove only what does not depend on
            # a mode (the deterministic veth; the IPAM allocation by container id).
            load_backend(conf.backend).delete(req, None)
            if conf.ipam:
                try:
                    plugin = ipam.find_plugin(str(conf.ipam["type"]), args.path)
                except errors.CniError:
                    # An ADD records itself before it asks IPAM, so without a record it got
                    # no address: the DEL after an ADD that failed for want of the IPAM
                    # plugin (or of CNI_PATH) must succeed, or the runtime retries forever.
                    return
                # Without CNI_ARGS, as for a recorded attachment (`_env_for`): a release
                # needs none, and host-local refuses keys it does not know (no IgnoreUnknown)
                env = {k: v for k, v in os.environ.items() if k != "CNI_ARGS"}
                ipam.run(plugin, "DEL", req.stdin, env, conf.state_dir)
            return
        _delete_attachment(store, record, req)


def _delete_attachment(store: Store, record: dict[str, object], req: Request) -> None:
    """Remove one recorded attachment with the backend and netconf it was made with."""
    backend = load_backend(str(record.get("backend") or "linux"))
    backend.delete(req, record)
    stored = record.get("netconf")
    stored_ipam = stored.get("ipam") if isinstance(stored, dict) else None
    if isinstance(stored_ipam, dict) and stored_ipam.get("type"):
        path = ipam.split_path(str(record.get("cniPath") or "")) or req.args.path
        plugin = ipam.find_plugin(str(stored_ipam["type"]), path)
        ipam.run(plugin, "DEL", dumps(stored).encode(), _env_for(record), store.root)
    store.remove(str(record["containerID"]), str(record["ifname"]))


def check(req: Request) -> None:
    conf, args = req.conf, req.args
    if version_tuple(conf.cni_version) < (0, 4, 0):
        raise errors.CniError(
            errors.INCOMPATIBLE_VERSION,
            f"cniVersion: CHECK needs 0.4.0 or later, the configuration has {conf.cni_version}",
        )
    store = Store(conf.state_dir, conf.name)
    with store.lock():
        record = store.read(args.container_id, args.ifname)
        if record is None or record.get("status") != "ready":
            raise errors.CniError(
                errors.CHECK_DRIFT,
                f"CHECK: no attachment {args.container_id}/{args.ifname} in network {conf.name!r}",
            )
        if record.get("mode") != conf.mode:
            raise errors.CniError(
                errors.CHECK_DRIFT,
                f"CHECK: mode: attachment was made in mode {record.get('mode')!r}, "
                f"configuration says {conf.mode!r}",
            )
        # Without a prevResult (runtimes always pass one) the record alone says what to expect.
        if conf.prev_result:
            prev = normalize(conf.prev_result, "prevResult")
            listed = {ip["address"] for ip in prev["ips"]}  # type: ignore[attr-defined]
            for address in record.get("ips") or []:  # type: ignore[attr-defined]
                if address not in listed:
                    raise errors.CniError(
                        errors.CHECK_DRIFT, f"CHECK: prevResult.ips lacks address {address}"
                    )
            names = [i.get("name") for i in prev["interfaces"]]  # type: ignore[attr-defined]
            if names and args.ifname not in names:
                raise errors.CniError(
                    errors.CHECK_DRIFT, f"CHECK: prevResult.interfaces lacks {args.ifname}"
                )
        if conf.ipam:
            plugin = ipam.find_plugin(str(conf.ipam["type"]), args.path)
            ipam.run(plugin, "CHECK", req.stdin, _ipam_env(args), conf.state_dir)
        load_backend(str(record.get("backend") or conf.backend)).check(req, record)


def gc(req: Request) -> None:
    conf = req.conf
    if version_tuple(conf.cni_version) < (1, 1, 0):
        raise errors.CniError(
            errors.INCOMPATIBLE_VERSION,
            f"cniVersion: GC needs 1.1.0, the configuration has {conf.cni_version}",
        )
    valid = conf.valid_attachments or set()
    store = Store(conf.state_dir, conf.name)
    problems: list[str] = []
    with store.lock():
        for record in store.all():
            key = (str(record.get("containerID")), str(record.get("ifname")))
            if key in valid:
                continue
            try:
                _delete_attachment(store, record, _request_for(record, req))
            except (errors.CniError, OSError) as exc:
                problems.append(f"{key[0]}/{key[1]}: {exc}")
        live = all_records(conf.state_dir)
        backends = {str(r.get("backend") or "linux") for r in live} | {conf.backend}
        for name in sorted(backends):
            try:
                problems += load_backend(name).gc(conf, live)
            except (errors.CniError, OSError) as exc:  # keep collecting, as the spec asks
                problems.append(f"backend {name}: {exc}")
    if conf.ipam:
        try:
            plugin = ipam.find_plugin(str(conf.ipam["type"]), req.args.path)
            if ipam.supports(plugin, "1.1.0", dict(os.environ), conf.state_dir):
                ipam.run(plugin, "GC", req.stdin, dict(os.environ), conf.state_dir)
        except errors.CniError as exc:
            problems.append(exc.msg)
    if problems:
        raise errors.CniError(errors.NETWORK_SETUP_FAILED, "GC: " + "; ".join(problems))


def _request_for(record: dict[str, object], req: Request) -> Request:
    env = _env_for(record)
    env["CNI_COMMAND"] = "DEL"
    return Request(req.conf, RuntimeArgs(env), req.stdin)


def all_records(state_dir: str) -> list[dict[str, object]]:
    """Every record of every network, finished or not (GC keeps steering for all of them)."""
    out: list[dict[str, object]] = []
    try:
        networks = sorted(os.listdir(state_dir))
    except FileNotFoundError:
        return out
    for network in networks:
        if os.path.isdir(os.path.join(state_dir, network, "endpoints")):
            out += Store(state_dir, network).all()
    return out


def status(req: Request) -> None:
    conf, args = req.conf, req.args
    if version_tuple(conf.cni_version) < (1, 1, 0):
        raise errors.CniError(
            errors.INCOMPATIBLE_VERSION,
            f"cniVersion: STATUS needs 1.1.0, the configuration has {conf.cni_version}",
        )
    try:
        os.makedirs(conf.state_dir, exist_ok=True)
        if not os.access(conf.state_dir, os.W_OK):
            raise PermissionError(13, "not writable")
    except OSError as exc:
        raise errors.CniError(
            errors.NOT_AVAILABLE, f"stateDir: {conf.state_dir} is not usable: {exc.strerror}"
        ) from None
    load_backend(conf.backend).status(conf)
    if conf.ipam:
        try:
            plugin = ipam.find_plugin(str(conf.ipam["type"]), args.path)
        except errors.CniError as exc:
            raise errors.CniError(errors.NOT_AVAILABLE, exc.msg) from None
        if ipam.supports(plugin, "1.1.0", dict(os.environ), conf.state_dir):
            try:
                ipam.run(plugin, "STATUS", req.stdin, dict(os.environ), conf.state_dir)
            except errors.CniError as exc:
                limited = exc.code == errors.NOT_AVAILABLE_LIMITED
                code = errors.NOT_AVAILABLE_LIMITED if limited else errors.NOT_AVAILABLE
                raise errors.CniError(code, exc.msg, exc.details) from None
