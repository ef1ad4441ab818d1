"""The etcd datastore against a real 3-member etcd cluster on loopback ports."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from typing import Any

import pytest

from vfpnet.agent.datastore.backoff import BackoffPolicy
from vfpnet.agent.datastore.errors import BadDataError, DatastoreUnavailable
from vfpnet.agent.datastore.etcd import EtcdDatastore, key_of
from vfpnet.agent.datastore.events import (
    ErrorEvent,
    Event,
    EventType,
    ObjectEvent,
    ResyncEvent,
)
from vfpnet.agent.datastore.http_stream import parse_endpoint
from vfpnet.agent.datastore.kinds import ObjectKey

from .etcd_cluster import ETCD, EtcdCluster, free_port
from .watching import collect, quiet_for

pytestmark = pytest.mark.skipif(not ETCD, reason="etcd-server is not installed")

FAST = BackoffPolicy(initial=0.05, maximum=0.5)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EtcdCluster]:
    etcd = EtcdCluster(tmp_path_factory.mktemp("etcd"))
    try:
        etcd.start_all()
        yield etcd
    finally:
        etcd.stop_all()


@pytest.fixture
def store(cluster: EtcdCluster) -> EtcdDatastore:
    endpoints = [parse_endpoint(u, "etcd") for u in cluster.client_urls]
    return EtcdDatastore(endpoints, prefix=f"/vt{secrets.token_hex(4)}/v1/", backoff=FAST)


def pod(name: str, ns: str = "prod", **labels: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": ns, "labels": labels},
        "spec": {"nodeName": "n1"},
        "status": {"podIP": "10.244.1.7"},
    }


def policy(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "policy.networking.k8s.io/v1alpha2",
        "kind": "ClusterNetworkPolicy",
        "metadata": {"name": name},
        "spec": {"tier": "Admin", "priority": 5, "subject": {"namespaces": {}}},
    }


def put(store: EtcdDatastore, obj: dict[str, Any]) -> int:
    return store.gateway.put(key_of(store.prefix, obj), json.dumps(obj).encode())


def kinds_and_keys(events: list[Event]) -> list[tuple[EventType, ObjectKey]]:
    return [(e.type, e.key) for e in events if isinstance(e, ObjectEvent)]


def test_keys_follow_the_documented_layout(store: EtcdDatastore) -> None:
    assert key_of("/vfpnet/v1/", pod("web")) == "/vfpnet/v1/pods/prod/web"
    assert key_of("/vfpnet/v1/", policy("p")) == "/vfpnet/v1/clusternetworkpolicies/p"


def test_snapshot_holds_every_object_and_the_revision(store: EtcdDatastore) -> None:
    put(store, pod("web", app="web"))
    last = put(store, policy("admin-deny"))
    ns = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "prod"}}
    last = put(store, ns)

    snap = store.snapshot()

    assert snap.errors == ()
    assert int(snap.revision) >= last
    assert set(snap.objects) == {
        ObjectKey("Pod", "prod", "web"),
        ObjectKey("ClusterNetworkPolicy", "", "admin-deny"),
        ObjectKey("Namespace", "", "prod"),
    }
    assert snap.objects[ObjectKey("Pod", "prod", "web")]["metadata"]["labels"] == {"app": "web"}


def test_bad_keys_and_values_are_left_out_naming_key_and_field(store: EtcdDatastore) -> None:
    p = store.prefix
    put(store, pod("good"))
    bad = {
        f"{p}pods/prod/notjson": b"{nope",
        f"{p}pods/prod/wrongname": json.dumps(pod("other")).encode(),
        f"{p}pods/onlyname": json.dumps(pod("onlyname")).encode(),
        f"{p}widgets/x": b"{}",
        f"{p}networkpolicies/prod/kind": json.dumps(pod("kind")).encode(),
    }
    for key, value in bad.items():
        store.gateway.put(key, value)

    snap = store.snapshot()

    assert list(snap.objects) == [ObjectKey("Pod", "prod", "good")]
    messages = sorted(str(e) for e in snap.errors)
    assert all(isinstance(e, BadDataError) for e in snap.errors)
    assert messages == sorted(
        [
            f"{p}pods/prod/notjson: value is not JSON: Expecting property name enclosed in "
            "double quotes: line 1 column 2 (char 1)",
            f"{p}pods/prod/wrongname: field metadata.name: is 'other', the key says 'wrongname'",
            f"{p}pods/onlyname: expected {p}pods/<namespace>/<name>",
            f"{p}widgets/x: unknown resource 'widgets' (known: adminnetworkpolicies, "
            "baselineadminnetworkpolicies, clusternetworkpolicies, namespaces, "
            "networkpolicies, pods)",
            f"{p}networkpolicies/prod/kind: field kind: is 'Pod', the key says 'NetworkPolicy'",
        ]
    )


def test_watch_streams_added_modified_deleted_from_the_snapshot(store: EtcdDatastore) -> None:
    put(store, pod("web", app="web"))
    snap = store.snapshot()
    web = ObjectKey("Pod", "prod", "web")
    with store.watch(snap.revision) as watch:
        put(store, pod("web", app="web2"))
        put(store, pod("db"))
        put(store, pod("db"))  # same content again: no event
        store.gateway.delete(f"{store.prefix}pods/prod/web")
        events = collect(watch, lambda ev: len(ev) >= 3)
        assert quiet_for(watch, 0.3) == []
    assert kinds_and_keys(events) == [
        (EventType.MODIFIED, web),
        (EventType.ADDED, ObjectKey("Pod", "prod", "db")),
        (EventType.DELETED, web),
    ]
    modified, _, deleted = events
    assert isinstance(modified, ObjectEvent) and isinstance(deleted, ObjectEvent)
    assert modified.object["metadata"]["labels"] == {"app": "web2"}
    assert deleted.object["metadata"]["labels"] == {"app": "web2"}
    assert int(deleted.revision) > int(modified.revision) > int(snap.revision)


def test_watch_from_old_revision_replays_what_changed_since(store: EtcdDatastore) -> None:
    first = store.snapshot()
    put(store, pod("a"))
    put(store, pod("b"))
    with store.watch(first.revision) as watch:
        events = collect(watch, lambda ev: len(ev) >= 2)
    assert kinds_and_keys(events) == [
        (EventType.ADDED, ObjectKey("Pod", "prod", "a")),
        (EventType.ADDED, ObjectKey("Pod", "prod", "b")),
    ]


def test_bad_value_in_watch_is_reported_and_the_previous_object_kept(
    store: EtcdDatastore,
) -> None:
    put(store, policy("keep-me"))
    snap = store.snapshot()
    key = f"{store.prefix}clusternetworkpolicies/keep-me"
    with store.watch(snap.revision) as watch:
        store.gateway.put(key, b'{"kind": "ClusterNetworkPolicy"')
        events = collect(watch, lambda ev: len(ev) >= 1)
        assert isinstance(events[0], ErrorEvent)
        assert str(events[0].error).startswith(f"{key}: value is not JSON: ")
        assert str(events[0].error).endswith("(keeping ClusterNetworkPolicy keep-me)")
        assert quiet_for(watch, 0.3) == []  # no DELETED
        fixed = policy("keep-me")
        fixed["spec"]["priority"] = 6
        put(store, fixed)
        events = collect(watch, lambda ev: len(ev) >= 1)
    assert kinds_and_keys(events) == [
        (EventType.MODIFIED, ObjectKey("ClusterNetworkPolicy", "", "keep-me"))
    ]


def test_watch_from_a_compacted_revision_resyncs(store: EtcdDatastore) -> None:
    old = store.snapshot()
    put(store, pod("x"))
    latest = put(store, pod("y"))
    store.gateway.compact(latest)
    with store.watch(old.revision) as watch:
        events = collect(watch, lambda ev: len(ev) >= 1)
        assert isinstance(events[0], ResyncEvent)
        assert "has been compacted" in events[0].reason
        assert set(events[0].snapshot.objects) == {
            ObjectKey("Pod", "prod", "x"),
            ObjectKey("Pod", "prod", "y"),
        }
        put(store, pod("z"))
        events = collect(watch, lambda ev: len(ev) >= 1)
    assert kinds_and_keys(events) == [(EventType.ADDED, ObjectKey("Pod", "prod", "z"))]


def test_range_pages_are_read_at_one_revision(store: EtcdDatastore) -> None:
    for i in range(5):
        put(store, pod(f"p{i}"))
    first_revision = store.snapshot().revision
    kvs, revision = store.gateway.range_prefix(store.prefix, page_size=2)
    assert [kv.key.rsplit("/", 1)[1] for kv in kvs] == ["p0", "p1", "p2", "p3", "p4"]
    assert str(revision) == first_revision
    put(store, pod("p5"))
    kvs, _ = store.gateway.range_prefix(store.prefix, revision=revision, page_size=2)
    assert len(kvs) == 5  # read at the old revision: p5 is not there yet


def test_watch_from_a_foreign_revision_resyncs(store: EtcdDatastore) -> None:
    put(store, pod("x"))
    with store.watch("3@not-etcd") as watch:
        events = collect(watch, lambda ev: len(ev) >= 1)
    assert isinstance(events[0], ResyncEvent)
    assert events[0].reason == "revision '3@not-etcd' is not an etcd revision"
    assert ObjectKey("Pod", "prod", "x") in events[0].snapshot.objects


def test_no_member_answering_is_unavailable_naming_each(cluster: EtcdCluster) -> None:
    urls = [f"http://127.0.0.1:{free_port()}" for _ in range(2)]
    store = EtcdDatastore([parse_endpoint(u, "etcd") for u in urls], backoff=FAST)
    with pytest.raises(DatastoreUnavailable) as caught:
        store.snapshot()
    assert str(caught.value) == (
        f"etcd: no member answered ({urls[0]}: Connection refused; {urls[1]}: Connection refused)"
    )
    with store.watch("5") as watch:
        events = collect(watch, lambda ev: len(ev) >= 2)
    assert all(isinstance(e, ErrorEvent) for e in events)


def test_watch_and_snapshot_survive_the_serving_member_stopping(
    cluster: EtcdCluster, store: EtcdDatastore
) -> None:
    """Last in the module: it stops a member (and starts it again)."""
    put(store, pod("before"))
    snap = store.snapshot()
    serving = store.gateway.endpoints[store.gateway._current].url
    index = cluster.client_urls.index(serving)
    with store.watch(snap.revision) as watch:
        put(store, pod("one"))
        collect(watch, lambda ev: len(kinds_and_keys(ev)) >= 1)
        cluster.stop(index)
        try:
            put(store, pod("two"))
            events = collect(watch, lambda ev: len(kinds_and_keys(ev)) >= 1)
            assert kinds_and_keys(events) == [(EventType.ADDED, ObjectKey("Pod", "prod", "two"))]
            assert store.gateway.endpoints[store.gateway._current].url != serving
            assert ObjectKey("Pod", "prod", "two") in store.snapshot().objects
        finally:
            cluster.start(index)
            cluster.wait_healthy(cluster.members[index])


def test_lost_quorum_is_reported_and_the_watch_resumes_when_it_returns(
    cluster: EtcdCluster, store: EtcdDatastore
) -> None:
    """A member left alone refuses (hasleader) instead of serving a silent, stale watch."""
    snap = store.snapshot()
    with store.watch(snap.revision) as watch:
        put(store, pod("sync"))
        collect(watch, lambda ev: len(kinds_and_keys(ev)) >= 1)
        serving = store.gateway.endpoints[store.gateway._current].url
        others = [i for i, url in enumerate(cluster.client_urls) if url != serving]
        for index in others:
            cluster.stop(index)
        try:
            events = collect(watch, lambda ev: any(
                isinstance(e, ErrorEvent) and "no leader" in str(e.error) for e in ev
            ))
            assert all(isinstance(e, ErrorEvent) for e in events)
            with pytest.raises(DatastoreUnavailable, match="no leader"):
                store.snapshot()
        finally:
            for index in others:
                cluster.start(index)
            for index in others:
                cluster.wait_healthy(cluster.members[index])
        put(store, pod("after"))
        events = collect(watch, lambda ev: len(kinds_and_keys(ev)) >= 1, timeout=20)
    assert kinds_and_keys(events) == [(EventType.ADDED, ObjectKey("Pod", "prod", "after"))]
