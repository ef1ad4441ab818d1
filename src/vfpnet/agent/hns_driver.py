"""The HNS driver: one ModifyEndpoint (Update) per endpoint whose ACLs must change.

An Update replaces the endpoint's whole policy list, so the driver reads the endpoint
first and keeps every policy that is not one of our ACLs (the CNI's OutboundNAT, routes,
other ACLs). An endpoint whose ACLs already equal the desired ones gets no call at all:
on real Windows, re-applying unchanged ACLs resets the endpoint's connections.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from typing import Any

from vfpnet.agent.calc import Delta, DesiredEndpoint
from vfpnet.agent.driver import ApplyResult, DataplaneError
from vfpnet.agent.render_hns import ID_PREFIX, render_endpoint
from vfpnet.hns.client import HnsClient
from vfpnet.hns.errors import HcnError

log = logging.getLogger(__name__)


def _ours(policy: Mapping[str, Any]) -> bool:
    settings = policy.get("Settings")
    return (
        str(policy.get("Type", "")).upper() == "ACL"
        and isinstance(settings, Mapping)
        and str(settings.get("Id", "")).startswith(ID_PREFIX)
    )


def _canon(policies: Sequence[Mapping[str, Any]]) -> str:
    return json.dumps(list(policies), sort_keys=True)


class HnsDriver:
    name = "hns"

    def __init__(self, client: HnsClient, host_addresses: Sequence[str] = ()) -> None:
        self.client = client
        self.host_addresses = tuple(host_addresses)
        self.modify_calls = 0
        self.synced = False

    def _program(self, handle: str, acls: list[dict[str, Any]]) -> bool:
        """Make the endpoint hold exactly `acls` as our ACLs; True if a call was made."""
        try:
            endpoint = self.client.get_endpoint(handle)
        except HcnError as exc:
            raise DataplaneError(f"hns: endpoint {handle}: {exc}") from None
        current = list(endpoint.get("Policies") or [])
        if _canon([p for p in current if _ours(p)]) == _canon(acls):
            return False
        kept = [p for p in current if not _ours(p)]
        request = {
            "ResourceType": "Policy",
            "RequestType": "Update",
            "Settings": {"Policies": kept + acls},
        }
        try:
            self.client.modify_endpoint(handle, request)
        except HcnError as exc:
            raise DataplaneError(f"hns: endpoint {handle}: ModifyEndpoint: {exc}") from None
        self.modify_calls += 1
        return True

    def _sync(self, desired: Mapping[str, DesiredEndpoint], removed: Sequence[str]) -> ApplyResult:
        programmed: list[str] = []
        errors: dict[str, str] = {}
        for handle, d in desired.items():
            acls, error = render_endpoint(d, self.host_addresses)
            if error:
                errors[handle] = error
            if self._program(handle, acls):
                programmed.append(handle)
        for handle in removed:
            try:
                if self._program(handle, []):
                    programmed.append(handle)
            except DataplaneError:
                pass  # the endpoint is gone with its ACLs
        return ApplyResult(programmed=tuple(programmed), errors=errors)

    def apply(self, delta: Delta) -> ApplyResult:
        return self._sync(delta.changed, sorted(delta.removed))

    def resync(self, desired: Mapping[str, DesiredEndpoint]) -> ApplyResult:
        result = self._sync(desired, [])
        repaired = self.synced and bool(result.programmed)
        self.synced = True
        return ApplyResult(result.programmed, repaired, result.errors)

    def cleanup(self) -> None:
        for endpoint in self.client.list_endpoints():
            if any(_ours(p) for p in endpoint.get("Policies") or []):
                self._program(str(endpoint["ID"]), [])
