"""The events' Prometheus series, on the app's own registry."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class EventMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.published = Counter("bconnect_events_published", "Events stored, by kind", ["kind"], registry=registry)
        self.delivered = Counter(
            "bconnect_sink_deliveries", "Events a sink accepted", ["sink"], registry=registry
        )
        self.failures = Counter(
            "bconnect_sink_failures", "Deliveries a sink refused, raised on or timed out (each retry counts)",
            ["sink"], registry=registry,
        )
        self.lag = Gauge("bconnect_sink_lag_events", "Events stored but not yet accepted by the sink", ["sink"],
                         registry=registry)
        self.response = Histogram(
            "bconnect_event_response_seconds", "Alert to acknowledgement: how long an event waited for an operator",
            ["kind"], buckets=(5, 10, 20, 30, 60, 120, 300, 600, 1800, 3600), registry=registry,
        )
        self.live_clients = Gauge("bconnect_live_event_clients", "Open live event streams", registry=registry)
        self.live_dropped = Counter(
            "bconnect_live_event_clients_dropped", "Live event streams closed because the client fell behind",
            registry=registry,
        )
