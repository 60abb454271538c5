"""Camera recovery after reboots, and the CPU of a camera that stays dead: today's policy against the old one.

    .venv/bin/python bench/recovery.py                       # 12 restarts each, 60 s of a dead camera
    .venv/bin/python bench/recovery.py --restarts 30 --dead-seconds 120

A real GStreamer RTSP server is stopped and started on the schedule of
``tests/support/flapping.py`` (quick flaps first, then reboots of 0.2-6 s),
repeated up to ``--restarts``; a recovery is the time from the server
accepting connections again to the first packet of the new connection in the
camera's multiplexer. Each policy runs the same schedule on its own server,
one after the other, in this process:

- **new**: :class:`core.media.reconnect.Reconnect` with the default ``[media]``
  settings (TCP probe every 0.5 s, backoff capped at 2 s, afresh after a loss);
- **old**: the policy before issue 11: no probe, doubling from 0.5 s up to
  30 s with full jitter, afresh only after 30 s online.

Meanwhile one camera per policy points at a refused port for ``--dead-seconds``;
its ingest thread's CPU is read from ``/proc/self/task/ID/stat``.
The last line is JSON: ``restarts``, ``new`` and ``old`` (each ``p50_s``,
``p99_s``, ``max_s``, ``within_3s``, ``recoveries``), ``dead_seconds``,
``dead_cpu_ms`` (``new``, ``old``), ``dead_probes_new``.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "tests"), str(REPO / "bench")]

from common import final, percentile  # noqa: E402
from support.flapping import SCHEDULE, flap, thread_cpu_s  # noqa: E402

from core.interfaces import StreamSource  # noqa: E402
from core.media.handoff import LoopHandoff  # noqa: E402
from core.media.ingest import CameraIngest  # noqa: E402
from core.media.ingest_settings import IngestSettings  # noqa: E402
from core.media.mux import CameraMux  # noqa: E402
from core.media.reconnect import Reconnect  # noqa: E402
from core.testing.rtsp import DEFAULT_MOUNTS, RtspServer  # noqa: E402

OLD_SETTINGS = IngestSettings(backoff_cap_s=30.0, probe_interval_s=0)
OLD_HEALTHY_AFTER_S = 30.0


class OldReconnect(Reconnect):
    """The policy before issue 11: the backoff starts afresh only after 30 s online (and no probe)."""

    def lost(self, online_for: float) -> None:
        if online_for >= OLD_HEALTHY_AFTER_S:
            self.step = 0


class OldIngest(CameraIngest):
    retry_policy = OldReconnect


POLICIES = {"new": (CameraIngest, IngestSettings()), "old": (OldIngest, OLD_SETTINGS)}


def start_ingest(name: str, url: str, policy: str, handoff: LoopHandoff) -> tuple[CameraMux, CameraIngest]:
    kind, settings = POLICIES[policy]
    mux = CameraMux(name, ring_seconds=0)
    ingest = kind(name, StreamSource(url), handoff=handoff, publish=mux.publish, set_stream_info=mux.set_stream_info,
                  settings=settings)  # fmt: skip
    ingest.start()
    return mux, ingest


async def measure_flaps(
    policy: str, schedule: list[tuple[float, float]], timeout: float, handoff: LoopHandoff
) -> list[float]:
    server = RtspServer(mounts={"h264_gop1": DEFAULT_MOUNTS["h264_gop1"]}).start()
    mux, ingest = start_ingest(f"flapping-{policy}", server.url("h264_gop1"), policy, handoff)
    try:
        return await flap(server, mux, schedule, timeout)
    finally:
        ingest.request_stop()
        server.stop()
        mux.close()


def summary(recoveries: list[float]) -> dict:
    return {
        "p50_s": round(percentile(recoveries, 0.5), 3),
        "p99_s": round(percentile(recoveries, 0.99), 3),
        "max_s": round(max(recoveries), 3),
        "within_3s": sum(r <= 3.0 for r in recoveries),
        "recoveries": [round(r, 2) for r in recoveries],
    }


async def main(args: argparse.Namespace) -> dict:
    schedule = [SCHEDULE[i % len(SCHEDULE)] for i in range(args.restarts)]
    handoff = LoopHandoff(asyncio.get_running_loop())
    dead = {p: start_ingest(f"dead-{p}", "rtsp://127.0.0.1:1/x", p, handoff)[1] for p in POLICIES}
    await asyncio.sleep(0.5)  # the threads have started and failed once
    dead_since = time.monotonic()
    cpu_before = {p: thread_cpu_s(ingest._thread.native_id) for p, ingest in dead.items()}
    result: dict = {"restarts": args.restarts}
    for policy in POLICIES:
        recoveries = await measure_flaps(policy, schedule, args.timeout, handoff)
        result[policy] = summary(recoveries)
        s = result[policy]
        print(f"{policy}: recovery p50 {s['p50_s']:.2f} s, p99 {s['p99_s']:.2f} s, max {s['max_s']:.2f} s, "
              f"{s['within_3s']}/{len(recoveries)} within 3 s", flush=True)  # fmt: skip
    await asyncio.sleep(max(0.0, dead_since + args.dead_seconds - time.monotonic()))
    elapsed = time.monotonic() - dead_since
    cpu = {p: thread_cpu_s(ingest._thread.native_id) - cpu_before[p] for p, ingest in dead.items()}
    probes = dead["new"].reconnect.probes if dead["new"].reconnect else 0
    for ingest in dead.values():
        ingest.request_stop()
    print(f"a dead camera over {elapsed:.0f} s: new {cpu['new'] * 1000:.0f} ms CPU ({probes} probes), "
          f"old {cpu['old'] * 1000:.0f} ms CPU", flush=True)  # fmt: skip
    new, old = result["new"], result["old"]
    print(f"p99 recovery old / new: {old['p99_s'] / max(new['p99_s'], 0.001):.1f}x", flush=True)
    result |= {
        "dead_seconds": round(elapsed, 1),
        "dead_cpu_ms": {p: round(c * 1000, 1) for p, c in cpu.items()},
        "dead_probes_new": probes,
    }
    return result


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--restarts", type=int, default=len(SCHEDULE), help="restarts per policy (the schedule repeats)")
    ap.add_argument(
        "--dead-seconds", type=float, default=60.0, help="how long the dead cameras' CPU is read (at least the flapping's length)"
    )
    ap.add_argument("--timeout", type=float, default=40.0, help="a recovery slower than this counts as this")
    final(asyncio.run(main(ap.parse_args())))
