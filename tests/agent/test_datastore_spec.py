"""`--datastore` values: each form opens its datastore; a bad one is a one-line error."""

from __future__ import annotations

from pathlib import Path

import pytest

from vfpnet.agent.datastore import DatastoreConfigError, open_datastore
from vfpnet.agent.datastore.etcd import EtcdDatastore
from vfpnet.agent.datastore.files import FilesDatastore
from vfpnet.agent.datastore.kubernetes import KubernetesDatastore
from vfpnet.errors import InputError


def test_files_spec_opens_the_directory(tmp_path: Path) -> None:
    store = open_datastore(f"files:{tmp_path}")
    assert isinstance(store, FilesDatastore)
    assert store.description == f"files:{tmp_path}"


def test_etcd_spec_takes_several_member_urls() -> None:
    store = open_datastore("etcd:http://127.0.0.1:2379, http://127.0.0.1:22379")
    assert isinstance(store, EtcdDatastore)
    assert store.description == "etcd:http://127.0.0.1:2379,http://127.0.0.1:22379"


def test_kubernetes_spec_uses_kubeconfig_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "kc"
    config.write_text(
        "current-context: c\ncontexts: [{name: c, context: {cluster: k}}]\n"
        "clusters: [{name: k, cluster: {server: 'http://127.0.0.1:6443'}}]\n"
    )
    monkeypatch.setenv("KUBECONFIG", str(config))
    store = open_datastore("kubernetes")
    assert isinstance(store, KubernetesDatastore)
    assert store.description == f"kubernetes (kubeconfig {config} context c)"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("consul:x", "--datastore 'consul:x': expected files:DIR, kubernetes, or "
         "etcd:URL[,URL...]"),
        ("files:", "--datastore 'files:': files: needs a directory"),
        ("files", "--datastore 'files': expected files:DIR, kubernetes, or etcd:URL[,URL...]"),
        ("kubernetes:x", "--datastore 'kubernetes:x': expected files:DIR, kubernetes, or "
         "etcd:URL[,URL...]"),
        ("etcd:", "--datastore 'etcd:': an empty etcd URL"),
        ("etcd:127.0.0.1:2379", "--datastore 'etcd:127.0.0.1:2379': '127.0.0.1:2379': "
         "expected http://HOST[:PORT] or https://..."),
        ("etcd:http://h:99999", "--datastore 'etcd:http://h:99999': 'http://h:99999': "
         "Port out of range 0-65535"),
        ("etcd:http://h:2379/v3", "--datastore 'etcd:http://h:2379/v3': 'http://h:2379/v3': "
         "a path or query is not supported"),
    ],
)
def test_bad_spec_is_a_one_line_input_error(spec: str, message: str) -> None:
    with pytest.raises(DatastoreConfigError) as caught:
        open_datastore(spec)
    assert str(caught.value) == message
    assert isinstance(caught.value, InputError) and caught.value.exit_code == 2
