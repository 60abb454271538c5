"""``GET /api/health`` (public) and ``GET /metrics`` (Prometheus text): plugin errors, HTTP classes."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

from core.app import create_app
from core.config import load_file
from support.appclient import bearer_headers, running
from support.thirdparty import thirdparty  # noqa: F401  (fixture)


def samples(text: str) -> dict[tuple[str, tuple], float]:
    """Parse Prometheus text format; fails if it is not valid."""
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def test_live_health_is_public_and_metrics_is_not(make_deployment, start_server):
    server = start_server(make_deployment("[plugins.parking_rule]\n"))
    with urllib.request.urlopen(server.url + "/api/health", timeout=5) as response:
        body = json.load(response)
    assert response.status == 200
    # a probe learns whether all is well, and counts; no plugin or camera by name
    assert body["status"] == "ok" and body["plugins"]["degraded"] == 0 and body["cameras"]["total"] == 0
    assert "parking_rule" not in json.dumps(body)
    try:
        urllib.request.urlopen(server.url + "/metrics", timeout=5)
        status = 200
    except urllib.error.HTTPError as exc:
        status = exc.code
    assert status == 401  # operations data needs an account (a bearer token for a scraper)


async def test_metrics_count_plugin_errors_and_http_status_classes(make_deployment, thirdparty):
    d = make_deployment('[plugins.tp_hello]\n[plugins.tp_faulty]\nfail_in = ["health"]\n')
    app = create_app(load_file(d.path))
    services = app.state.services
    async with running(app) as client:
        for _ in range(3):
            assert (await client.get("/api/health")).status_code == 200
        assert (await client.get("/metrics")).status_code == 401
        headers = await bearer_headers()  # scrape it like Prometheus would
        response = await client.get("/metrics", headers=headers)
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/plain")
        assert ("bconnect_up", ()) in samples(response.text)
        assert samples(services.metrics.render().decode())[("bconnect_up", ())] == 1
    got = samples(services.metrics.render().decode())
    assert got[("bconnect_plugin_errors_total", (("plugin", "tp_faulty"), ("where", "bconnect_health")))] == 3
    assert got[("bconnect_http_requests_total", (("status", "2xx"),))] >= 3
    assert got[("bconnect_http_requests_total", (("status", "4xx"),))] >= 1
    assert not any(name == "bconnect_plugin_errors_total" and ("plugin", "tp_hello") in labels
                   for name, labels in got)
    assert got[("bconnect_up", ())] == 0  # the app has stopped


async def test_start_up_objects_are_frozen_and_collections_are_timed(make_deployment):
    import gc

    app = create_app(load_file(make_deployment().path))
    metrics = app.state.services.metrics
    async with running(app):
        assert gc.get_freeze_count() > 10_000  # modules, models, plugins: never walked again
        garbage = []
        garbage.append(garbage)  # a cycle only the collector frees
        del garbage
        gc.collect(0)
        gc.collect()
        got = samples(metrics.render().decode())
        assert got[("bconnect_gc_pause_seconds_count", (("generation", "2"),))] >= 1
        assert got[("bconnect_gc_pause_seconds_count", (("generation", "0"),))] >= 1
    assert gc.get_freeze_count() == 0  # a stopped app leaves the collector as it found it
    before = samples(metrics.render().decode())[("bconnect_gc_pause_seconds_count", (("generation", "2"),))]
    gc.collect()
    assert samples(metrics.render().decode())[("bconnect_gc_pause_seconds_count", (("generation", "2"),))] == before


def test_a_collection_during_a_scrape_does_not_wait_for_the_scrapes_lock():
    """The callback must not take the metric's lock: a scrape holds it while it allocates (and may collect)."""
    import gc
    import threading

    from core.gc_pauses import GcWatch
    from core.metrics import Metrics

    metrics = Metrics()
    watch = GcWatch(metrics.gc_pause)
    watch.start()
    try:
        done = threading.Event()

        def collect_under_the_lock() -> None:
            with metrics.gc_pause._lock:  # as prometheus_client does while it renders
                gc.collect()
            done.set()

        worker = threading.Thread(target=collect_under_the_lock, daemon=True)
        worker.start()
        assert done.wait(5), "a collection inside a scrape hung on the metric's lock"
        assert samples(metrics.render().decode())[("bconnect_gc_pause_seconds_count", (("generation", "2"),))] >= 1
    finally:
        watch.stop()
