"""Reaching the API server: kubeconfig and in-cluster settings, over real TLS."""

from __future__ import annotations

import base64
import shutil
import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from vfpnet.agent.datastore.errors import DatastoreConfigError, DatastoreUnavailable
from vfpnet.agent.datastore.kinds import NAMESPACE
from vfpnet.agent.datastore.kubeconfig import from_kubeconfig, in_cluster, load_config
from vfpnet.agent.datastore.kubernetes import KubernetesDatastore

from .recorded_apiserver import Recording, serve

OPENSSL = shutil.which("openssl")
needs_openssl = pytest.mark.skipif(OPENSSL is None, reason="openssl CLI is not installed")


def openssl(*args: str, cwd: Path) -> None:
    assert OPENSSL is not None
    subprocess.run([OPENSSL, *args], cwd=cwd, check=True, capture_output=True)


def issue(pki: Path, name: str, ca: str, san: str = "") -> None:
    """A P-256 key and a certificate for `name` signed by `ca`."""
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={name}", cwd=pki)
    ext = pki / f"{name}.ext"
    ext.write_text(f"subjectAltName={san}\n" if san else "basicConstraints=CA:FALSE\n")
    openssl("x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.crt", "-CAkey", f"{ca}.key",
            "-CAcreateserial", "-out", f"{name}.crt", "-days", "1", "-extfile", str(ext), cwd=pki)


def new_ca(pki: Path, name: str) -> None:
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-nodes", "-keyout", f"{name}.key", "-out", f"{name}.crt", "-subj", f"/CN={name}",
            "-days", "1", cwd=pki)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if OPENSSL is None:
        pytest.skip("openssl CLI is not installed")
    root = tmp_path_factory.mktemp("pki")
    new_ca(root, "vt-ca")
    new_ca(root, "vt-other-ca")
    issue(root, "apiserver", "vt-ca", san="IP:127.0.0.1")
    issue(root, "agent", "vt-ca")
    return root


def namespaces() -> Recording:
    rec = Recording()
    body = {"kind": "NamespaceList", "apiVersion": "v1", "metadata": {"resourceVersion": "9"},
            "items": [{"metadata": {"name": "prod"}}]}
    rec.lists[NAMESPACE.collection_path] = [(200, body)]
    return rec


@pytest.fixture
def tls_server(pki: Path) -> Iterator[tuple[str, Recording]]:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pki / "apiserver.crt", pki / "apiserver.key")
    context.load_verify_locations(pki / "vt-ca.crt")
    context.verify_mode = ssl.CERT_OPTIONAL  # a client certificate, if sent, must be ours
    rec = namespaces()
    with serve(rec, context) as url:
        yield url, rec


def b64(path: Path) -> str:
    return base64.b64encode(path.read_bytes()).decode()


def write_kubeconfig(path: Path, server: str, cluster: str, user: str) -> Path:
    path.write_text(
        f"""apiVersion: v1
kind: Config
current-context: agent
contexts:
- name: agent
  context: {{cluster: c1, user: u1}}
clusters:
- name: c1
  cluster: {{server: "{server}", {cluster}}}
users:
- name: u1
  user: {{{user}}}
"""
    )
    return path


def list_namespaces(config_path: Path) -> list[str]:
    store = KubernetesDatastore(from_kubeconfig([config_path]), kinds=[NAMESPACE])
    return [key.name for key in store.snapshot().objects]


@needs_openssl
def test_https_with_ca_data_and_token(tmp_path: Path, pki: Path,
                                      tls_server: tuple[str, Recording]) -> None:
    url, rec = tls_server
    config = write_kubeconfig(tmp_path / "kc", url,
                              f"certificate-authority-data: {b64(pki / 'vt-ca.crt')}",
                              "token: vt-token-1")
    assert list_namespaces(config) == ["prod"]
    assert rec.requests[-1].headers["Authorization"] == "Bearer vt-token-1"


@needs_openssl
def test_https_with_client_certificate_data_and_relative_ca_path(
    tmp_path: Path, pki: Path, tls_server: tuple[str, Recording]
) -> None:
    url, rec = tls_server
    shutil.copy(pki / "vt-ca.crt", tmp_path / "ca.crt")
    config = write_kubeconfig(
        tmp_path / "kc", url, "certificate-authority: ca.crt",
        f"client-certificate-data: {b64(pki / 'agent.crt')}, "
        f"client-key-data: {b64(pki / 'agent.key')}",
    )
    assert list_namespaces(config) == ["prod"]
    assert "Authorization" not in rec.requests[-1].headers


@needs_openssl
def test_server_certificate_from_another_ca_is_refused(
    tmp_path: Path, pki: Path, tls_server: tuple[str, Recording]
) -> None:
    url, _ = tls_server
    config = write_kubeconfig(tmp_path / "kc", url,
                              f"certificate-authority-data: {b64(pki / 'vt-other-ca.crt')}",
                              "token: t")
    with pytest.raises(DatastoreUnavailable) as caught:
        list_namespaces(config)
    message = str(caught.value)
    assert message.startswith(f"kubernetes {url}/api/v1/namespaces: ")
    assert "certificate verify failed" in message and "\n" not in message


@needs_openssl
def test_in_cluster_reads_the_serviceaccount_token_before_each_request(
    tmp_path: Path, pki: Path, tls_server: tuple[str, Recording]
) -> None:
    url, rec = tls_server
    sa = tmp_path / "serviceaccount"
    sa.mkdir()
    shutil.copy(pki / "vt-ca.crt", sa / "ca.crt")
    (sa / "token").write_text("vt-sa-token-1\n")
    port = url.rsplit(":", 1)[1]
    env = {"KUBERNETES_SERVICE_HOST": "127.0.0.1", "KUBERNETES_SERVICE_PORT": port}
    store = KubernetesDatastore(load_config(env, sa), kinds=[NAMESPACE])
    store.snapshot()
    (sa / "token").write_text("vt-sa-token-2\n")  # the kubelet rotated it
    store.snapshot()
    assert [r.headers["Authorization"] for r in rec.requests[-2:]] == [
        "Bearer vt-sa-token-1",
        "Bearer vt-sa-token-2",
    ]


def test_in_cluster_without_a_token_is_a_config_error(tmp_path: Path) -> None:
    env = {"KUBERNETES_SERVICE_HOST": "10.0.0.1", "KUBERNETES_SERVICE_PORT": "443"}
    with pytest.raises(DatastoreConfigError) as caught:
        in_cluster(env, tmp_path)
    assert str(caught.value) == f"kubernetes in-cluster: {tmp_path / 'token'} is missing"


def test_exec_plugin_is_refused_naming_file_and_field(tmp_path: Path) -> None:
    config = write_kubeconfig(tmp_path / "kc", "https://127.0.0.1:6443", "x: 1",
                              "exec: {command: kubelogin}")
    with pytest.raises(DatastoreConfigError) as caught:
        from_kubeconfig([config])
    assert str(caught.value) == (
        f"{config}: field users[u1].user.exec: not supported by the agent; use a serviceaccount "
        "token (token/tokenFile) or a client certificate"
    )


def test_kubeconfig_errors_name_the_field(tmp_path: Path) -> None:
    bad = tmp_path / "kc"
    bad.write_text("clusters: []\n")
    with pytest.raises(DatastoreConfigError, match=r"kc: field current-context: not set$"):
        from_kubeconfig([bad])
    bad.write_text("current-context: gone\ncontexts: []\n")
    with pytest.raises(DatastoreConfigError, match=r"kc: field contexts: no entry named 'gone'$"):
        from_kubeconfig([bad])
    bad.write_text("current-context: [\n")
    with pytest.raises(DatastoreConfigError, match=r"kc:2: invalid YAML in kubeconfig$"):
        from_kubeconfig([bad])


def test_kubeconfig_list_merges_first_definition_wins(tmp_path: Path) -> None:
    first = write_kubeconfig(tmp_path / "a", "http://127.0.0.1:1111", "x: 1", "token: a")
    second = tmp_path / "b"
    second.write_text(
        "current-context: other\ncontexts: [{name: agent, context: {cluster: c1}}]\n"
        "clusters: [{name: c1, cluster: {server: 'http://127.0.0.1:2222'}}]\n"
    )
    config = load_config({"KUBECONFIG": f"{first}:{second}"})
    assert config.endpoint.url == "http://127.0.0.1:1111"
    assert config.auth_headers() == {"Authorization": "Bearer a"}


def test_nothing_configured_says_what_was_looked_for(tmp_path: Path) -> None:
    with pytest.raises(DatastoreConfigError) as caught:
        load_config({"HOME": str(tmp_path)})
    assert str(caught.value) == (
        "kubernetes: no API server configured (KUBECONFIG unset, not in a pod: "
        f"KUBERNETES_SERVICE_HOST unset, and no {tmp_path}/.kube/config)"
    )
