"""bench/events.py still runs end to end: a tiny run, its final JSON line checked (behaviour, not timing)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_events_bench_prints_its_figures():
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "events.py"), "--events", "20", "--rate", "0"],
                          capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["delivered"] == 20 and result["streamed"] == 20 and result["database"] == "sqlite"
    for key in ("stored_per_s", "publish_p50_ms", "publish_p99_ms", "to_sink_p50_ms", "to_sink_p99_ms",
                "to_stream_p50_ms", "to_stream_p99_ms"):
        assert result[key] > 0, key
