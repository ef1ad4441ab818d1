"""The Kubernetes datastore against recorded list/watch answers of an API server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from vfpnet.agent.datastore.backoff import BackoffPolicy
from vfpnet.agent.datastore.errors import BadDataError, DatastoreUnavailable
from vfpnet.agent.datastore.events import (
    ErrorEvent,
    Event,
    EventType,
    ObjectEvent,
    ResyncEvent,
)
from vfpnet.agent.datastore.kinds import ObjectKey
from vfpnet.agent.datastore.kubeconfig import from_kubeconfig
from vfpnet.agent.datastore.kubernetes import KubernetesDatastore

from .etcd_cluster import free_port
from .recorded_apiserver import Recording, event, serve, status
from .watching import collect, quiet_for

PODS = "/api/v1/pods"
NAMESPACES = "/api/v1/namespaces"
NETPOLS = "/apis/networking.k8s.io/v1/networkpolicies"
CNPS = "/apis/policy.networking.k8s.io/v1alpha2/clusternetworkpolicies"
FAST = BackoffPolicy(initial=0.05, maximum=0.2)
TOKEN = "eyJhbGciOiJSUzI1NiJ9.vt-test-token"


def pod(name: str, rv: str, ns: str = "prod", **labels: str) -> dict[str, Any]:
    # As list items come: no kind or apiVersion.
    return {
        "metadata": {
            "name": name,
            "namespace": ns,
            "uid": f"uid-{name}",
            "resourceVersion": rv,
            "labels": labels,
        },
        "spec": {"nodeName": "win-1", "containers": [{"name": "c", "image": "x"}]},
        "status": {"phase": "Running", "podIP": "10.240.0.9", "podIPs": [{"ip": "10.240.0.9"}]},
    }


def typed(obj: dict[str, Any], kind: str = "Pod", api_version: str = "v1") -> dict[str, Any]:
    return {"kind": kind, "apiVersion": api_version, **obj}


def a_list(kind: str, rv: str, items: list[dict[str, Any]], cont: str = "") -> dict[str, Any]:
    metadata = {"resourceVersion": rv, **({"continue": cont} if cont else {})}
    api = "v1" if kind in ("PodList", "NamespaceList") else "networking.k8s.io/v1"
    return {"kind": kind, "apiVersion": api, "metadata": metadata, "items": items}


@pytest.fixture
def recording() -> Recording:
    rec = Recording()
    rec.lists[NAMESPACES] = [
        (200, a_list("NamespaceList", "100", [{"metadata": {"name": "prod",
                                                            "resourceVersion": "5"}}]))
    ]
    rec.lists[PODS] = [
        (200, a_list("PodList", "101", [pod("db", "90")], cont="eyJ2IjoibWV0YS5rOHMuaW8vdjEifQ")),
        (200, a_list("PodList", "101", [pod("web", "91", app="web")])),
    ]
    netpol = {
        "metadata": {"name": "deny", "namespace": "prod", "resourceVersion": "60"},
        "spec": {"podSelector": {}, "policyTypes": ["Ingress"]},
    }
    rec.lists[NETPOLS] = [(200, a_list("NetworkPolicyList", "101", [netpol]))]
    cnp = {"metadata": {"name": "admin", "resourceVersion": "3"}, "spec": {"tier": "Admin"}}
    rec.lists[CNPS] = [(200, a_list("ClusterNetworkPolicyList", "7", [cnp]))]
    # adminnetworkpolicies and baselineadminnetworkpolicies: not served (404).
    return rec


@pytest.fixture
def server(recording: Recording) -> Iterator[str]:
    with serve(recording) as url:
        yield url


def kubeconfig(tmp_path: Path, server: str) -> Path:
    path = tmp_path / "kubeconfig"
    path.write_text(
        f"""apiVersion: v1
kind: Config
current-context: agent
contexts:
- name: agent
  context: {{cluster: c1, user: vfpnet-agent}}
clusters:
- name: c1
  cluster: {{server: "{server}"}}
users:
- name: vfpnet-agent
  user: {{token: {TOKEN}}}
"""
    )
    return path


@pytest.fixture
def store(tmp_path: Path, server: str) -> KubernetesDatastore:
    config = from_kubeconfig([kubeconfig(tmp_path, server)])
    return KubernetesDatastore(config, backoff=FAST, watch_timeout=(30, 30), absent_retry=60)


def object_events(events: list[Event]) -> list[tuple[EventType, ObjectKey]]:
    return [(e.type, e.key) for e in events if isinstance(e, ObjectEvent)]


WEB = ObjectKey("Pod", "prod", "web")
DB = ObjectKey("Pod", "prod", "db")


def test_snapshot_lists_every_kind_across_pages_with_the_token(
    store: KubernetesDatastore, recording: Recording
) -> None:
    snap = store.snapshot()

    assert set(snap.objects) == {
        ObjectKey("Namespace", "", "prod"),
        DB,
        WEB,
        ObjectKey("NetworkPolicy", "prod", "deny"),
        ObjectKey("ClusterNetworkPolicy", "", "admin"),
    }
    assert snap.objects[WEB]["kind"] == "Pod" and snap.objects[WEB]["apiVersion"] == "v1"
    cnp = snap.objects[ObjectKey("ClusterNetworkPolicy", "", "admin")]
    assert cnp["apiVersion"] == "policy.networking.k8s.io/v1alpha2"
    assert snap.revision == (
        "namespaces=100,pods=101,networkpolicies=101,clusternetworkpolicies=7,"
        "adminnetworkpolicies=,baselineadminnetworkpolicies="
    )
    assert snap.errors == ()
    pod_lists = [r for r in recording.requests if r.path == PODS]
    assert [r.query.get("continue") for r in pod_lists] == [None, "eyJ2IjoibWV0YS5rOHMuaW8vdjEifQ"]
    assert all(r.headers["Authorization"] == f"Bearer {TOKEN}" for r in recording.requests)


def test_watch_streams_events_from_the_list_version_and_follows_bookmarks(
    store: KubernetesDatastore, recording: Recording
) -> None:
    recording.watches[PODS].append(
        [
            event("ADDED", typed(pod("cache", "102"))),
            event("MODIFIED", typed(pod("web", "103", app="web2"))),
            event("DELETED", typed(pod("db", "104"))),
            event("ADDED", typed(pod("web", "105", app="web2"))),  # known: not ADDED twice
            event("BOOKMARK", {"kind": "Pod", "apiVersion": "v1",
                               "metadata": {"resourceVersion": "150"}}),
            ("end",),
        ]
    )
    snap = store.snapshot()
    with store.watch(snap.revision) as watch:
        events = collect(watch, lambda ev: len(ev) >= 4)
        collect(watch, lambda ev: len(recording.watch_requests(PODS)) >= 2, timeout=5)
        assert quiet_for(watch, 0.2) == []
    assert object_events(events) == [
        (EventType.ADDED, ObjectKey("Pod", "prod", "cache")),
        (EventType.MODIFIED, WEB),
        (EventType.DELETED, DB),
        (EventType.MODIFIED, WEB),
    ]
    last = events[-1]
    assert isinstance(last, ObjectEvent)
    assert "pods=105" in last.revision
    first, again = recording.watch_requests(PODS)[:2]
    assert first.query["resourceVersion"] == "101"
    assert first.query["allowWatchBookmarks"] == "true"
    assert again.query["resourceVersion"] == "150"  # from the bookmark, no relist


def test_watch_error_410_relists_the_kind_and_resyncs(
    store: KubernetesDatastore, recording: Recording
) -> None:
    recording.watches[PODS].append(
        [event("ERROR", status(410, "Expired", "too old resource version: 101 (300)"))]
    )
    snap = store.snapshot()
    recording.lists[PODS] = [(200, a_list("PodList", "300", [pod("fresh", "299")]))]
    with store.watch(snap.revision) as watch:
        events = collect(watch, lambda ev: len(ev) >= 1)
        collect(watch, lambda ev: len(recording.watch_requests(PODS)) >= 2, timeout=5)
    resync = events[0]
    assert isinstance(resync, ResyncEvent)
    assert resync.reason == f"{PODS}: watch ERROR 410: too old resource version: 101 (300)"
    assert set(resync.snapshot.objects) == {
        ObjectKey("Namespace", "", "prod"),
        ObjectKey("Pod", "prod", "fresh"),
        ObjectKey("NetworkPolicy", "prod", "deny"),
        ObjectKey("ClusterNetworkPolicy", "", "admin"),
    }
    assert "pods=300" in resync.snapshot.revision
    assert recording.watch_requests(PODS)[1].query["resourceVersion"] == "300"


def test_http_410_on_the_watch_request_relists(
    store: KubernetesDatastore, recording: Recording
) -> None:
    recording.watches[NETPOLS].append([("status", 410, status(410, "Gone", "expired"))])
    snap = store.snapshot()
    recording.lists[NETPOLS] = [(200, a_list("NetworkPolicyList", "400", []))]
    with store.watch(snap.revision) as watch:
        events = collect(watch, lambda ev: len(ev) >= 1)
    assert isinstance(events[0], ResyncEvent)
    assert events[0].reason == f"{NETPOLS}: 410 Gone for resourceVersion 101"
    assert ObjectKey("NetworkPolicy", "prod", "deny") not in events[0].snapshot.objects


def test_dropped_connection_reconnects_from_the_last_version_without_relist(
    store: KubernetesDatastore, recording: Recording
) -> None:
    recording.watches[PODS].append([event("ADDED", typed(pod("a", "102"))), ("drop",)])
    recording.watches[PODS].append([event("ADDED", typed(pod("b", "103")))])
    snap = store.snapshot()
    lists_before = len([r for r in recording.requests if r.path == PODS])
    with store.watch(snap.revision) as watch:
        events = collect(watch, lambda ev: len(object_events(ev)) >= 2)
    assert [type(e).__name__ for e in events] == ["ObjectEvent", "ErrorEvent", "ObjectEvent"]
    error = events[1]
    assert isinstance(error, ErrorEvent) and isinstance(error.error, DatastoreUnavailable)
    assert str(error.error) == f"kubernetes {PODS}: watch broke: stream broke: IncompleteRead" or \
        str(error.error).startswith(f"kubernetes {PODS}: watch broke: ")
    assert object_events(events) == [
        (EventType.ADDED, ObjectKey("Pod", "prod", "a")),
        (EventType.ADDED, ObjectKey("Pod", "prod", "b")),
    ]
    assert [r.query["resourceVersion"] for r in recording.watch_requests(PODS)][:2] == [
        "101",
        "102",
    ]
    assert len([r for r in recording.requests if r.path == PODS]) - lists_before == 2


def test_bad_object_in_the_watch_is_reported_and_skipped(
    store: KubernetesDatastore, recording: Recording
) -> None:
    nameless = typed(pod("x", "102"))
    del nameless["metadata"]["name"]
    recording.watches[PODS].append(
        [event("ADDED", nameless), event("ADDED", typed(pod("ok", "103")))]
    )
    snap = store.snapshot()
    with store.watch(snap.revision) as watch:
        events = collect(watch, lambda ev: len(ev) >= 2)
    assert isinstance(events[0], ErrorEvent) and isinstance(events[0].error, BadDataError)
    assert str(events[0].error) == (
        f"kubernetes {PODS} watch: field metadata.name: Pod: must be a non-empty string"
    )
    assert object_events(events) == [(EventType.ADDED, ObjectKey("Pod", "prod", "ok"))]


def test_forbidden_list_is_unavailable_with_the_servers_message(
    store: KubernetesDatastore, recording: Recording, server: str
) -> None:
    message = (
        'pods is forbidden: User "system:serviceaccount:kube-system:vfpnet" cannot list '
        'resource "pods" in API group "" at the cluster scope'
    )
    recording.lists[PODS] = [(403, status(403, "Forbidden", message))]
    with pytest.raises(DatastoreUnavailable) as caught:
        store.snapshot()
    assert str(caught.value) == f"kubernetes {server}{PODS}: HTTP 403 Forbidden: {message}"


def test_unreachable_api_server_is_unavailable(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    store = KubernetesDatastore(from_kubeconfig([kubeconfig(tmp_path, url)]), backoff=FAST)
    with pytest.raises(DatastoreUnavailable) as caught:
        store.snapshot()
    assert str(caught.value) == f"kubernetes {url}{NAMESPACES}: Connection refused"


def test_watch_from_an_unknown_revision_starts_with_a_resync(store: KubernetesDatastore) -> None:
    with store.watch("pods=1") as watch:
        events = collect(watch, lambda ev: len(ev) >= 1)
    assert isinstance(events[0], ResyncEvent)
    assert WEB in events[0].snapshot.objects


def test_stop_ends_a_quiet_watch_promptly(store: KubernetesDatastore) -> None:
    import time

    watch = store.watch(store.snapshot().revision)
    time.sleep(0.2)  # every kind is now in a blocked read
    started = time.monotonic()
    watch.stop()
    assert list(watch) == []
    assert time.monotonic() - started < 2


def test_watch_error_other_than_410_is_reported_and_watched_again_without_relist(
    store: KubernetesDatastore, recording: Recording
) -> None:
    recording.watches[PODS].append(
        [event("ADDED", typed(pod("a", "102"))),
         event("ERROR", status(500, "InternalError", "etcd leader changed"))]
    )
    snap = store.snapshot()
    with store.watch(snap.revision) as watch:
        events = collect(watch, lambda ev: len(ev) >= 2)
        collect(watch, lambda ev: len(recording.watch_requests(PODS)) >= 2, timeout=5)
    assert isinstance(events[1], ErrorEvent)
    assert str(events[1].error) == f"kubernetes {PODS}: watch ERROR 500: etcd leader changed"
    assert recording.watch_requests(PODS)[1].query["resourceVersion"] == "102"
    assert not any(isinstance(e, ResyncEvent) for e in events)


def test_expired_continue_token_restarts_the_list(
    store: KubernetesDatastore, recording: Recording
) -> None:
    first_page = recording.lists[PODS][0]
    recording.lists[PODS] = [
        first_page,
        (410, status(410, "Expired", "The provided continue parameter is too old")),
        first_page,
        (200, a_list("PodList", "120", [pod("web", "91", app="web")])),
    ]
    snap = store.snapshot()
    assert {DB, WEB} <= set(snap.objects)
    assert "pods=120" in snap.revision
    pod_lists = [r for r in recording.requests if r.path == PODS]
    assert [("continue" in r.query) for r in pod_lists] == [False, True, False, True]


def test_a_kind_served_later_arrives_as_a_resync(
    tmp_path: Path, server: str, recording: Recording
) -> None:
    anps = "/apis/policy.networking.k8s.io/v1alpha1/adminnetworkpolicies"
    store = KubernetesDatastore(
        from_kubeconfig([kubeconfig(tmp_path, server)]), backoff=FAST, absent_retry=0.2
    )
    snap = store.snapshot()
    assert "adminnetworkpolicies=," in snap.revision
    anp = {"metadata": {"name": "late", "resourceVersion": "5"}, "spec": {"priority": 1}}
    with store.watch(snap.revision) as watch:
        recording.lists[anps] = [(200, a_list("AdminNetworkPolicyList", "6", [anp]))]
        events = collect(watch, lambda ev: len(ev) >= 1)
    assert isinstance(events[0], ResyncEvent)
    assert ObjectKey("AdminNetworkPolicy", "", "late") in events[0].snapshot.objects
    assert WEB in events[0].snapshot.objects
