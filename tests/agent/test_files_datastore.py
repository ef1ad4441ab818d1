"""The files datastore: a directory of manifests as snapshot and incremental events."""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path

import pytest

from vfpnet.agent.datastore.errors import BadDataError, DatastoreUnavailable
from vfpnet.agent.datastore.events import (
    ErrorEvent,
    Event,
    EventType,
    ObjectEvent,
    ResyncEvent,
)
from vfpnet.agent.datastore.files import FilesDatastore
from vfpnet.agent.datastore.kinds import ObjectKey

from .watching import collect, quiet_for

NS_AND_POD = """\
apiVersion: v1
kind: Namespace
metadata:
  name: prod
  labels: {team: a}
---
apiVersion: v1
kind: Pod
metadata:
  name: web
  namespace: prod
  labels: {app: web}
spec: {nodeName: n1}
status: {podIP: 10.244.0.5}
"""

DENY_ALL = """\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny-all, namespace: prod}
spec: {podSelector: {}, policyTypes: [Ingress]}
"""

ADMIN = """\
apiVersion: policy.networking.k8s.io/v1alpha2
kind: ClusterNetworkPolicy
metadata: {name: block-dns}
spec: {tier: Admin, priority: 10, subject: {namespaces: {}}, ingress: []}
---
apiVersion: policy.networking.k8s.io/v1alpha1
kind: AdminNetworkPolicy
metadata: {name: anp}
spec: {priority: 3, subject: {namespaces: {}}}
---
apiVersion: policy.networking.k8s.io/v1alpha1
kind: BaselineAdminNetworkPolicy
metadata: {name: default}
spec: {subject: {namespaces: {}}}
"""

@pytest.fixture(params=[True, False], ids=["inotify", "polling"])
def inotify(request: pytest.FixtureRequest) -> bool:
    return bool(request.param)


WEB = ObjectKey("Pod", "prod", "web")
DENY = ObjectKey("NetworkPolicy", "prod", "deny-all")


def write(path: Path, text: str) -> None:
    """Write atomically-enough for a poller and make sure the mtime moves."""
    path.write_text(text)
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))


def object_events(events: list[Event]) -> list[tuple[EventType, ObjectKey]]:
    return [(e.type, e.key) for e in events if isinstance(e, ObjectEvent)]


def test_snapshot_reads_yaml_json_and_lists_of_all_six_kinds(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    write(tmp_path / "a.yaml", NS_AND_POD)
    write(tmp_path / "sub" / "admin.yml", ADMIN)
    pod_list = {
        "apiVersion": "v1",
        "kind": "PodList",
        "metadata": {"resourceVersion": "7"},
        "items": [{"metadata": {"name": "db", "namespace": "prod"}, "spec": {}}],
    }
    write(tmp_path / "pods.json", json.dumps(pod_list))
    write(tmp_path / "np.yaml", "apiVersion: v1\nkind: List\nitems:\n- " +
          DENY_ALL.replace("\n", "\n  "))
    write(tmp_path / "deploy.yaml", "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\n")
    write(tmp_path / ".hidden.yaml", "not: [valid")
    write(tmp_path / "notes.txt", "not: [valid")

    snap = FilesDatastore(tmp_path).snapshot()

    assert snap.errors == ()
    assert sorted(snap.objects) == sorted(
        [
            ObjectKey("Namespace", "", "prod"),
            WEB,
            ObjectKey("Pod", "prod", "db"),
            DENY,
            ObjectKey("ClusterNetworkPolicy", "", "block-dns"),
            ObjectKey("AdminNetworkPolicy", "", "anp"),
            ObjectKey("BaselineAdminNetworkPolicy", "", "default"),
        ]
    )
    db = snap.objects[ObjectKey("Pod", "prod", "db")]
    assert db["kind"] == "Pod" and db["apiVersion"] == "v1"
    assert snap.objects[WEB]["status"] == {"podIP": "10.244.0.5"}


def test_object_without_namespace_is_in_default(tmp_path: Path) -> None:
    write(tmp_path / "p.yaml", "apiVersion: v1\nkind: Pod\nmetadata: {name: lone}\n")
    snap = FilesDatastore(tmp_path).snapshot()
    assert snap.objects[ObjectKey("Pod", "default", "lone")]["metadata"]["namespace"] == "default"


def test_missing_directory_is_unavailable(tmp_path: Path) -> None:
    with pytest.raises(DatastoreUnavailable, match=r"files:.*nope: not a directory"):
        FilesDatastore(tmp_path / "nope").snapshot()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("apiVersion: v1\nkind: Pod\nmetadata: {name: x]\nspec: {}\n",
         r"bad\.yaml:3: invalid YAML: did not find expected ',' or '}'"),
        ("apiVersion: v1\nkind: Pod\nmetadata: {namespace: a}\n",
         r"bad\.yaml:1: field metadata\.name: Pod: must be a non-empty string"),
        ("---\n- a\n- b\n", r"bad\.yaml:2: a document must be a mapping, not a list"),
        ("apiVersion: v1\nmetadata: {name: x}\n", r"bad\.yaml:1: field kind: must be"),
        ("apiVersion: networking.k8s.io/v1beta1\nkind: NetworkPolicy\nmetadata: {name: x}\n",
         r"field apiVersion: NetworkPolicy: is 'networking.k8s.io/v1beta1', expected"),
        ("apiVersion: v1\nkind: Pod\nmetadata: {name: a}\n---\n"
         "apiVersion: v1\nkind: Pod\nmetadata: {name: a}\n",
         r"bad\.yaml:5: field metadata\.name: Pod default/a is defined twice in the file"),
    ],
)
def test_bad_file_is_reported_in_snapshot_with_file_line_and_field(
    tmp_path: Path, text: str, message: str
) -> None:
    write(tmp_path / "good.yaml", NS_AND_POD)
    write(tmp_path / "bad.yaml", text)
    snap = FilesDatastore(tmp_path).snapshot()
    assert len(snap.errors) == 1
    assert isinstance(snap.errors[0], BadDataError)
    assert "\n" not in str(snap.errors[0])
    assert re.search(message, str(snap.errors[0])), str(snap.errors[0])
    assert WEB in snap.objects


def test_invalid_json_names_the_line(tmp_path: Path) -> None:
    write(tmp_path / "x.json", '{\n  "kind": "Pod",\n  "metadata": {,}\n}')
    snap = FilesDatastore(tmp_path).snapshot()
    assert [str(e) for e in snap.errors] == [
        f"{tmp_path / 'x.json'}:3: invalid JSON: Expecting property name enclosed in double quotes"
    ]


def test_edit_add_and_remove_come_as_incremental_events(tmp_path: Path, inotify: bool) -> None:
    store = FilesDatastore(tmp_path, poll_interval=0.05, use_inotify=inotify)
    write(tmp_path / "a.yaml", NS_AND_POD)
    snap = store.snapshot()
    with store.watch(snap.revision) as watch:
        write(tmp_path / "np.yaml", DENY_ALL)
        events = collect(watch, lambda ev: len(ev) >= 1)
        assert object_events(events) == [(EventType.ADDED, DENY)]

        write(tmp_path / "a.yaml", NS_AND_POD.replace("app: web", "app: web2"))
        events = collect(watch, lambda ev: len(ev) >= 1)
        assert object_events(events) == [(EventType.MODIFIED, WEB)]
        assert isinstance(events[0], ObjectEvent)
        assert events[0].object["metadata"]["labels"] == {"app": "web2"}

        (tmp_path / "np.yaml").unlink()
        events = collect(watch, lambda ev: len(ev) >= 1)
        assert object_events(events) == [(EventType.DELETED, DENY)]
        assert isinstance(events[0], ObjectEvent)
        assert events[0].object["metadata"]["name"] == "deny-all"

        # Touching a file without changing its objects is no event.
        write(tmp_path / "a.yaml", NS_AND_POD.replace("app: web", "app: web2"))
        assert quiet_for(watch, 0.3) == []


def test_broken_file_keeps_its_previous_objects_until_fixed(tmp_path: Path, inotify: bool) -> None:
    store = FilesDatastore(tmp_path, poll_interval=0.05, use_inotify=inotify)
    write(tmp_path / "np.yaml", DENY_ALL)
    snap = store.snapshot()
    with store.watch(snap.revision) as watch:
        write(tmp_path / "np.yaml", DENY_ALL + "  extra: [unclosed\n")
        events = collect(watch, lambda ev: len(ev) >= 1)
        assert len(events) == 1 and isinstance(events[0], ErrorEvent)
        assert str(events[0].error) == (
            f"{tmp_path / 'np.yaml'}:5: invalid YAML: did not find expected key"
            " (keeping the 1 objects read from it before)"
        )
        assert quiet_for(watch, 0.3) == []  # no DELETED: the policy stays
        assert DENY in store.snapshot().objects

        write(tmp_path / "np.yaml", DENY_ALL.replace("[Ingress]", "[Ingress, Egress]"))
        events = collect(watch, lambda ev: len(ev) >= 1)
        assert object_events(events) == [(EventType.MODIFIED, DENY)]


def test_same_object_in_two_files_is_taken_from_the_first(tmp_path: Path, inotify: bool) -> None:
    store = FilesDatastore(tmp_path, poll_interval=0.05, use_inotify=inotify)
    write(tmp_path / "a.yaml", DENY_ALL)
    snap = store.snapshot()
    with store.watch(snap.revision) as watch:
        write(tmp_path / "b.yaml", DENY_ALL.replace("[Ingress]", "[Egress]"))
        events = collect(watch, lambda ev: len(ev) >= 1)
        assert len(events) == 1 and isinstance(events[0], ErrorEvent)
        assert str(events[0].error).startswith(f"{tmp_path / 'b.yaml'}: field metadata.name: ")
        assert f"is also defined in {tmp_path / 'a.yaml'}" in str(events[0].error)
        (tmp_path / "a.yaml").unlink()
        events = collect(watch, lambda ev: len(ev) >= 1)
        assert object_events(events) == [(EventType.MODIFIED, DENY)]


def test_watch_from_unknown_revision_starts_with_a_resync(tmp_path: Path, inotify: bool) -> None:
    write(tmp_path / "a.yaml", NS_AND_POD)
    store = FilesDatastore(tmp_path, poll_interval=0.05, use_inotify=inotify)
    with store.watch("41@elsewhere") as watch:
        events = collect(watch, lambda ev: len(ev) >= 1)
    assert isinstance(events[0], ResyncEvent)
    assert WEB in events[0].snapshot.objects


def test_vanished_directory_keeps_objects_and_reports_once(tmp_path: Path, inotify: bool) -> None:
    root = tmp_path / "m"
    root.mkdir()
    write(root / "np.yaml", DENY_ALL)
    store = FilesDatastore(root, poll_interval=0.05, use_inotify=inotify)
    snap = store.snapshot()
    with store.watch(snap.revision) as watch:
        moved = tmp_path / "moved"
        root.rename(moved)
        events = collect(watch, lambda ev: len(ev) >= 1)
        assert isinstance(events[0], ErrorEvent)
        assert "not a directory (keeping the objects read)" in str(events[0].error)
        assert quiet_for(watch, 0.3) == []
        moved.rename(root)
        write(root / "np.yaml", DENY_ALL.replace("[Ingress]", "[Egress]"))
        events = collect(watch, lambda ev: len(ev) >= 1)
        assert object_events(events) == [(EventType.MODIFIED, DENY)]


def test_stop_ends_iteration_promptly(tmp_path: Path, inotify: bool) -> None:
    store = FilesDatastore(tmp_path, poll_interval=0.05, use_inotify=inotify)
    watch = store.watch(store.snapshot().revision)
    started = time.monotonic()
    watch.stop()
    assert list(watch) == []
    assert watch.stopped
    assert time.monotonic() - started < 2


def test_inotify_delivers_a_write_long_before_the_next_poll(tmp_path: Path) -> None:
    store = FilesDatastore(tmp_path, poll_interval=30)
    with store.watch(store.snapshot().revision) as watch:
        time.sleep(0.1)  # the watch thread has set up its inotify watches
        started = time.monotonic()
        (tmp_path / "np.yaml").write_text(DENY_ALL)
        events = collect(watch, lambda ev: len(ev) >= 1, timeout=5)
        assert object_events(events) == [(EventType.ADDED, DENY)]
        assert time.monotonic() - started < 1
        (tmp_path / "sub").mkdir()
        time.sleep(0.1)  # the new directory is being watched
        (tmp_path / "sub" / "a.yaml").write_text(NS_AND_POD)
        events = collect(watch, lambda ev: len(ev) >= 2, timeout=5)
        assert WEB in [key for _, key in object_events(events)]


def test_file_still_open_for_writing_is_read_only_once_closed(tmp_path: Path) -> None:
    store = FilesDatastore(tmp_path, poll_interval=30)
    with store.watch(store.snapshot().revision) as watch:
        time.sleep(0.1)
        with (tmp_path / "np.yaml").open("w") as writer:
            writer.write(DENY_ALL[:40])  # half a manifest: a syntax error if read now
            writer.flush()
            assert quiet_for(watch, 0.4) == []
            writer.write(DENY_ALL[40:])
        events = collect(watch, lambda ev: len(ev) >= 1, timeout=5)
    assert object_events(events) == [(EventType.ADDED, DENY)]
