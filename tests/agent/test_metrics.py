"""The agent's metrics as a Prometheus server scrapes them over HTTP."""

from __future__ import annotations

import re
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest

from vfpnet.agent.metrics import (
    CONTENT_TYPE,
    AgentMetrics,
    Counter,
    Gauge,
    Histogram,
    MetricsServer,
    Registry,
    new_agent_metrics,
)

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$')


def parse(text: str) -> dict[str, float]:
    """Sample lines as {'name{labels}': value}; every other line must be HELP or TYPE."""
    samples: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith("# HELP ") or line.startswith("# TYPE "):
            continue
        match = SAMPLE.match(line)
        assert match, f"not a sample line: {line!r}"
        samples[line.rsplit(" ", 1)[0]] = float(match.group(4))
    return samples


@pytest.fixture
def served() -> Iterator[tuple[AgentMetrics, MetricsServer]]:
    registry = Registry()
    metrics = new_agent_metrics(registry)
    server = MetricsServer(registry)
    try:
        yield metrics, server
    finally:
        server.stop()


def scrape(server: MetricsServer) -> tuple[str, str]:
    with urllib.request.urlopen(server.url, timeout=5) as response:
        return response.headers["Content-Type"], response.read().decode()


def test_scrape_shows_syncs_durations_rules_errors_and_latency(
    served: tuple[AgentMetrics, MetricsServer],
) -> None:
    metrics, server = served
    metrics.syncs.inc(dataplane="nftables")
    metrics.syncs.inc(dataplane="nftables")
    metrics.sync_duration.observe(0.004, dataplane="nftables")
    metrics.sync_duration.observe(0.3, dataplane="nftables")
    metrics.rules_per_endpoint.set(12, endpoint="prod/web")
    metrics.rules_per_endpoint.set(3, endpoint="prod/db")
    metrics.rules_per_endpoint.remove(endpoint="prod/db")
    metrics.errors.inc(source="datastore")
    metrics.last_apply_latency.set(0.0125)

    content_type, text = scrape(server)
    samples = parse(text)

    assert content_type == CONTENT_TYPE
    assert samples['vfpnet_agent_syncs_total{dataplane="nftables"}'] == 2
    bucket = 'vfpnet_agent_sync_duration_seconds_bucket{dataplane="nftables",le="%s"}'
    assert samples[bucket % "0.005"] == 1
    assert samples[bucket % "0.25"] == 1
    assert samples[bucket % "+Inf"] == 2
    assert samples['vfpnet_agent_sync_duration_seconds_count{dataplane="nftables"}'] == 2
    assert samples['vfpnet_agent_sync_duration_seconds_sum{dataplane="nftables"}'] == 0.304
    assert samples['vfpnet_agent_endpoint_rules{endpoint="prod/web"}'] == 12
    assert 'vfpnet_agent_endpoint_rules{endpoint="prod/db"}' not in samples
    assert samples['vfpnet_agent_errors_total{source="datastore"}'] == 1
    assert samples["vfpnet_agent_last_apply_latency_seconds"] == 0.0125
    assert "# TYPE vfpnet_agent_sync_duration_seconds histogram" in text
    assert "# TYPE vfpnet_agent_syncs_total counter" in text


def test_other_paths_are_404(served: tuple[AgentMetrics, MetricsServer]) -> None:
    _, server = served
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(server.url.replace("/metrics", "/"), timeout=5)
    assert caught.value.code == 404


def test_label_values_are_escaped() -> None:
    registry = Registry()
    gauge = Gauge("g", "a\nhelp", ["endpoint"])
    registry.register(gauge)
    gauge.set(1, endpoint='we"ird\\ns\nname')
    text = registry.render()
    assert 'g{endpoint="we\\"ird\\\\ns\\nname"} 1' in text
    assert "# HELP g a\\nhelp" in text


def test_misuse_is_refused() -> None:
    counter = Counter("c", "h", ["a"])
    with pytest.raises(ValueError, match="a counter only goes up"):
        counter.inc(-1, a="x")
    with pytest.raises(ValueError, match=r"c: labels \['b'\] != \['a'\]"):
        counter.inc(b="x")
    registry = Registry()
    registry.register(Histogram("h", "h"))
    with pytest.raises(ValueError, match="registered twice"):
        registry.register(Histogram("h", "h"))


def test_stop_frees_the_port() -> None:
    registry = Registry()
    server = MetricsServer(registry)
    port = server.port
    server.stop()
    again = MetricsServer(registry, port=port)
    again.stop()
