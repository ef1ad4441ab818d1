"""Reading the cluster-scoped policy kinds into one `ClusterPolicy` model, validated as
their CRDs (kubernetes-sigs/network-policy-api) validate them:

ClusterNetworkPolicy policy.networking.k8s.io/v1alpha2
  spec.tier Admin|Baseline, spec.priority 0-1000, spec.subject exactly one of
  namespaces/pods, at most 25 ingress and 25 egress rules; a rule: name at most 100
  characters, action Accept|Deny|Pass, 1-25 peers (`from`: namespaces|pods; `to`:
  namespaces|pods|nodes|networks|domainNames, exactly one each), optional 1-25
  `protocols`, each exactly one of tcp|udp|sctp (with `destinationPort`: exactly one of
  `number` 1-65535 or `range` {start < end}) or `destinationNamedPort`; `networks` 1-25
  CIDRs (max 43 characters; host bits allowed, masked); `domainNames` 1-25 names
  matching the CRD pattern; a named port may not be used with networks/nodes/domainNames
  peers (the experimental CRD's rule).

AdminNetworkPolicy v1alpha1 (tier Admin)
  spec.priority 0-1000, subject as above, at most 100 ingress/egress rules, action
  Allow|Deny|Pass (Allow becomes Accept), 1-100 peers, optional 1-100 `ports`, each
  exactly one of portNumber {protocol (default TCP), port 1-65535}, portRange
  {protocol, start, end 1-65535}, namedPort; egress peers as above.

BaselineAdminNetworkPolicy v1alpha1 (tier Baseline, priority `BANP_PRIORITY`)
  metadata.name must be `default`; action Allow|Deny; egress peers
  namespaces|pods|nodes|networks.

A v1alpha1 portRange with start > end is accepted as its CRD accepts it; it matches no
port. Protocols must be TCP, UDP or SCTP everywhere.

Accepted with a warning, as analyzers reading manifests accept them: a missing priority
(read as 0), a `pods` subject or peer without its podSelector/namespaceSelector (read as
{}), named ports beside networks/nodes/domainNames peers (they never match an address),
unknown fields (ignored).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any, cast

from vfpnet.k8s.cidr import parse_cidr
from vfpnet.k8s.fields import (
    ObjectRef,
    child,
    index,
    require,
    want_int,
    want_list,
    want_mapping,
    want_str,
)
from vfpnet.k8s.meta import check_known_fields, read_selector, supported
from vfpnet.k8s.model import (
    BANP_PRIORITY,
    PROTOCOLS,
    Action,
    ClusterPolicy,
    ClusterPolicyKind,
    ClusterPolicyPeer,
    ClusterPolicyPort,
    ClusterPolicyRule,
    ClusterPolicySubject,
    IPNetwork,
    NamespacedPod,
    Protocol,
    Tier,
)
from vfpnet.k8s.names import port_number_problem

_DOMAIN_NAME = re.compile(
    r"(\*\.)?([a-zA-z0-9]([-a-zA-Z0-9_]*[a-zA-Z0-9])?\.)+[a-zA-z0-9]([-a-zA-Z0-9_]*[a-zA-Z0-9])?\.?"
)


class _Api:
    """What differs between the three kinds."""

    def __init__(
        self,
        kind: ClusterPolicyKind,
        actions: Mapping[str, Action],
        max_items: int,
        ingress_peers: tuple[str, ...],
        egress_peers: tuple[str, ...],
        ports_field: str,
        namespace_selector_required: bool,
    ) -> None:
        self.kind = kind
        self.actions = actions
        self.max_items = max_items
        self.ingress_peers = ingress_peers
        self.egress_peers = egress_peers
        self.ports_field = ports_field
        self.namespace_selector_required = namespace_selector_required


_CNP = _Api(
    "ClusterNetworkPolicy",
    {"Accept": "Accept", "Deny": "Deny", "Pass": "Pass"},
    25,
    ("namespaces", "pods"),
    ("namespaces", "pods", "nodes", "networks", "domainNames"),
    "protocols",
    False,
)
_ANP = _Api(
    "AdminNetworkPolicy",
    {"Allow": "Accept", "Deny": "Deny", "Pass": "Pass"},
    100,
    ("namespaces", "pods"),
    ("namespaces", "pods", "nodes", "networks", "domainNames"),
    "ports",
    True,
)
_BANP = _Api(
    "BaselineAdminNetworkPolicy",
    {"Allow": "Accept", "Deny": "Deny"},
    100,
    ("namespaces", "pods"),
    ("namespaces", "pods", "nodes", "networks"),
    "ports",
    True,
)


def read_cluster_network_policy(ref: ObjectRef, obj: Mapping[str, Any]) -> ClusterPolicy:
    """A policy.networking.k8s.io/v1alpha2 ClusterNetworkPolicy."""
    spec = want_mapping(ref, require(ref, obj, "spec", ""), "spec")
    check_known_fields(ref, spec, ("tier", "priority", "subject", "ingress", "egress"), "spec")
    tier = want_str(ref, require(ref, spec, "tier", "spec"), "spec.tier")
    if tier not in ("Admin", "Baseline"):
        ref.fail("spec.tier", f'Unsupported value: "{tier}": supported values: "Admin", "Baseline"')
    return _read_policy(ref, spec, _CNP, cast(Tier, tier), _read_priority(ref, spec))


def read_admin_network_policy(ref: ObjectRef, obj: Mapping[str, Any]) -> ClusterPolicy:
    """A policy.networking.k8s.io/v1alpha1 AdminNetworkPolicy (tier Admin)."""
    spec = want_mapping(ref, require(ref, obj, "spec", ""), "spec")
    check_known_fields(ref, spec, ("priority", "subject", "ingress", "egress"), "spec")
    return _read_policy(ref, spec, _ANP, "Admin", _read_priority(ref, spec))


def read_baseline_admin_network_policy(ref: ObjectRef, obj: Mapping[str, Any]) -> ClusterPolicy:
    """A policy.networking.k8s.io/v1alpha1 BaselineAdminNetworkPolicy (tier Baseline)."""
    if ref.name != "default":
        ref.fail(
            "metadata.name",
            f'Invalid value: "{ref.name}": Only one baseline admin network policy with '
            'metadata.name="default" can be created in the cluster',
        )
    spec = want_mapping(ref, require(ref, obj, "spec", ""), "spec")
    check_known_fields(ref, spec, ("subject", "ingress", "egress"), "spec")
    return _read_policy(ref, spec, _BANP, "Baseline", BANP_PRIORITY)


def _read_priority(ref: ObjectRef, spec: Mapping[str, Any]) -> int:
    if spec.get("priority") is None:
        ref.warn("spec.priority", "Required value: read as 0")
        return 0
    priority = want_int(ref, spec["priority"], "spec.priority")
    if not 0 <= priority <= 1000:
        ref.fail(
            "spec.priority", f"Invalid value: {priority}: must be between 0 and 1000, inclusive"
        )
    return priority


def _read_policy(
    ref: ObjectRef, spec: Mapping[str, Any], api: _Api, tier: Tier, priority: int
) -> ClusterPolicy:
    subject = _read_subject(ref, require(ref, spec, "subject", "spec"), "spec.subject", api)
    ingress = _read_rules(ref, spec.get("ingress"), "spec.ingress", api, "from")
    egress = _read_rules(ref, spec.get("egress"), "spec.egress", api, "to")
    return ClusterPolicy(
        kind=api.kind,
        name=ref.name,
        tier=tier,
        priority=priority,
        subject=subject,
        ingress=ingress,
        egress=egress,
        source=ref.file,
    )


def _one_of(ref: ObjectRef, obj: Mapping[str, Any], allowed: tuple[str, ...], path: str) -> str:
    """The single field set in `obj` (the CRDs' MinProperties=1/MaxProperties=1)."""
    check_known_fields(ref, obj, allowed, path)
    present = [key for key in allowed if obj.get(key) is not None]
    if len(present) != 1:
        ref.fail(path, f"Invalid value: exactly one of {', '.join(allowed)} must be set")
    return present[0]


def _read_list(
    ref: ObjectRef, value: object, path: str, min_items: int, max_items: int
) -> list[Any]:
    items = want_list(ref, value, path)
    if len(items) < min_items:
        ref.fail(path, f"Invalid value: should have at least {min_items} items")
    if len(items) > max_items:
        ref.fail(path, f"Too many: {len(items)}: must have at most {max_items} items")
    return items


def _read_subject(ref: ObjectRef, value: object, path: str, api: _Api) -> ClusterPolicySubject:
    obj = want_mapping(ref, value, path)
    which = _one_of(ref, obj, ("namespaces", "pods"), path)
    if which == "namespaces":
        return ClusterPolicySubject(
            namespaces=read_selector(ref, obj["namespaces"], child(path, "namespaces"))
        )
    pods = _read_namespaced_pod(ref, obj["pods"], child(path, "pods"), api)
    return ClusterPolicySubject(pods=pods)


def _read_namespaced_pod(ref: ObjectRef, value: object, path: str, api: _Api) -> NamespacedPod:
    obj = want_mapping(ref, value, path)
    check_known_fields(ref, obj, ("namespaceSelector", "podSelector"), path)
    required = ("namespaceSelector", "podSelector") if api.namespace_selector_required else (
        "podSelector",
    )
    for key in required:
        if obj.get(key) is None:
            ref.warn(child(path, key), "Required value: read as {} (selects all)")
    return NamespacedPod(
        namespace_selector=read_selector(
            ref, obj.get("namespaceSelector"), child(path, "namespaceSelector")
        ),
        pod_selector=read_selector(ref, obj.get("podSelector"), child(path, "podSelector")),
    )


def _read_rules(
    ref: ObjectRef, value: object, path: str, api: _Api, peers_field: str
) -> tuple[ClusterPolicyRule, ...]:
    rules: list[ClusterPolicyRule] = []
    for i, raw in enumerate(_read_list(ref, value, path, 0, api.max_items)):
        rule_path = index(path, i)
        obj = want_mapping(ref, raw, rule_path)
        check_known_fields(ref, obj, ("name", "action", peers_field, api.ports_field), rule_path)
        name = ""
        if obj.get("name") is not None:
            name = want_str(ref, obj["name"], child(rule_path, "name"))
            if len(name) > 100:
                ref.fail(
                    child(rule_path, "name"), "Too long: may not be more than 100 characters"
                )
        action_path = child(rule_path, "action")
        action = want_str(ref, require(ref, obj, "action", rule_path), action_path)
        if action not in api.actions:
            ref.fail(
                action_path,
                f'Unsupported value: "{action}": supported values: {supported(api.actions)}',
            )
        allowed_peers = api.ingress_peers if peers_field == "from" else api.egress_peers
        peers_path = child(rule_path, peers_field)
        peers = tuple(
            _read_peer(ref, p, index(peers_path, j), api, allowed_peers)
            for j, p in enumerate(
                _read_list(
                    ref, require(ref, obj, peers_field, rule_path), peers_path, 1, api.max_items
                )
            )
        )
        ports_path = child(rule_path, api.ports_field)
        ports: tuple[ClusterPolicyPort, ...] | None = None
        if obj.get(api.ports_field) is not None:
            read_port = _read_protocol if api.ports_field == "protocols" else _read_v1alpha1_port
            ports = tuple(
                read_port(ref, p, index(ports_path, j))
                for j, p in enumerate(
                    _read_list(ref, obj[api.ports_field], ports_path, 1, api.max_items)
                )
            )
        named = ports is not None and any(p.name is not None for p in ports)
        if named and any(
            p.networks is not None or p.nodes is not None or p.domain_names is not None
            for p in peers
        ):
            ref.warn(
                rule_path,
                "Invalid value: networks/nodes/domainNames peer cannot be set with "
                "namedPorts since there are no namedPorts for networks/nodes/domainNames: "
                "the named ports never match those peers",
            )
        rules.append(
            ClusterPolicyRule(
                action=api.actions[action], peers=peers, ports=ports, name=name
            )
        )
    return tuple(rules)


def _read_peer(
    ref: ObjectRef, value: object, path: str, api: _Api, allowed: tuple[str, ...]
) -> ClusterPolicyPeer:
    obj = want_mapping(ref, value, path)
    which = _one_of(ref, obj, allowed, path)
    field_path = child(path, which)
    if which == "namespaces":
        return ClusterPolicyPeer(namespaces=read_selector(ref, obj[which], field_path))
    if which == "pods":
        return ClusterPolicyPeer(pods=_read_namespaced_pod(ref, obj[which], field_path, api))
    if which == "nodes":
        return ClusterPolicyPeer(nodes=read_selector(ref, obj[which], field_path))
    if which == "networks":
        networks: list[IPNetwork] = []
        for i, raw in enumerate(_read_list(ref, obj[which], field_path, 1, 25)):
            item_path = index(field_path, i)
            text = want_str(ref, raw, item_path)
            if len(text) > 43:
                ref.fail(item_path, "Too long: may not be more than 43 characters")
            parsed = parse_cidr(text)
            if isinstance(parsed, str):
                ref.fail(item_path, f'Invalid value: "{text}": Invalid CIDR format provided')
            if parsed not in networks:
                networks.append(parsed)
        return ClusterPolicyPeer(networks=tuple(networks))
    names: list[str] = []
    for i, raw in enumerate(_read_list(ref, obj[which], field_path, 1, 25)):
        item_path = index(field_path, i)
        text = want_str(ref, raw, item_path)
        if not _DOMAIN_NAME.fullmatch(text):
            ref.fail(item_path, f'Invalid value: "{text}": must be a domain name, optionally '
                     "with a leading '*.' wildcard")
        names.append(text)
    return ClusterPolicyPeer(domain_names=tuple(names))


def _read_protocol_name(ref: ObjectRef, value: object, path: str) -> Protocol:
    protocol = want_str(ref, value, path)
    if protocol not in PROTOCOLS:
        ref.fail(path, f'Unsupported value: "{protocol}": supported values: {supported(PROTOCOLS)}')
    return protocol


def _read_port_number(ref: ObjectRef, value: object, path: str) -> int:
    number = want_int(ref, value, path)
    problem = port_number_problem(number)
    if problem is not None:
        ref.fail(path, f"Invalid value: {number}: {problem}")
    return number


def _read_protocol(ref: ObjectRef, value: object, path: str) -> ClusterPolicyPort:
    """One v1alpha2 `protocols` entry."""
    obj = want_mapping(ref, value, path)
    which = _one_of(ref, obj, ("tcp", "udp", "sctp", "destinationNamedPort"), path)
    field_path = child(path, which)
    if which == "destinationNamedPort":
        name = want_str(ref, obj[which], field_path)
        if not name:
            ref.fail(field_path, "Required value")
        return ClusterPolicyPort(name=name)
    protocol = cast(Protocol, which.upper())
    match = want_mapping(ref, obj[which], field_path)
    check_known_fields(ref, match, ("destinationPort",), field_path)
    port = want_mapping(ref, require(ref, match, "destinationPort", field_path),
                        child(field_path, "destinationPort"))
    port_path = child(field_path, "destinationPort")
    form = _one_of(ref, port, ("number", "range"), port_path)
    if form == "number":
        number = _read_port_number(ref, port["number"], child(port_path, "number"))
        return ClusterPolicyPort(protocol=protocol, start=number, end=number)
    range_path = child(port_path, "range")
    span = want_mapping(ref, port["range"], range_path)
    check_known_fields(ref, span, ("start", "end"), range_path)
    start = _read_port_number(ref, require(ref, span, "start", range_path),
                              child(range_path, "start"))
    end = _read_port_number(ref, require(ref, span, "end", range_path), child(range_path, "end"))
    if not start < end:
        ref.fail(range_path, "Invalid value: Start port must be less than End port")
    return ClusterPolicyPort(protocol=protocol, start=start, end=end)


def _read_v1alpha1_port(ref: ObjectRef, value: object, path: str) -> ClusterPolicyPort:
    """One v1alpha1 `ports` entry."""
    obj = want_mapping(ref, value, path)
    which = _one_of(ref, obj, ("portNumber", "namedPort", "portRange"), path)
    field_path = child(path, which)
    if which == "namedPort":
        name = want_str(ref, obj[which], field_path)
        if not name:
            ref.fail(field_path, "Required value")
        return ClusterPolicyPort(name=name)
    spec = want_mapping(ref, obj[which], field_path)
    protocol: Protocol = "TCP"
    if spec.get("protocol") is not None:
        protocol = _read_protocol_name(ref, spec["protocol"], child(field_path, "protocol"))
    read_number: Callable[[str], int] = lambda key: _read_port_number(  # noqa: E731
        ref, require(ref, spec, key, field_path), child(field_path, key)
    )
    if which == "portNumber":
        check_known_fields(ref, spec, ("protocol", "port"), field_path)
        number = read_number("port")
        return ClusterPolicyPort(protocol=protocol, start=number, end=number)
    check_known_fields(ref, spec, ("protocol", "start", "end"), field_path)
    return ClusterPolicyPort(protocol=protocol, start=read_number("start"), end=read_number("end"))
