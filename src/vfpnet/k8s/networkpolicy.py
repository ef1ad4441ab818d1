"""Reading a networking.k8s.io/v1 NetworkPolicy, validated as the API server does
(pkg/apis/networking/validation) and defaulted as it does:

- a port's protocol defaults to TCP;
- policyTypes, when omitted or empty, is inferred: Ingress always, Egress only when
  `egress` has at least one rule;
- an omitted spec or podSelector is the empty selector (every pod of the namespace).

Checks: selectors (label syntax, operators), each peer sets podSelector and/or
namespaceSelector or ipBlock alone, ipBlock CIDRs valid with every `except` a strict
subset of `cidr`, ports (protocol TCP/UDP/SCTP, numeric port 1-65535 or an
IANA_SVC_NAME, `endPort` only with a numeric `port` and not below it), policyTypes
Ingress/Egress (at most two). Unknown fields are refused (kubectl's strict validation).

A CIDR with host bits set (`10.0.0.1/24`) is accepted and read as its network, with a
warning, as API servers before strict CIDR validation and analyzers read it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from vfpnet.k8s.cidr import host_bits_set, parse_cidr
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
    PROTOCOLS,
    IPBlock,
    IPNetwork,
    NetworkPolicy,
    NetworkPolicyPeer,
    NetworkPolicyPort,
    NetworkPolicyRule,
    PolicyType,
)
from vfpnet.k8s.names import port_name_problem, port_number_problem

_POLICY_TYPES: tuple[PolicyType, ...] = ("Ingress", "Egress")


def read_network_policy(ref: ObjectRef, obj: Mapping[str, Any]) -> NetworkPolicy:
    """The NetworkPolicy of one manifest object."""
    assert ref.namespace is not None
    spec = want_mapping(ref, obj.get("spec"), "spec")
    check_known_fields(ref, spec, ("podSelector", "ingress", "egress", "policyTypes"), "spec")
    pod_selector = read_selector(ref, spec.get("podSelector"), "spec.podSelector")
    ingress = _read_rules(ref, spec.get("ingress"), "spec.ingress", "from")
    egress = _read_rules(ref, spec.get("egress"), "spec.egress", "to")
    types_path = "spec.policyTypes"
    raw_types = want_list(ref, spec.get("policyTypes"), types_path)
    if len(raw_types) > 2:
        ref.fail(types_path, "Invalid value: may not specify more than two policyTypes")
    policy_types: set[PolicyType] = set()
    for i, raw in enumerate(raw_types):
        value = want_str(ref, raw, index(types_path, i))
        if value not in _POLICY_TYPES:
            ref.fail(
                index(types_path, i),
                f'Unsupported value: "{value}": supported values: {supported(_POLICY_TYPES)}',
            )
        policy_types.add(value)
    if not policy_types:
        policy_types = {"Ingress", "Egress"} if egress else {"Ingress"}
    return NetworkPolicy(
        namespace=ref.namespace,
        name=ref.name,
        pod_selector=pod_selector,
        policy_types=frozenset(policy_types),
        ingress=ingress,
        egress=egress,
        source=ref.file,
    )


def _read_rules(
    ref: ObjectRef, value: object, path: str, peers_field: str
) -> tuple[NetworkPolicyRule, ...]:
    rules: list[NetworkPolicyRule] = []
    for i, raw in enumerate(want_list(ref, value, path)):
        rule_path = index(path, i)
        rule = want_mapping(ref, raw, rule_path)
        check_known_fields(ref, rule, (peers_field, "ports"), rule_path)
        ports_path = child(rule_path, "ports")
        ports = tuple(
            _read_port(ref, p, index(ports_path, j))
            for j, p in enumerate(want_list(ref, rule.get("ports"), ports_path))
        )
        peers_path = child(rule_path, peers_field)
        peers = tuple(
            _read_peer(ref, p, index(peers_path, j))
            for j, p in enumerate(want_list(ref, rule.get(peers_field), peers_path))
        )
        rules.append(NetworkPolicyRule(peers=peers, ports=ports))
    return tuple(rules)


def _read_port(ref: ObjectRef, value: object, path: str) -> NetworkPolicyPort:
    obj = want_mapping(ref, value, path)
    check_known_fields(ref, obj, ("protocol", "port", "endPort"), path)
    protocol = "TCP"
    if obj.get("protocol") is not None:
        protocol = want_str(ref, obj["protocol"], child(path, "protocol"))
    if protocol not in PROTOCOLS:
        ref.fail(
            child(path, "protocol"),
            f'Unsupported value: "{protocol}": supported values: {supported(PROTOCOLS)}',
        )
    raw_port = obj.get("port")
    port: int | str | None = None
    if isinstance(raw_port, str):
        port = raw_port
        problem = port_name_problem(port)
        if problem is not None:
            ref.fail(child(path, "port"), f'Invalid value: "{port}": {problem}')
    elif raw_port is not None:
        port = want_int(ref, raw_port, child(path, "port"))
        problem = port_number_problem(port)
        if problem is not None:
            ref.fail(child(path, "port"), f"Invalid value: {port}: {problem}")
    end_port: int | None = None
    if obj.get("endPort") is not None:
        end_port = want_int(ref, obj["endPort"], child(path, "endPort"))
        end_path = child(path, "endPort")
        if port is None:
            ref.fail(end_path, "Invalid value: may not be specified when `port` is not specified")
        if isinstance(port, str):
            ref.fail(end_path, "Invalid value: may not be specified when `port` is non-numeric")
        assert isinstance(port, int)
        if end_port < port:
            ref.fail(
                end_path, f"Invalid value: {end_port}: must be greater than or equal to `port`"
            )
        problem = port_number_problem(end_port)
        if problem is not None:
            ref.fail(end_path, f"Invalid value: {end_port}: {problem}")
    return NetworkPolicyPort(protocol=protocol, port=port, end_port=end_port)


def _read_peer(ref: ObjectRef, value: object, path: str) -> NetworkPolicyPeer:
    obj = want_mapping(ref, value, path)
    check_known_fields(ref, obj, ("podSelector", "namespaceSelector", "ipBlock"), path)
    pod_selector = None
    namespace_selector = None
    ip_block = None
    if obj.get("podSelector") is not None:
        pod_selector = read_selector(ref, obj["podSelector"], child(path, "podSelector"))
    if obj.get("namespaceSelector") is not None:
        namespace_selector = read_selector(
            ref, obj["namespaceSelector"], child(path, "namespaceSelector")
        )
    if obj.get("ipBlock") is not None:
        ip_block = _read_ip_block(ref, obj["ipBlock"], child(path, "ipBlock"))
    if pod_selector is None and namespace_selector is None and ip_block is None:
        ref.fail(path, "Required value: must specify a peer")
    if ip_block is not None and (pod_selector is not None or namespace_selector is not None):
        ref.fail(path, "Forbidden: may not specify both ipBlock and another peer")
    return NetworkPolicyPeer(
        pod_selector=pod_selector, namespace_selector=namespace_selector, ip_block=ip_block
    )


def _read_ip_block(ref: ObjectRef, value: object, path: str) -> IPBlock:
    obj = want_mapping(ref, value, path)
    check_known_fields(ref, obj, ("cidr", "except"), path)
    cidr_path = child(path, "cidr")
    text = want_str(ref, require(ref, obj, "cidr", path), cidr_path)
    if not text:
        ref.fail(cidr_path, "Required value")
    cidr = _read_cidr(ref, text, cidr_path)
    excepts: list[IPNetwork] = []
    except_path = child(path, "except")
    for i, raw in enumerate(want_list(ref, obj.get("except"), except_path)):
        item_path = index(except_path, i)
        item_text = want_str(ref, raw, item_path)
        item = _read_cidr(ref, item_text, item_path)
        inside = (
            item.version == cidr.version
            and item.prefixlen > cidr.prefixlen
            and item.network_address in cidr
        )
        if not inside:
            ref.fail(item_path, f'Invalid value: "{item_text}": must be a strict subset of `cidr`')
        excepts.append(item)
    return IPBlock(cidr=cidr, except_=tuple(excepts))


def _read_cidr(ref: ObjectRef, text: str, path: str) -> IPNetwork:
    parsed = parse_cidr(text)
    if isinstance(parsed, str):
        ref.fail(path, f'Invalid value: "{text}": {parsed}')
    if host_bits_set(text, parsed):
        ref.warn(path, f"host bits set, read as {parsed}")
    return parsed
