"""The calculation: datastore objects + local endpoints -> desired rules per local endpoint.

Felix's split: this module decides what should be, the drivers only make it so. A
`Calculator` holds the parsed objects (`objects.ObjectStore`) and the node's endpoints,
and after each change produces a `Delta`: the endpoints whose desired rules changed (with
the new rules) and the endpoints that went away. Endpoints whose rules are the same are
not in the delta, so a driver never re-applies them.

Joining endpoints to Pods: by `K8S_POD_NAMESPACE`/`K8S_POD_NAME` when the endpoint source
knows them (the CNI state), otherwise by address (HNS). A Pod whose `spec.nodeName` names
another node is not joined. An endpoint with no Pod (yet) is left as it was (not in any
delta) and reported in `unjoined`. The endpoint's own addresses come from the endpoint
source, so a Pod whose status has no IP yet is still matched by CIDR peers.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from vfpnet.agent.affected import only_labels_changed, policies_peering
from vfpnet.agent.datastore.events import ErrorEvent, ObjectEvent, ResyncEvent, Snapshot
from vfpnet.agent.datastore.events import EventType as EventKind
from vfpnet.agent.endpoints import LocalEndpoint
from vfpnet.agent.flatten import AddressRule, PeerAddresses, flatten
from vfpnet.agent.objects import Change, ObjectStore
from vfpnet.k8s.model import Workload
from vfpnet.policy.compile import compile_cluster, endpoint_key
from vfpnet.policy.ir import Direction, EndpointKey, EndpointRules, Rule

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DesiredEndpoint:
    """What one local endpoint should enforce: first-match rules per direction."""

    handle: str
    pod: str
    ips: tuple[str, ...]
    ingress: tuple[AddressRule, ...]
    egress: tuple[AddressRule, ...]
    isolated_ingress_by: tuple[str, ...] = ()
    isolated_egress_by: tuple[str, ...] = ()

    def rules(self, direction: Direction) -> tuple[AddressRule, ...]:
        return self.ingress if direction is Direction.INGRESS else self.egress


@dataclass(frozen=True)
class Delta:
    changed: Mapping[str, DesiredEndpoint] = field(default_factory=dict)
    removed: frozenset[str] = frozenset()
    reasons: Mapping[str, str] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.changed or self.removed)


class Calculator:
    """Incremental: feed it a snapshot, events and endpoint lists; it answers deltas."""

    def __init__(self, node: str, source: str) -> None:
        self.node = node
        self.store = ObjectStore(source)
        self.endpoints: dict[str, LocalEndpoint] = {}
        self.desired: dict[str, DesiredEndpoint] = {}
        self.unjoined: dict[str, str] = {}
        self.datastore_errors: list[str] = []
        self.loaded = False
        self._peer_ips: dict[EndpointKey, tuple[str, ...]] = {}
        self._resolve = PeerAddresses(self._peer_ips.__getitem__)
        # Endpoints with the same IR (replicas) share one flattened tuple: the renderers
        # memoize on it.
        self._flat: dict[tuple[Rule, ...], tuple[AddressRule, ...]] = {}
        self._policies_of: dict[str, frozenset[str]] = {}  # policies in each endpoint's IR

    # -- inputs ---------------------------------------------------------------------

    def load(self, snapshot: Snapshot) -> Delta:
        """Replace every object with a snapshot's and recompute."""
        self.datastore_errors = [str(e) for e in snapshot.errors]
        changes = self.store.replace(snapshot.objects)
        self.loaded = True
        return self._recompute(_why(changes) or "snapshot loaded")

    def apply_event(self, event: ObjectEvent | ResyncEvent | ErrorEvent) -> Delta:
        if isinstance(event, ResyncEvent):
            return self.load(event.snapshot)
        if isinstance(event, ErrorEvent):
            self.datastore_errors = [*self.datastore_errors[-9:], str(event.error)]
            return Delta()
        if event.type is EventKind.DELETED:
            change = self.store.delete(event.key)
        else:
            change = self.store.put(event.key, event.object)
        if change.error:
            log.warning("refused %s: %s (the last valid version stays)", event.key, change.error)
        if not change.changed:
            return Delta()
        return self._recompute(_why([change]), self._narrowed(change))

    def _narrowed(self, change: Change) -> set[str] | None:
        """The endpoints a Pod relabel can touch; None: recompute every endpoint."""
        before, after = change.before, change.after
        if not (isinstance(before, Workload) and isinstance(after, Workload)):
            return None
        if not only_labels_changed(before, after):
            return None
        cluster = self.store.cluster()
        peering = policies_peering(cluster, (before, after))
        pod = f"{after.namespace}/{after.name}"
        return {
            handle for handle, d in self.desired.items()
            if d.pod == pod or self._policies_of.get(handle, frozenset()) & peering
        } | {h for h, e in self.endpoints.items() if e.pod == pod or h not in self.desired}

    def set_endpoints(self, endpoints: Iterable[LocalEndpoint]) -> Delta:
        new = {e.handle: e for e in endpoints}
        if new == self.endpoints:
            return Delta()
        added = sorted(set(new) - set(self.endpoints))
        gone = sorted(set(self.endpoints) - set(new))
        self.endpoints = new
        return self._recompute(f"endpoints added {added} removed {gone}")

    # -- the calculation ----------------------------------------------------------------

    def _join(self, workloads: Iterable[Workload]) -> dict[str, Workload]:
        by_pod: dict[str, Workload] = {}
        by_ip: dict[str, Workload] = {}
        for w in workloads:
            if w.kind != "Pod" or w.host_network:
                continue
            if w.node_name is not None and w.node_name != self.node:
                continue
            by_pod[f"{w.namespace}/{w.name}"] = w
            for ip in w.ips:
                by_ip[str(ip)] = w
        joined: dict[str, Workload] = {}
        self.unjoined = {}
        claimed: dict[str, str] = {}
        for handle, ep in sorted(self.endpoints.items()):
            clash = next((claimed[ip] for ip in ep.ips if ip in claimed), None)
            if clash is not None:
                # Two endpoints cannot both own an address: a dataplane dispatches by it.
                self.unjoined[handle] = f"its address is also endpoint {clash}'s"
                continue
            claimed.update((ip, handle) for ip in ep.ips)
            pod = ep.pod
            found = by_pod.get(pod) if pod else next(
                (by_ip[i] for i in ep.ips if i in by_ip), None
            )
            if found is None:
                self.unjoined[handle] = (
                    f"Pod {pod} is not in the datastore (or not on node {self.node})"
                    if pod
                    else f"no Pod on node {self.node} has address {', '.join(ep.ips)}"
                )
                continue
            w = found
            if ep.ips and not w.ips:
                w = dataclasses.replace(w, ips=tuple(ipaddress.ip_address(ip) for ip in ep.ips))
            joined[handle] = w
        return joined

    def _recompute(self, why: str, only: set[str] | None = None) -> Delta:
        if not self.loaded:
            return Delta()
        cluster = self.store.cluster()
        joined = self._join(cluster.workloads)
        local_keys = {endpoint_key(w): w for w in joined.values()}
        universe = [local_keys.get(endpoint_key(w), w) for w in cluster.workloads]
        if only is not None:
            joined = {h: w for h, w in joined.items() if h in only}
        compiled = compile_cluster(
            cluster, universe, subjects=list({endpoint_key(w): w for w in joined.values()}.values())
        )

        peer_ips = {k: tuple(str(ip) for ip in w.ips) for k, w in compiled.endpoints.items()}
        if peer_ips != self._peer_ips:
            # Addresses moved: resolved peer sets may be stale.
            self._peer_ips = peer_ips
            self._resolve = PeerAddresses(peer_ips.__getitem__)
            self._flat = {}
        resolve = self._resolve
        memo, self._flat = self._flat, {}

        def flat(rules: EndpointRules) -> tuple[AddressRule, ...]:
            found = memo.get(rules.rules) or self._flat.get(rules.rules)
            if found is None:
                found = flatten(rules, resolve)
            self._flat[rules.rules] = found
            return found

        changed: dict[str, DesiredEndpoint] = {}
        reasons: dict[str, str] = {}
        for handle, w in joined.items():
            key = endpoint_key(w)
            ingress = compiled.ingress[key]
            egress = compiled.egress[key]
            desired = DesiredEndpoint(
                handle=handle,
                pod=f"{w.namespace}/{w.name}",
                ips=self.endpoints[handle].ips or peer_ips[key],
                ingress=flat(ingress),
                egress=flat(egress),
                isolated_ingress_by=ingress.isolated_by,
                isolated_egress_by=egress.isolated_by,
            )
            self._policies_of[handle] = frozenset(
                r.provenance.policy
                for r in (*ingress.rules, *egress.rules) if r.provenance.policy
            ) | frozenset(ingress.isolated_by) | frozenset(egress.isolated_by)
            if self.desired.get(handle) != desired:
                changed[handle] = desired
                reasons[handle] = why
                self.desired[handle] = desired
        removed = frozenset(h for h in self.desired if h not in self.endpoints)
        for handle in removed:
            del self.desired[handle]
            self._policies_of.pop(handle, None)
            reasons[handle] = "endpoint removed"
        return Delta(changed, removed, reasons)


def _why(changes: Iterable[Change]) -> str:
    done = [c for c in changes if c.changed]
    if not done:
        return ""
    words = []
    for c in done[:3]:
        verb = "added" if c.before is None else "deleted" if c.after is None else "changed"
        words.append(f"{c.key} {verb}")
    more = f" and {len(done) - 3} more" if len(done) > 3 else ""
    return ", ".join(words) + more
