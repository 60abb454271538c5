"""Prometheus metrics of one app (a registry per app, no globals)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST


class Metrics:
    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.plugin_errors = Counter(
            "bconnect_plugin_errors",
            "Exceptions raised by a plugin and contained by the core",
            ["plugin", "where"],
            registry=self.registry,
        )
        self.job_runs = Counter(
            "bconnect_job_runs", "Scheduled job runs by outcome", ["job", "plugin", "outcome"], registry=self.registry
        )
        self.login_failures = Counter("bconnect_login_failures", "Failed logins", registry=self.registry)
        self.http_requests = Counter(
            "bconnect_http_requests", "HTTP requests by status class", ["status"], registry=self.registry
        )
        self.analytics_frames_dropped = Counter(
            "bconnect_analytics_frames_dropped",
            "Frames an analyzer did not get because it was still busy with an earlier one (live view first)",
            ["camera"],
            registry=self.registry,
        )
        self.analyzer_errors = Counter(
            "bconnect_analyzer_errors", "Exceptions raised by an analyzer and contained", ["analyzer", "camera"],
            registry=self.registry,
        )
        self.detector_seconds = Histogram(
            "bconnect_detector_seconds",
            "Time from a frame handed to the detector to its detections (queueing and batching included)",
            ["camera"],
            buckets=(0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0),
            registry=self.registry,
        )
        self.detector_frames_dropped = Counter(
            "bconnect_detector_frames_dropped",
            "Frames the detector dropped because it was saturated (the tracker held its tracks instead)",
            ["camera"],
            registry=self.registry,
        )
        self.up = Gauge("bconnect_up", "1 while the app runs", registry=self.registry)
        self.gc_pause = Histogram(
            "bconnect_gc_pause_seconds",
            "Python garbage collections by generation: how long each stopped the server",
            ["generation"],
            buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25),
            registry=self.registry,
        )

    def on_plugin_failure(self, plugin: str, where: str, exc: BaseException) -> None:
        self.plugin_errors.labels(plugin=plugin, where=where).inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)
