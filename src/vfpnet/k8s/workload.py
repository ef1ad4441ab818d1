"""Reading a Pod or a workload controller into a `Workload`.

A controller is reduced to its pod template: `spec.template` (Deployment, StatefulSet,
DaemonSet, ReplicaSet, ReplicationController, Job) or `spec.jobTemplate.spec.template`
(CronJob). What is read and checked: the template's labels, the `ports` of
`spec.containers` and of restartable (sidecar) `spec.initContainers` (the containers that
serve while the pod runs), `hostNetwork`, `nodeName`, the controller ownerReference, and
for a Pod `status.podIP(s)`.
The rest of the pod spec is not checked (it does not affect network policy), nor is a
controller's `selector` against its template.

Container ports are checked as the API server checks them, but a problem is a warning
(analyzers read such manifests): an entry without a `containerPort` in 1-65535 or with a
protocol other than TCP/UDP/SCTP (default TCP) is ignored; a `name` that is not an
IANA_SVC_NAME, or not unique within its container, is kept as written.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from vfpnet.k8s.cidr import parse_address
from vfpnet.k8s.fields import (
    ObjectRef,
    child,
    index,
    require,
    want_bool,
    want_int,
    want_list,
    want_mapping,
    want_str,
)
from vfpnet.k8s.meta import read_metadata_labels, supported
from vfpnet.k8s.model import PROTOCOLS, ContainerPort, IPAddress, Workload
from vfpnet.k8s.names import port_name_problem, port_number_problem


def template_path(kind: str) -> str:
    """The field path of the pod template in a workload of `kind` ("" for a Pod)."""
    if kind == "Pod":
        return ""
    if kind == "CronJob":
        return "spec.jobTemplate.spec.template"
    return "spec.template"


def read_workload(ref: ObjectRef, obj: Mapping[str, Any]) -> Workload:
    """The Workload that a Pod or controller object describes."""
    assert ref.namespace is not None
    path = template_path(ref.kind)
    pod: Mapping[str, Any] = obj
    if path:
        walked = ""
        for key in path.split("."):
            walked = child(walked, key)
            pod = want_mapping(ref, require(ref, pod, key, walked.rpartition(".")[0]), walked)
    labels = read_metadata_labels(ref, pod, child(path, "metadata"))
    spec_path = child(path, "spec")
    spec = want_mapping(ref, pod.get("spec"), spec_path)
    ports = _read_ports(ref, spec, spec_path)
    host_network = want_bool(ref, spec.get("hostNetwork", False), child(spec_path, "hostNetwork"))
    node_name = spec.get("nodeName")
    if node_name is not None:
        node_name = want_str(ref, node_name, child(spec_path, "nodeName"))
    ips = _read_pod_ips(ref, obj) if ref.kind == "Pod" else ()
    owner = _read_controller(ref, obj)
    return Workload(
        kind=ref.kind,
        namespace=ref.namespace,
        name=ref.name,
        labels=labels,
        ports=ports,
        ips=ips,
        node_name=node_name or None,
        host_network=host_network,
        owner=owner,
        source=ref.file,
    )


def _read_ports(
    ref: ObjectRef, spec: Mapping[str, Any], spec_path: str
) -> tuple[ContainerPort, ...]:
    ports: list[ContainerPort] = []
    for field_name in ("containers", "initContainers"):
        list_path = child(spec_path, field_name)
        for i, raw in enumerate(want_list(ref, spec.get(field_name), list_path)):
            container_path = index(list_path, i)
            container = want_mapping(ref, raw, container_path)
            if field_name == "initContainers" and container.get("restartPolicy") != "Always":
                continue
            ports.extend(_read_container_ports(ref, container, container_path))
    return tuple(ports)


def _read_container_ports(
    ref: ObjectRef, container: Mapping[str, Any], container_path: str
) -> list[ContainerPort]:
    out: list[ContainerPort] = []
    names: set[str] = set()
    ports_path = child(container_path, "ports")
    for i, raw in enumerate(want_list(ref, container.get("ports"), ports_path)):
        path = index(ports_path, i)
        port_obj = want_mapping(ref, raw, path)
        number_path = child(path, "containerPort")
        if port_obj.get("containerPort") is None:
            ref.warn(number_path, "Required value: this port entry is ignored")
            continue
        number = want_int(ref, port_obj["containerPort"], number_path)
        problem = port_number_problem(number)
        if problem is not None:
            ref.warn(number_path, f"Invalid value: {number}: {problem}: this port entry is ignored")
            continue
        protocol = want_str(ref, port_obj.get("protocol") or "TCP", child(path, "protocol"))
        if protocol not in PROTOCOLS:
            ref.warn(
                child(path, "protocol"),
                f'Unsupported value: "{protocol}": supported values: {supported(PROTOCOLS)}: '
                "this port entry is ignored",
            )
            continue
        name: str | None = None
        if port_obj.get("name") is not None:
            name = want_str(ref, port_obj["name"], child(path, "name")) or None
        if name is not None:
            problem = port_name_problem(name)
            if problem is not None:
                ref.warn(child(path, "name"), f'Invalid value: "{name}": {problem}')
            if name in names:
                ref.warn(child(path, "name"), f'Duplicate value: "{name}"')
            names.add(name)
        out.append(ContainerPort(port=number, protocol=protocol, name=name))
    return out


def _read_controller(ref: ObjectRef, obj: Mapping[str, Any]) -> tuple[str, str] | None:
    """(kind, name) of the ownerReference marked `controller: true`, if any."""
    metadata = want_mapping(ref, obj.get("metadata"), "metadata")
    refs_path = "metadata.ownerReferences"
    for i, raw in enumerate(want_list(ref, metadata.get("ownerReferences"), refs_path)):
        path = index(refs_path, i)
        entry = want_mapping(ref, raw, path)
        if entry.get("controller") is not True:
            continue
        if not entry.get("name"):
            ref.warn(child(path, "name"), "Required value: this ownerReference is ignored")
            continue
        name = want_str(ref, entry["name"], child(path, "name"))
        if not entry.get("kind"):
            ref.warn(child(path, "kind"), "Required value: read as Pod")
            return ("Pod", name)
        return (want_str(ref, entry["kind"], child(path, "kind")), name)
    return None


def _read_pod_ips(ref: ObjectRef, obj: Mapping[str, Any]) -> tuple[IPAddress, ...]:
    status = want_mapping(ref, obj.get("status"), "status")
    found: list[IPAddress] = []

    def add(value: object, path: str) -> None:
        text = want_str(ref, value, path)
        if not text:
            return
        address = parse_address(text)
        if isinstance(address, str):
            ref.fail(path, f'Invalid value: "{text}": {address}')
        if address not in found:
            found.append(address)

    if status.get("podIP") is not None:
        add(status["podIP"], "status.podIP")
    for i, raw in enumerate(want_list(ref, status.get("podIPs"), "status.podIPs")):
        path = index("status.podIPs", i)
        entry = want_mapping(ref, raw, path)
        add(require(ref, entry, "ip", path), child(path, "ip"))
    return tuple(found)
