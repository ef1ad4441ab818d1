"""Where the Kubernetes API is and how to authenticate: in-cluster or a kubeconfig.

Order, as client tools use it: `$KUBECONFIG` (a `:`-separated list, merged: the first
definition of a name wins); else in-cluster (`KUBERNETES_SERVICE_HOST`/`_PORT` and the
pod's serviceaccount token and CA); else `~/.kube/config`.

Supported credentials: bearer `token`/`tokenFile` (the file is read again before every
request: projected serviceaccount tokens rotate), client certificates (`client-certificate`
/`-data`, `client-key`/`-data`), and CA (`certificate-authority`/`-data`) or
`insecure-skip-tls-verify`. `exec` plugins, `auth-provider` and basic auth are refused with
a one-line error: an agent on a node runs with a serviceaccount token or the node's
certificate, not with a user's login helper.
"""

from __future__ import annotations

import base64
import binascii
import os
import ssl
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from vfpnet.agent.datastore.errors import DatastoreConfigError, DatastoreUnavailable
from vfpnet.agent.datastore.http_stream import Endpoint, parse_endpoint

SERVICEACCOUNT_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")


@dataclass(frozen=True)
class ApiServerConfig:
    """How to reach one API server."""

    endpoint: Endpoint
    base_path: str  # a path prefix in the server URL (API proxies), "" normally
    source: str  # "in-cluster" or "kubeconfig PATH context NAME", for messages
    token: str | None = None
    token_file: Path | None = None

    def auth_headers(self) -> dict[str, str]:
        token = self.token
        if self.token_file is not None:
            try:
                token = self.token_file.read_text().strip()
            except OSError as exc:
                raise DatastoreUnavailable(
                    f"{self.source}: cannot read token file {self.token_file}: {exc.strerror}"
                ) from None
        return {"Authorization": f"Bearer {token}"} if token else {}


def load_config(
    env: Mapping[str, str] | None = None,
    serviceaccount_dir: Path = SERVICEACCOUNT_DIR,
) -> ApiServerConfig:
    env = os.environ if env is None else env
    if env.get("KUBECONFIG"):
        paths = [Path(p) for p in env["KUBECONFIG"].split(os.pathsep) if p]
        return from_kubeconfig(paths)
    if env.get("KUBERNETES_SERVICE_HOST"):
        return in_cluster(env, serviceaccount_dir)
    home = Path(env.get("HOME", "~")).expanduser() / ".kube" / "config"
    if home.is_file():
        return from_kubeconfig([home])
    raise DatastoreConfigError(
        "kubernetes: no API server configured (KUBECONFIG unset, not in a pod: "
        f"KUBERNETES_SERVICE_HOST unset, and no {home})"
    )


def in_cluster(env: Mapping[str, str], serviceaccount_dir: Path) -> ApiServerConfig:
    host = env["KUBERNETES_SERVICE_HOST"]
    port = env.get("KUBERNETES_SERVICE_PORT", "443")
    token_file = serviceaccount_dir / "token"
    ca_file = serviceaccount_dir / "ca.crt"
    for needed in (token_file, ca_file):
        if not needed.is_file():
            raise DatastoreConfigError(f"kubernetes in-cluster: {needed} is missing")
    context = _ssl_context("in-cluster", ca_file=ca_file)
    url_host = f"[{host}]" if ":" in host else host
    endpoint = parse_endpoint(f"https://{url_host}:{port}", "KUBERNETES_SERVICE_HOST", context)
    return ApiServerConfig(endpoint, "", "in-cluster", token_file=token_file)


def from_kubeconfig(paths: list[Path], context_name: str | None = None) -> ApiServerConfig:
    merged: dict[str, dict[str, Any]] = {"clusters": {}, "users": {}, "contexts": {}}
    origin: dict[tuple[str, str], Path] = {}
    current: str | None = None
    for path in paths:
        doc = _read_kubeconfig(path)
        current = current or doc.get("current-context") or None
        for section in merged:
            for index, entry in enumerate(doc.get(section) or []):
                if not isinstance(entry, Mapping) or not isinstance(entry.get("name"), str):
                    raise DatastoreConfigError(f"{path}: field {section}[{index}].name: missing")
                if entry["name"] not in merged[section]:
                    merged[section][entry["name"]] = dict(entry)
                    origin[(section, entry["name"])] = path
    shown = ":".join(str(p) for p in paths)
    name = context_name or current
    if not name:
        raise DatastoreConfigError(f"{shown}: field current-context: not set")
    context = _section(merged, "contexts", name, "context", shown)
    cluster_name = context.get("cluster")
    user_name = context.get("user")
    if not isinstance(cluster_name, str):
        raise DatastoreConfigError(f"{shown}: field contexts[{name}].context.cluster: missing")
    cluster = _section(merged, "clusters", cluster_name, "cluster", shown)
    user = _section(merged, "users", user_name, "user", shown) if user_name else {}
    cluster_path = origin[("clusters", cluster_name)]
    user_path = origin.get(("users", str(user_name)), cluster_path)
    source = f"kubeconfig {shown} context {name}"
    where = f"{cluster_path}: clusters[{cluster_name}].cluster"

    server = cluster.get("server")
    if not isinstance(server, str) or not server:
        raise DatastoreConfigError(f"{where}.server: missing")
    parts = urlsplit(server)
    for refused in ("exec", "auth-provider", "username", "password"):
        if refused in user:
            raise DatastoreConfigError(
                f"{user_path}: field users[{user_name}].user.{refused}: not supported by the "
                "agent; use a serviceaccount token (token/tokenFile) or a client certificate"
            )
    ssl_context = None
    if parts.scheme == "https":
        ssl_context = _ssl_context(
            where,
            ca_file=_path(cluster, "certificate-authority", cluster_path),
            ca_data=_data(cluster, "certificate-authority-data", where),
            insecure=bool(cluster.get("insecure-skip-tls-verify")),
            cert_file=_path(user, "client-certificate", user_path),
            cert_data=_data(user, "client-certificate-data", f"{user_path}: users[{user_name}]"),
            key_file=_path(user, "client-key", user_path),
            key_data=_data(user, "client-key-data", f"{user_path}: users[{user_name}]"),
        )
    endpoint = parse_endpoint(f"{parts.scheme}://{parts.netloc}", f"{where}.server", ssl_context)
    token_file = _path(user, "tokenFile", user_path)
    token = user.get("token")
    return ApiServerConfig(
        endpoint,
        parts.path.rstrip("/"),
        source,
        token=token if isinstance(token, str) else None,
        token_file=token_file,
    )


def _read_kubeconfig(path: Path) -> Mapping[str, Any]:
    try:
        doc = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise DatastoreConfigError(f"{path}: cannot read kubeconfig: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        raise DatastoreConfigError(f"{path}{line}: invalid YAML in kubeconfig") from None
    if doc is None:
        return {}
    if not isinstance(doc, Mapping):
        raise DatastoreConfigError(f"{path}: a kubeconfig must be a mapping")
    return doc


def _section(
    merged: Mapping[str, Mapping[str, Any]], section: str, name: Any, field: str, shown: str
) -> Mapping[str, Any]:
    entry = merged[section].get(name) if isinstance(name, str) else None
    if entry is None:
        raise DatastoreConfigError(f"{shown}: field {section}: no entry named {name!r}")
    body = entry.get(field)
    if not isinstance(body, Mapping):
        raise DatastoreConfigError(f"{shown}: field {section}[{name}].{field}: missing")
    return body


def _path(section: Mapping[str, Any], field: str, relative_to: Path) -> Path | None:
    value = section.get(field)
    if not value:
        return None
    path = Path(str(value)).expanduser()
    return path if path.is_absolute() else relative_to.parent / path


def _data(section: Mapping[str, Any], field: str, where: str) -> bytes | None:
    value = section.get(field)
    if not value:
        return None
    try:
        return base64.b64decode(str(value), validate=True)
    except binascii.Error:
        raise DatastoreConfigError(f"{where}: field {field}: not valid base64") from None


def _ssl_context(
    where: str,
    ca_file: Path | None = None,
    ca_data: bytes | None = None,
    insecure: bool = False,
    cert_file: Path | None = None,
    cert_data: bytes | None = None,
    key_file: Path | None = None,
    key_data: bytes | None = None,
) -> ssl.SSLContext:
    context = ssl.create_default_context()
    try:
        if insecure:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        elif ca_data is not None:
            context = ssl.create_default_context(cadata=ca_data.decode("ascii", "replace"))
        elif ca_file is not None:
            context = ssl.create_default_context(cafile=str(ca_file))
        if cert_file or cert_data:
            _load_client_cert(context, cert_file, cert_data, key_file, key_data)
    except (OSError, ssl.SSLError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise DatastoreConfigError(f"{where}: TLS settings unusable: {reason}") from None
    return context


def _load_client_cert(
    context: ssl.SSLContext,
    cert_file: Path | None,
    cert_data: bytes | None,
    key_file: Path | None,
    key_data: bytes | None,
) -> None:
    # ssl only loads certificates from files: inline data goes through a private temp dir.
    with tempfile.TemporaryDirectory(prefix="vfpnet-kube-") as tmp:
        if cert_data is not None:
            cert_file = Path(tmp, "cert.pem")
            cert_file.write_bytes(cert_data)
        if key_data is not None:
            key_file = Path(tmp, "key.pem")
            key_file.touch(mode=0o600)
            key_file.write_bytes(key_data)
        assert cert_file is not None
        context.load_cert_chain(str(cert_file), str(key_file) if key_file else None)
