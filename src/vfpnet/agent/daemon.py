"""The agent's life: wait for the datastore, one full sync, then events, endpoints, resyncs.

- Nothing is touched before the datastore answers: until the first snapshot, pods keep
  whatever the dataplane holds (no open window at startup). `--once` fails instead.
- The first sync is a full `resync`: the driver swaps the whole desired state in at once
  (nftables: one batch; HNS: one call per endpoint whose ACLs differ).
- Then every datastore event and every change of the local endpoints (polled) yields a
  delta that is applied as it comes; a timer resyncs (repairs drift).
- After each sync the status file is rewritten (`status.py`); logs say what changed and why.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from vfpnet.agent.calc import Calculator, Delta
from vfpnet.agent.datastore.errors import DatastoreError, DatastoreUnavailable
from vfpnet.agent.datastore.events import Snapshot
from vfpnet.agent.datastore.protocol import Datastore
from vfpnet.agent.driver import ApplyResult, DataplaneError, Driver
from vfpnet.agent.endpoints import DEFAULT_CNI_STATE_DIR, EndpointSource
from vfpnet.agent.metrics import MetricsServer, Registry, new_agent_metrics
from vfpnet.agent.status import build_status, run_dir, write_status
from vfpnet.errors import InputError, VfpnetError

log = logging.getLogger("vfpnet.agent")

DATAPLANES = ("nftables", "hns")


@dataclass(frozen=True)
class AgentConfig:
    datastore: str
    dataplane: str
    node: str
    once: bool = False
    run_dir: str | None = None
    cni_state_dir: str = DEFAULT_CNI_STATE_DIR
    hns_state: str | None = None
    host_addresses: tuple[str, ...] = ()
    table: str = "vfpnet"
    resync_seconds: float = 30.0
    endpoint_poll_seconds: float = 1.0
    startup_timeout: float | None = None  # --once: how long to wait for the datastore
    metrics_port: int | None = None  # serve /metrics on 127.0.0.1:PORT (0: any free port)
    extra: dict[str, Any] = field(default_factory=dict)


def open_datastore(spec: str) -> Datastore:
    """`files:DIR`, `kubernetes` or `etcd:URL[,URL...]` (`vfpnet.agent.datastore.spec`)."""
    from vfpnet.agent.datastore.spec import open_datastore as open_spec

    return open_spec(spec)


def open_dataplane(config: AgentConfig) -> tuple[Driver, EndpointSource]:
    if config.dataplane == "nftables":
        from vfpnet.agent.endpoints import CniStateEndpoints
        from vfpnet.agent.nft_runner import LibNft
        from vfpnet.agent.nftables_driver import NftablesDriver

        return NftablesDriver(LibNft(), config.table), CniStateEndpoints(config.cni_state_dir)
    if config.dataplane == "hns":
        from vfpnet.agent.endpoints import HnsEndpoints
        from vfpnet.agent.hns_driver import HnsDriver
        from vfpnet.hns.client import open_client

        client = open_client(config.hns_state)
        return HnsDriver(client, config.host_addresses), HnsEndpoints(client)
    raise InputError(f"--dataplane: {config.dataplane!r}: expected one of {', '.join(DATAPLANES)}")


class Agent:
    def __init__(
        self, config: AgentConfig, datastore: Datastore, driver: Driver, source: EndpointSource
    ) -> None:
        self.config = config
        self.datastore = datastore
        self.driver = driver
        self.source = source
        self.calc = Calculator(config.node, datastore.description)
        self.stop = threading.Event()
        self.syncs = 0
        self.last_sync: float | None = None
        self.last_sync_seconds: float | None = None
        self.errors: list[str] = []
        self.fail_closed: dict[str, str] = {}
        self.state = "starting"
        self.needs_resync = False
        self.registry = Registry()
        self.metrics = new_agent_metrics(self.registry)

    # -- steps ------------------------------------------------------------------------

    def wait_for_snapshot(self) -> Snapshot:
        delay = 0.2
        started = time.monotonic()
        while True:
            try:
                return self.datastore.snapshot()
            except DatastoreUnavailable as exc:
                waited = time.monotonic() - started
                limit = self.config.startup_timeout
                if self.config.once and (limit is None or waited >= limit):
                    raise VfpnetError(
                        f"datastore {self.datastore.description} did not answer: {exc}; "
                        "the dataplane was left as it was"
                    ) from None
                self.state = "waiting for the datastore (dataplane left as it was)"
                self.errors = [str(exc)]
                self._write_status()
                log.warning("datastore not answering (%s); nothing changed, retrying", exc)
                if self.stop.wait(delay):
                    raise VfpnetError("stopped before the datastore answered") from None
                delay = min(delay * 2, 5.0)

    def refresh_endpoints(self) -> Delta:
        endpoints, problems = self.source.local_endpoints()
        for problem in problems:
            log.warning("%s", problem)
        return self.calc.set_endpoints(endpoints)

    def full_sync(self) -> ApplyResult:
        started = time.monotonic()
        result = self.driver.resync(self.calc.desired)
        self._done(started, result)
        if result.repaired:
            log.warning("resync: repaired drift in the %s dataplane", self.driver.name)
        return result

    def apply(self, delta: Delta) -> None:
        if not delta:
            return
        for handle, desired in delta.changed.items():
            log.info(
                "endpoint %s (%s): %d ingress / %d egress rules: %s",
                desired.pod, handle, len(desired.ingress), len(desired.egress),
                delta.reasons.get(handle, ""),
            )
        for handle in delta.removed:
            log.info("endpoint %s: removed", handle)
        started = time.monotonic()
        self._done(started, self.driver.apply(delta))

    def _done(self, started: float, result: ApplyResult) -> None:
        self.syncs += 1
        self.last_sync = time.time()
        self.last_sync_seconds = time.monotonic() - started
        self.metrics.syncs.inc(dataplane=self.driver.name)
        self.metrics.sync_duration.observe(self.last_sync_seconds, dataplane=self.driver.name)
        for handle in result.programmed:
            self.fail_closed.pop(handle, None)
            desired = self.calc.desired.get(handle)
            if desired is None:
                self.metrics.rules_per_endpoint.remove(endpoint=handle)
            else:
                rules = len(desired.ingress) + len(desired.egress)
                self.metrics.rules_per_endpoint.set(rules, endpoint=handle)
        for handle, message in result.errors.items():
            log.error("endpoint %s: %s (failed closed)", handle, message)
            self.metrics.errors.inc(source="dataplane")
            self.fail_closed[handle] = message
        self._write_status()

    def _apply_safely(self, delta: Delta) -> None:
        try:
            self.apply(delta)
        except DataplaneError as exc:
            self._failed(exc)

    def _failed(self, exc: DataplaneError) -> None:
        # The batch was refused as a whole: the dataplane holds what it held. The next
        # pass of the loop retries with a full resync.
        log.error("%s; retrying with a full resync", exc)
        self.metrics.errors.inc(source="dataplane")
        self.errors = [*self.errors[-9:], str(exc)]
        self.needs_resync = True
        self._write_status()

    def _write_status(self) -> None:
        status = build_status(
            self.calc, datastore=self.datastore.description, dataplane=self.driver.name,
            syncs=self.syncs, last_sync=self.last_sync, last_sync_seconds=self.last_sync_seconds,
            errors=self.errors, fail_closed=self.fail_closed, state=self.state,
        )
        try:
            write_status(run_dir(self.config.run_dir), status)
        except OSError as exc:
            log.warning("cannot write the status file: %s", exc)

    # -- the whole life ---------------------------------------------------------------

    def run(self) -> int:
        snapshot = self.wait_for_snapshot()
        self.errors = []
        self.refresh_endpoints()
        self.calc.load(snapshot)
        for key, error in sorted(self.calc.store.errors.items()):
            self.metrics.errors.inc(source="policy")
            log.error("invalid %s, not enforced (an earlier valid version would be): %s",
                      key, error)
        for handle, reason in sorted(self.calc.unjoined.items()):
            log.warning("endpoint %s: %s; left as it was", handle, reason)
        self.state = "synced"
        result = self.full_sync()
        log.info("full sync: %d endpoints programmed in %.3f s", len(result.programmed),
                 self.last_sync_seconds or 0.0)
        if self.config.once:
            if result.errors:
                raise DataplaneError(
                    f"{len(result.errors)} endpoint(s) failed closed: "
                    + "; ".join(f"{h}: {m}" for h, m in sorted(result.errors.items()))
                )
            return 0
        self.state = "running"
        self._write_status()
        return self.loop(snapshot.revision)

    def loop(self, revision: str) -> int:
        watch = self.datastore.watch(revision)
        next_poll = time.monotonic() + self.config.endpoint_poll_seconds
        next_resync = time.monotonic() + self.config.resync_seconds
        try:
            while not self.stop.is_set():
                event = watch.next_event(timeout=0.1)
                if event is not None:
                    received = time.monotonic()
                    self.metrics.datastore_events.inc(type=event.type.value)
                    if event.type.value == "ERROR":
                        self.metrics.errors.inc(source="datastore")
                    delta = self.calc.apply_event(event)
                    self._apply_safely(delta)
                    if delta:
                        self.metrics.last_apply_latency.set(time.monotonic() - received)
                now = time.monotonic()
                if now >= next_poll:
                    self._apply_safely(self.refresh_endpoints())
                    next_poll = now + self.config.endpoint_poll_seconds
                if now >= next_resync or self.needs_resync:
                    try:
                        self.full_sync()
                        self.needs_resync = False
                    except DataplaneError as exc:
                        self._failed(exc)
                    next_resync = now + self.config.resync_seconds
                if watch.stopped and not self.stop.is_set():
                    raise DatastoreError(f"{self.datastore.description}: the watch ended")
        finally:
            watch.stop()
        return 0


def run_agent(config: AgentConfig) -> int:
    datastore = open_datastore(config.datastore)
    driver, source = open_dataplane(config)
    agent = Agent(config, datastore, driver, source)
    server = None
    if config.metrics_port is not None:
        server = MetricsServer(agent.registry, port=config.metrics_port)
        log.info("metrics on %s", server.url)
    previous = signal.signal(signal.SIGTERM, lambda *_: agent.stop.set())
    try:
        return agent.run()
    finally:
        signal.signal(signal.SIGTERM, previous)
        if server is not None:
            server.stop()


def cleanup(config: AgentConfig) -> None:
    driver, _ = open_dataplane(config)
    driver.cleanup()
