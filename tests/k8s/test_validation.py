"""Every way a manifest can be invalid: `vfpnet reach` exits 2, prints nothing on stdout
and one line on stderr naming the file, the object (KIND NS/NAME) and the field path."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import pytest
from k8s_docs import (
    Doc,
    anp,
    anp_ports,
    banp,
    cnp,
    cnp_egress,
    cnp_protocols,
    ingress_from,
    ingress_ports,
    np,
    pod,
    sel_expr,
)

ManifestWriter = Callable[..., str]


NP = "NetworkPolicy x/np"
CNP = "ClusterNetworkPolicy c"
ANP = "AdminNetworkPolicy a"
INVALID_CIDR = "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)"
RANGE = "must be between 1 and 65535, inclusive"

# (id, documents, expected message after "FILE: ")
CASES: list[tuple[str, list[Doc], str]] = [
    # --- metadata ---------------------------------------------------------------------
    ("name missing", [{"apiVersion": "v1", "kind": "Pod", "metadata": {"namespace": "x"}}],
     "Pod x/<unnamed>: metadata.name: Required value: name is required"),
    ("metadata not an object", [{"apiVersion": "v1", "kind": "Pod", "metadata": ["x"]}],
     "Pod default/<unnamed>: metadata: must be an object, not a list"),
    ("duplicate policy", [np({}), np({})],
     f'{NP}: metadata.name: Duplicate value: "np": already defined in {{file}} '
     "(the API server would refuse it: AlreadyExists)"),
    ("duplicate namespace",
     [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "x"}}] * 2,
     'Namespace x: metadata.name: Duplicate value: "x": already defined in {file} '
     "(the API server would refuse it: AlreadyExists)"),
    # --- labels ----------------------------------------------------------------------------
    ("label key bad characters", [pod(labels={"app name": "a"})],
     'Pod x/p: metadata.labels.app name: Invalid value: "app name": name part must consist of '
     "alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric "
     "character"),
    ("label key name part too long", [pod(labels={"k" * 64: "a"})],
     f'Pod x/p: metadata.labels.{"k" * 64}: Invalid value: "{"k" * 64}": '
     "name part must be no more than 63 characters"),
    ("label key prefix not a subdomain", [pod(labels={"Example.com/app": "a"})],
     'Pod x/p: metadata.labels.Example.com/app: Invalid value: "Example.com/app": prefix part '
     "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' "
     "or '.', and must start and end with an alphanumeric character"),
    ("label key empty prefix", [pod(labels={"/app": "a"})],
     'Pod x/p: metadata.labels./app: Invalid value: "/app": prefix part must be non-empty'),
    ("label key two slashes", [pod(labels={"a/b/c": "a"})],
     'Pod x/p: metadata.labels.a/b/c: Invalid value: "a/b/c": a qualified name must consist of '
     "alphanumeric characters, '-', '_' or '.', with an optional DNS subdomain prefix and '/' "
     "(e.g. 'example.com/MyName')"),
    ("label value too long", [pod(labels={"app": "v" * 64})],
     f'Pod x/p: metadata.labels.app: Invalid value: "{"v" * 64}": '
     "must be no more than 63 characters"),
    ("label value bad characters", [pod(labels={"app": "-web"})],
     'Pod x/p: metadata.labels.app: Invalid value: "-web": a valid label must consist of '
     "alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric "
     "character"),
    ("label value not a string", [pod(labels={"version": 1})],
     "Pod x/p: metadata.labels.version: must be a string, not a number"),
    ("template label invalid",
     [{"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d", "namespace": "x"},
       "spec": {"template": {"metadata": {"labels": {"app": "a b"}}, "spec": {}}}}],
     'Deployment x/d: spec.template.metadata.labels.app: Invalid value: "a b": a valid label '
     "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
     "alphanumeric character"),
    ("namespace label invalid",
     [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "x", "labels": {"a": "!"}}}],
     'Namespace x: metadata.labels.a: Invalid value: "!": a valid label must consist of '
     "alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric "
     "character"),
    ("policy object label invalid",
     [{**np({}), "metadata": {"name": "np", "namespace": "x", "labels": {"a": "b c"}}}],
     f'{NP}: metadata.labels.a: Invalid value: "b c": a valid label must consist of '
     "alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric "
     "character"),
    # --- selectors -------------------------------------------------------------------------
    ("In without values", [sel_expr(key="app", operator="In")],
     f"{NP}: spec.podSelector.matchExpressions[0].values: Required value: must be specified "
     "when `operator` is 'In' or 'NotIn'"),
    ("NotIn with empty values", [sel_expr(key="app", operator="NotIn", values=[])],
     f"{NP}: spec.podSelector.matchExpressions[0].values: Required value: must be specified "
     "when `operator` is 'In' or 'NotIn'"),
    ("Exists with values", [sel_expr(key="app", operator="Exists", values=["a"])],
     f"{NP}: spec.podSelector.matchExpressions[0].values: Forbidden: may not be specified "
     "when `operator` is 'Exists' or 'DoesNotExist'"),
    ("DoesNotExist with values", [sel_expr(key="app", operator="DoesNotExist", values=["a"])],
     f"{NP}: spec.podSelector.matchExpressions[0].values: Forbidden: may not be specified "
     "when `operator` is 'Exists' or 'DoesNotExist'"),
    ("unknown operator", [sel_expr(key="app", operator="Equals", values=["a"])],
     f'{NP}: spec.podSelector.matchExpressions[0].operator: Unsupported value: "Equals": '
     'supported values: "In", "NotIn", "Exists", "DoesNotExist"'),
    ("expression without key", [sel_expr(operator="Exists")],
     f"{NP}: spec.podSelector.matchExpressions[0].key: Required value"),
    ("expression key invalid", [sel_expr(key="a b", operator="Exists")],
     f'{NP}: spec.podSelector.matchExpressions[0].key: Invalid value: "a b": name part must '
     "consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
     "alphanumeric character"),
    ("expression value invalid", [sel_expr(key="app", operator="In", values=["ok", "not ok"])],
     f'{NP}: spec.podSelector.matchExpressions[0].values[1]: Invalid value: "not ok": a valid '
     "label must consist of alphanumeric characters, '-', '_' or '.', and must start and end "
     "with an alphanumeric character"),
    ("matchLabels value invalid",
     [np(ingress_from({"namespaceSelector": {"matchLabels": {"team": "a/b"}}}))],
     f'{NP}: spec.ingress[0].from[0].namespaceSelector.matchLabels.team: Invalid value: "a/b": '
     "a valid label must consist of alphanumeric characters, '-', '_' or '.', and must start "
     "and end with an alphanumeric character"),
    # --- NetworkPolicy ports -----------------------------------------------------------------
    ("port zero", [np(ingress_ports({"port": 0}))],
     f"{NP}: spec.ingress[0].ports[0].port: Invalid value: 0: {RANGE}"),
    ("port too large", [np({"egress": [{"ports": [{"port": 80}, {"port": 65536}]}]})],
     f"{NP}: spec.egress[0].ports[1].port: Invalid value: 65536: {RANGE}"),
    ("named port too long", [np(ingress_ports({"port": "abcdefghijklmnop"}))],
     f'{NP}: spec.ingress[0].ports[0].port: Invalid value: "abcdefghijklmnop": '
     "must be no more than 15 characters"),
    ("named port uppercase", [np(ingress_ports({"port": "HTTP"}))],
     f'{NP}: spec.ingress[0].ports[0].port: Invalid value: "HTTP": must contain only '
     "alpha-numeric characters (a-z, 0-9), and hyphens (-)"),
    ("named port without letter", [np(ingress_ports({"port": "8080"}))],
     f'{NP}: spec.ingress[0].ports[0].port: Invalid value: "8080": '
     "must contain at least one letter (a-z)"),
    ("named port leading hyphen", [np(ingress_ports({"port": "-http"}))],
     f'{NP}: spec.ingress[0].ports[0].port: Invalid value: "-http": '
     "must not begin or end with a hyphen"),
    ("named port double hyphen", [np(ingress_ports({"port": "h--ttp"}))],
     f'{NP}: spec.ingress[0].ports[0].port: Invalid value: "h--ttp": '
     "must not contain consecutive hyphens"),
    ("endPort with named port", [np(ingress_ports({"port": "http", "endPort": 90}))],
     f"{NP}: spec.ingress[0].ports[0].endPort: Invalid value: may not be specified when "
     "`port` is non-numeric"),
    ("endPort without port", [np(ingress_ports({"endPort": 90}))],
     f"{NP}: spec.ingress[0].ports[0].endPort: Invalid value: may not be specified when "
     "`port` is not specified"),
    ("endPort below port", [np(ingress_ports({"port": 90, "endPort": 80}))],
     f"{NP}: spec.ingress[0].ports[0].endPort: Invalid value: 80: must be greater than or "
     "equal to `port`"),
    ("endPort too large", [np(ingress_ports({"port": 90, "endPort": 70000}))],
     f"{NP}: spec.ingress[0].ports[0].endPort: Invalid value: 70000: {RANGE}"),
    ("protocol unsupported", [np(ingress_ports({"protocol": "ICMP"}))],
     f'{NP}: spec.ingress[0].ports[0].protocol: Unsupported value: "ICMP": '
     'supported values: "TCP", "UDP", "SCTP"'),
    ("protocol lowercase", [np(ingress_ports({"protocol": "tcp", "port": 80}))],
     f'{NP}: spec.ingress[0].ports[0].protocol: Unsupported value: "tcp": '
     'supported values: "TCP", "UDP", "SCTP"'),
    ("port a float", [np(ingress_ports({"port": 80.5}))],
     f"{NP}: spec.ingress[0].ports[0].port: must be an integer, not a number"),
    # --- NetworkPolicy peers and ipBlock -----------------------------------------------------
    ("empty peer", [np(ingress_from({}))],
     f"{NP}: spec.ingress[0].from[0]: Required value: must specify a peer"),
    ("ipBlock with podSelector", [np(ingress_from({"ipBlock": {"cidr": "10.0.0.0/8"},
                                                   "podSelector": {}}))],
     f"{NP}: spec.ingress[0].from[0]: Forbidden: may not specify both ipBlock and another peer"),
    ("cidr missing", [np(ingress_from({"ipBlock": {"except": ["10.0.0.0/16"]}}))],
     f"{NP}: spec.ingress[0].from[0].ipBlock.cidr: Required value"),
    ("cidr garbage", [np(ingress_from({"ipBlock": {"cidr": "10.0.0/8"}}))],
     f'{NP}: spec.ingress[0].from[0].ipBlock.cidr: Invalid value: "10.0.0/8": {INVALID_CIDR}'),
    ("cidr without prefix", [np(ingress_from({"ipBlock": {"cidr": "10.0.0.1"}}))],
     f'{NP}: spec.ingress[0].from[0].ipBlock.cidr: Invalid value: "10.0.0.1": {INVALID_CIDR}'),
    ("cidr prefix too long", [np(ingress_from({"ipBlock": {"cidr": "10.0.0.0/33"}}))],
     f'{NP}: spec.ingress[0].from[0].ipBlock.cidr: Invalid value: "10.0.0.0/33": '
     f"{INVALID_CIDR}"),
    ("cidr leading zero", [np(ingress_from({"ipBlock": {"cidr": "10.0.0.010/32"}}))],
     f'{NP}: spec.ingress[0].from[0].ipBlock.cidr: Invalid value: "10.0.0.010/32": '
     f"{INVALID_CIDR}"),
    ("cidr prefix leading zero", [np(ingress_from({"ipBlock": {"cidr": "10.0.0.0/08"}}))],
     f'{NP}: spec.ingress[0].from[0].ipBlock.cidr: Invalid value: "10.0.0.0/08": '
     f"{INVALID_CIDR}"),
    ("except outside cidr",
     [np(ingress_from({"ipBlock": {"cidr": "10.0.0.0/16", "except": ["10.1.0.0/24"]}}))],
     f'{NP}: spec.ingress[0].from[0].ipBlock.except[0]: Invalid value: "10.1.0.0/24": '
     "must be a strict subset of `cidr`"),
    ("except equal to cidr",
     [np(ingress_from({"ipBlock": {"cidr": "10.0.0.0/16", "except": ["10.0.0.0/16"]}}))],
     f'{NP}: spec.ingress[0].from[0].ipBlock.except[0]: Invalid value: "10.0.0.0/16": '
     "must be a strict subset of `cidr`"),
    ("except other family",
     [np(ingress_from({"ipBlock": {"cidr": "0.0.0.0/0", "except": ["fd00::/8"]}}))],
     f'{NP}: spec.ingress[0].from[0].ipBlock.except[0]: Invalid value: "fd00::/8": '
     "must be a strict subset of `cidr`"),
    ("except invalid",
     [np(ingress_from({"ipBlock": {"cidr": "10.0.0.0/8", "except": ["10.0.0.0/8/8"]}}))],
     f'{NP}: spec.ingress[0].from[0].ipBlock.except[0]: Invalid value: "10.0.0.0/8/8": '
     f"{INVALID_CIDR}"),
    ("except with host bits outside cidr once masked",
     [np(ingress_from({"ipBlock": {"cidr": "10.0.0.0/24", "except": ["10.0.0.1/16"]}}))],
     f'{NP}: spec.ingress[0].from[0].ipBlock.except[0]: Invalid value: "10.0.0.1/16": '
     "must be a strict subset of `cidr`"),
    ("ipv4-mapped ipv6 cidr", [np(ingress_from({"ipBlock": {"cidr": "::ffff:10.0.0.0/104"}}))],
     f'{NP}: spec.ingress[0].from[0].ipBlock.cidr: Invalid value: "::ffff:10.0.0.0/104": '
     f"{INVALID_CIDR}"),
    # --- NetworkPolicy structure ---------------------------------------------------------------
    ("policyTypes unsupported", [np({"policyTypes": ["Ingress", "egress"]})],
     f'{NP}: spec.policyTypes[1]: Unsupported value: "egress": '
     'supported values: "Ingress", "Egress"'),
    ("policyTypes too many", [np({"policyTypes": ["Ingress", "Egress", "Ingress"]})],
     f"{NP}: spec.policyTypes: Invalid value: may not specify more than two policyTypes"),
    ("ingress not a list", [np({"ingress": {"from": []}})],
     f"{NP}: spec.ingress: must be a list, not an object"),
    # --- workloads ---------------------------------------------------------------------------
    ("pod IP invalid", [pod(status={"podIP": "10.0.0.300"})],
     'Pod x/p: status.podIP: Invalid value: "10.0.0.300": must be a valid IP address, '
     "(e.g. 10.9.8.7 or 2001:db8::ffff)"),
    ("podIPs entry without ip", [pod(status={"podIPs": [{"ip": "10.0.0.1"}, {}]})],
     "Pod x/p: status.podIPs[1].ip: Required value"),
    ("deployment without template",
     [{"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"}, "spec": {}}],
     "Deployment default/d: spec.template: Required value"),
    ("cronjob without job template",
     [{"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "cj"},
       "spec": {"schedule": "* * * * *"}}],
     "CronJob default/cj: spec.jobTemplate: Required value"),
    ("hostNetwork not a boolean", [pod(hostNetwork="yes")],
     "Pod x/p: spec.hostNetwork: must be a boolean, not a string"),
    # --- ClusterNetworkPolicy ------------------------------------------------------------------
    ("cnp priority too high", [cnp({"priority": 1001})],
     f"{CNP}: spec.priority: Invalid value: 1001: must be between 0 and 1000, inclusive"),
    ("cnp priority negative", [cnp({"priority": -1})],
     f"{CNP}: spec.priority: Invalid value: -1: must be between 0 and 1000, inclusive"),
    ("cnp tier invalid", [cnp({"tier": "Developer"})],
     f'{CNP}: spec.tier: Unsupported value: "Developer": supported values: "Admin", "Baseline"'),
    ("cnp tier missing", [cnp({"tier": None})], f"{CNP}: spec.tier: Required value"),
    ("cnp subject missing", [cnp({"subject": None})], f"{CNP}: spec.subject: Required value"),
    ("cnp subject both forms",
     [cnp({"subject": {"namespaces": {}, "pods": {"podSelector": {}}}})],
     f"{CNP}: spec.subject: Invalid value: exactly one of namespaces, pods must be set"),
    ("cnp subject empty", [cnp({"subject": {}})],
     f"{CNP}: spec.subject: Invalid value: exactly one of namespaces, pods must be set"),
    ("cnp action Allow", [cnp({"ingress": [{"action": "Allow", "from": [{"namespaces": {}}]}]})],
     f'{CNP}: spec.ingress[0].action: Unsupported value: "Allow": '
     'supported values: "Accept", "Deny", "Pass"'),
    ("cnp action missing", [cnp({"ingress": [{"from": [{"namespaces": {}}]}]})],
     f"{CNP}: spec.ingress[0].action: Required value"),
    ("cnp from missing", [cnp({"ingress": [{"action": "Deny"}]})],
     f"{CNP}: spec.ingress[0].from: Required value"),
    ("cnp from empty", [cnp({"ingress": [{"action": "Deny", "from": []}]})],
     f"{CNP}: spec.ingress[0].from: Invalid value: should have at least 1 items"),
    ("cnp too many rules",
     [cnp({"egress": [{"action": "Deny", "to": [{"namespaces": {}}]}] * 26})],
     f"{CNP}: spec.egress: Too many: 26: must have at most 25 items"),
    ("cnp rule name too long",
     [cnp({"ingress": [{"name": "r" * 101, "action": "Deny", "from": [{"namespaces": {}}]}]})],
     f"{CNP}: spec.ingress[0].name: Too long: may not be more than 100 characters"),
    ("cnp networks in ingress peer",
     [cnp({"ingress": [{"action": "Deny", "from": [{"networks": ["10.0.0.0/8"]}]}]})],
     f"{CNP}: spec.ingress[0].from[0]: Invalid value: exactly one of namespaces, pods must "
     "be set"),
    ("cnp peer with two fields",
     [cnp_egress({"to": [{"namespaces": {}, "networks": ["10.0.0.0/8"]}]})],
     f"{CNP}: spec.egress[0].to[0]: Invalid value: exactly one of namespaces, pods, nodes, "
     "networks, domainNames must be set"),
    ("cnp networks invalid", [cnp_egress({"to": [{"networks": ["10.0.0.0/8", "300.0.0.0/8"]}]})],
     f'{CNP}: spec.egress[0].to[0].networks[1]: Invalid value: "300.0.0.0/8": '
     "Invalid CIDR format provided"),
    ("cnp networks empty", [cnp_egress({"to": [{"networks": []}]})],
     f"{CNP}: spec.egress[0].to[0].networks: Invalid value: should have at least 1 items"),
    ("cnp domain name invalid", [cnp_egress({"to": [{"domainNames": ["exa mple.com"]}]})],
     f'{CNP}: spec.egress[0].to[0].domainNames[0]: Invalid value: "exa mple.com": must be a '
     "domain name, optionally with a leading '*.' wildcard"),
    ("cnp protocol two fields",
     [cnp_protocols({"tcp": {"destinationPort": {"number": 80}}, "destinationNamedPort": "x"})],
     f"{CNP}: spec.egress[0].protocols[0]: Invalid value: exactly one of tcp, udp, sctp, "
     "destinationNamedPort must be set"),
    ("cnp protocol icmp", [cnp_protocols({"icmp": {}})],
     f"{CNP}: spec.egress[0].protocols[0]: Invalid value: exactly one of tcp, udp, sctp, "
     "destinationNamedPort must be set"),
    ("cnp tcp without destinationPort", [cnp_protocols({"tcp": {}})],
     f"{CNP}: spec.egress[0].protocols[0].tcp.destinationPort: Required value"),
    ("cnp port number zero", [cnp_protocols({"udp": {"destinationPort": {"number": 0}}})],
     f"{CNP}: spec.egress[0].protocols[0].udp.destinationPort.number: Invalid value: 0: {RANGE}"),
    ("cnp port number and range",
     [cnp_protocols({"sctp": {"destinationPort": {"number": 80,
                                                  "range": {"start": 1, "end": 2}}}})],
     f"{CNP}: spec.egress[0].protocols[0].sctp.destinationPort: Invalid value: exactly one of "
     "number, range must be set"),
    ("cnp range start equals end",
     [cnp_protocols({"tcp": {"destinationPort": {"range": {"start": 80, "end": 80}}}})],
     f"{CNP}: spec.egress[0].protocols[0].tcp.destinationPort.range: Invalid value: "
     "Start port must be less than End port"),
    ("cnp range end too large",
     [cnp_protocols({"tcp": {"destinationPort": {"range": {"start": 80, "end": 65536}}}})],
     f"{CNP}: spec.egress[0].protocols[0].tcp.destinationPort.range.end: Invalid value: "
     f"65536: {RANGE}"),
    ("cnp protocols empty", [cnp_protocols()],
     f"{CNP}: spec.egress[0].protocols: Invalid value: should have at least 1 items"),
    ("cnp named port empty", [cnp_protocols({"destinationNamedPort": ""})],
     f"{CNP}: spec.egress[0].protocols[0].destinationNamedPort: Required value"),
    ("cnp spec missing",
     [{"apiVersion": "policy.networking.k8s.io/v1alpha2", "kind": "ClusterNetworkPolicy",
       "metadata": {"name": "c"}}],
     f"{CNP}: spec: Required value"),
    # --- AdminNetworkPolicy / BaselineAdminNetworkPolicy -----------------------------------
    ("anp priority too high", [anp({"priority": 5000})],
     f"{ANP}: spec.priority: Invalid value: 5000: must be between 0 and 1000, inclusive"),
    ("anp action Accept", [anp({"egress": [{"action": "Accept", "to": [{"namespaces": {}}]}]})],
     f'{ANP}: spec.egress[0].action: Unsupported value: "Accept": '
     'supported values: "Allow", "Deny", "Pass"'),
    ("anp port two forms",
     [anp_ports({"portNumber": {"port": 80}, "namedPort": "http"})],
     f"{ANP}: spec.ingress[0].ports[0]: Invalid value: exactly one of portNumber, namedPort, "
     "portRange must be set"),
    ("anp portNumber out of range", [anp_ports({"portNumber": {"protocol": "UDP", "port": 0}})],
     f"{ANP}: spec.ingress[0].ports[0].portNumber.port: Invalid value: 0: {RANGE}"),
    ("anp portNumber port missing", [anp_ports({"portNumber": {"protocol": "TCP"}})],
     f"{ANP}: spec.ingress[0].ports[0].portNumber.port: Required value"),
    ("anp portRange protocol", [anp_ports({"portRange": {"protocol": "ICMP", "start": 1,
                                                         "end": 2}})],
     f'{ANP}: spec.ingress[0].ports[0].portRange.protocol: Unsupported value: "ICMP": '
     'supported values: "TCP", "UDP", "SCTP"'),
    ("anp ports empty", [anp_ports()],
     f"{ANP}: spec.ingress[0].ports: Invalid value: should have at least 1 items"),
    ("anp too many rules",
     [anp({"ingress": [{"action": "Deny", "from": [{"namespaces": {}}]}] * 101})],
     f"{ANP}: spec.ingress: Too many: 101: must have at most 100 items"),
    ("banp not named default", [banp({}, name="other")],
     'BaselineAdminNetworkPolicy other: metadata.name: Invalid value: "other": Only one '
     'baseline admin network policy with metadata.name="default" can be created in the cluster'),
    ("banp action Pass",
     [banp({"ingress": [{"action": "Pass", "from": [{"namespaces": {}}]}]})],
     'BaselineAdminNetworkPolicy default: spec.ingress[0].action: Unsupported value: "Pass": '
     'supported values: "Allow", "Deny"'),
    ("banp domainNames peer",
     [banp({"egress": [{"action": "Allow", "to": [{"domainNames": ["a.com"]}]}]})],
     "BaselineAdminNetworkPolicy default: spec.egress[0].to[0]: Invalid value: exactly one of "
     "namespaces, pods, nodes, networks must be set"),
]


@pytest.mark.parametrize(("docs", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_invalid_manifest_exits_2_with_one_line_naming_file_object_field(
    write: ManifestWriter, reach_error: Callable[..., str], docs: list[Doc], expected: str
) -> None:
    path = write(*docs)
    assert reach_error(path) == f"vfpnet: {path}: {expected.format(file=path)}"


def test_yaml_syntax_error_names_file_line_and_column(
    write: ManifestWriter, reach_error: Callable[..., str]
) -> None:
    path = write("apiVersion: v1\nkind: Pod\nmetadata:\n  name: [p\n")
    line = reach_error(path)
    assert line.startswith(f"vfpnet: {path}:5:1: invalid YAML: ")


def test_yaml_error_in_second_document_names_its_line(
    write: ManifestWriter, reach_error: Callable[..., str]
) -> None:
    path = write("kind: Namespace\napiVersion: v1\nmetadata: {name: a}\n---\nkind: : x\n")
    assert reach_error(path).startswith(f"vfpnet: {path}:5:")


def test_json_syntax_error_names_file_line_and_column(
    write: ManifestWriter, reach_error: Callable[..., str]
) -> None:
    path = write('{"apiVersion": "v1",\n "kind": "Pod",\n "metadata": {"name": }}\n',
                 name="m.json")
    assert reach_error(path) == (
        f"vfpnet: {path}:3:23: invalid JSON: Expecting value"
    )


def test_invalid_item_of_a_list_is_named_by_its_object(
    write: ManifestWriter, reach_error: Callable[..., str]
) -> None:
    path = write({"apiVersion": "v1", "kind": "PodList",
                  "items": [pod(name="ok"), pod(name="bad", labels={"a": "b c"})]})
    assert reach_error(path) == (
        f'vfpnet: {path}: Pod x/bad: metadata.labels.a: Invalid value: "b c": a valid label '
        "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with "
        "an alphanumeric character"
    )


def test_missing_path_is_an_input_error(reach_error: Callable[..., str], tmp_path: Any) -> None:
    missing = str(tmp_path / "nope.yaml")
    assert reach_error(missing) == f"vfpnet: {missing}: no such file or directory"


def test_duplicate_across_files_names_both_files(
    write: ManifestWriter, reach_error: Callable[..., str]
) -> None:
    first = write(np({}), name="a/one.yaml")
    second = write(np({}), name="b/two.yaml")
    assert reach_error(first, second) == (
        f'vfpnet: {second}: {NP}: metadata.name: Duplicate value: "np": already defined in '
        f"{first} (the API server would refuse it: AlreadyExists)"
    )


def test_nothing_is_printed_on_stdout_when_a_later_file_is_invalid(
    write: ManifestWriter, reach_error: Callable[..., str]
) -> None:
    good = write(pod(name="a"), pod(name="b"), name="good.yaml")
    bad = write(np(ingress_ports({"port": 0})), name="bad.yaml")
    assert reach_error(good, bad).startswith(f"vfpnet: {bad}: {NP}: ")


@pytest.mark.parametrize("name", ["big.json", "big.yaml"])
def test_integer_too_long_to_convert_is_an_input_error(
    write: ManifestWriter, reach_error: Callable[..., str], name: str
) -> None:
    path = write('{"apiVersion": ' + "9" * 5000 + "}\n", name=name)
    kind = "JSON" if name.endswith(".json") else "YAML"
    assert reach_error(path) == (
        f"vfpnet: {path}: invalid {kind}: Exceeds the limit (4300 digits) for integer string "
        "conversion: value has 5000 digits"
    )


def test_standard_input_not_utf8_is_an_input_error(
    reach_error: Callable[..., str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(b"kind: \xff\n")))
    assert reach_error("-") == "vfpnet: <stdin>: not UTF-8 text (invalid start byte at byte 6)"


def test_deeply_nested_document_is_an_input_error(
    write: ManifestWriter, reach_error: Callable[..., str]
) -> None:
    path = write("[" * 5000 + "]" * 5000 + "\n", name="deep.json")
    assert reach_error(path) == f"vfpnet: {path}: nested too deeply"


def test_lists_nested_too_deeply_are_refused(
    write: ManifestWriter, reach_error: Callable[..., str]
) -> None:
    doc: dict[str, Any] = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}}
    for _ in range(20):
        doc = {"apiVersion": "v1", "kind": "List", "items": [doc]}
    path = write(doc)
    assert reach_error(path) == (
        f"vfpnet: {path}: document 1" + " items[0]" * 17 + ": lists nested more than 16 deep"
    )
