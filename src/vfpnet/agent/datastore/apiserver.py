"""The two API calls the agent makes: list a kind, and watch it from a resourceVersion.

Why not a client library: the official `kubernetes` package brings ~10 dependencies
(google-auth, requests-oauthlib, websocket-client, ...) and thousands of generated model
classes, and converts objects to them (the agent wants the raw JSON); its `Watch` helper
raises on 410 and on ERROR events without relisting, so the loop that matters would be ours
anyway. lightkube converts to its own models too and its watch drops ERROR events and the
list's resourceVersion. What is left of a client for the agent is two GET paths and a
line-per-event stream, done here over http.client and tested against recorded streams.
"""

from __future__ import annotations

import http.client
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from vfpnet.agent.datastore.errors import DatastoreUnavailable
from vfpnet.agent.datastore.http_stream import (
    HttpStatusError,
    JsonLineStream,
    open_stream,
    request_json,
)
from vfpnet.agent.datastore.kinds import Kind
from vfpnet.agent.datastore.kubeconfig import ApiServerConfig


class GoneError(Exception):
    """410 Gone: the resourceVersion (or continue token) is too old; relist."""


class NotServedError(Exception):
    """404 on a collection: the kind is not served (its CRD is not installed)."""


class ApiServer:
    def __init__(self, config: ApiServerConfig, timeout: float = 10.0) -> None:
        self.config = config
        self.timeout = timeout

    def _path(self, kind: Kind, query: Mapping[str, str]) -> str:
        return f"{self.config.base_path}{kind.collection_path}?{urlencode(query)}"

    def _failure(self, path: str, exc: BaseException) -> DatastoreUnavailable:
        url = f"{self.config.endpoint.url}{path.split('?')[0]}"
        if isinstance(exc, HttpStatusError):
            message = exc.body.get("message")
            detail = f"HTTP {exc.status} {exc.reason}" + (f": {message}" if message else "")
        elif isinstance(exc, OSError) and exc.strerror:
            detail = exc.strerror
        else:
            detail = str(exc) or type(exc).__name__
        return DatastoreUnavailable(f"kubernetes {url}: {detail}")

    def list(self, kind: Kind, page_size: int = 500) -> tuple[list[dict[str, Any]], str]:
        """Every object of `kind` (kind and apiVersion filled in), and the list's version."""
        items: list[dict[str, Any]] = []
        query = {"limit": str(page_size)}
        while True:
            path = self._path(kind, query)
            try:
                answer = request_json(
                    self.config.endpoint, "GET", path, None, self.config.auth_headers(),
                    self.timeout,
                )
            except HttpStatusError as exc:
                if exc.status == 410 and "continue" in query:
                    # The continue token expired mid-list: start the list again.
                    items, query = [], {"limit": str(page_size)}
                    continue
                if exc.status == 404:
                    raise NotServedError(kind.collection_path) from None
                raise self._failure(path, exc) from None
            except (OSError, http.client.HTTPException, ValueError) as exc:
                raise self._failure(path, exc) from None
            for item in answer.get("items") or []:
                # List items come without kind and apiVersion; the consumer needs them.
                items.append({"apiVersion": kind.api_version, "kind": kind.name, **item})
            metadata = answer.get("metadata") or {}
            if metadata.get("continue"):
                query = {"limit": str(page_size), "continue": metadata["continue"]}
                continue
            return items, str(metadata.get("resourceVersion", ""))

    def watch(self, kind: Kind, resource_version: str, timeout_seconds: int) -> JsonLineStream:
        """The open watch stream of `kind` after `resource_version`."""
        query = {
            "watch": "1",
            "resourceVersion": resource_version,
            "allowWatchBookmarks": "true",
            "timeoutSeconds": str(timeout_seconds),
        }
        path = self._path(kind, query)
        try:
            return open_stream(
                self.config.endpoint,
                "GET",
                path,
                None,
                self.config.auth_headers(),
                self.timeout,
                # The server ends the watch after timeoutSeconds; silence well past that
                # means the connection is dead without the socket knowing.
                timeout_seconds + 30,
            )
        except HttpStatusError as exc:
            if exc.status == 410:
                raise GoneError(str(exc)) from None
            if exc.status == 404:
                raise NotServedError(kind.collection_path) from None
            raise self._failure(path, exc) from None
        except (OSError, http.client.HTTPException) as exc:
            raise self._failure(path, exc) from None
