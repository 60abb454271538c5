"""Time to first frame: from the WHEP POST to the first decoded picture, with and without the GOP cache.

    .venv/bin/python bench/ttff.py --repeats 10

Two cameras from the load generator, 1080p30 H.264 at about 4 Mbit/s with a
keyframe every 2 s and every 4 s, behind a real ``bconnect serve``. Each
try is one aiortc viewer (it decodes, as a browser does) posting an offer
with ``?start=gop`` (the default: the GOP cache) or ``?start=live`` (wait for
the camera's next keyframe, as a server without a cache must), then waiting
for its first decoded frame. Tries start at random moments within the GOP
and the four cases take turns, so a busy spell on the machine does not fall
on one case only.

The last line printed is one JSON object: ``{"ttff_ms": [{"gop_s": 2,
"gop_cache": true, "p50": ..., "p99": ...}, ...]}``.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import time

import httpx
from common import REPO, BconnectServer, Loadgen, final, percentile
from loadgen import ensure_clip

sys.path.insert(0, str(REPO / "tests"))
from support.whep_client import WhepViewer


async def one_try(http: httpx.AsyncClient, camera: str, cache: bool, timeout: float) -> tuple[float, float]:
    """Seconds from the POST to the answer applied, and to the first decoded frame."""
    viewer = WhepViewer(http, camera, start="gop" if cache else "live")
    try:
        await viewer.connect()
        answered = time.monotonic() - viewer.posted_at
        await viewer.wait_frames(1, timeout=timeout)
        return answered, viewer.ttff
    finally:
        await viewer.close()


async def measure(
    server: BconnectServer, gops: list[float], repeats: int, seed: int
) -> dict[tuple[float, bool], list[tuple[float, float]]]:
    rng = random.Random(seed)
    cases = [(gop, cache) for gop in gops for cache in (True, False)]
    results: dict[tuple[float, bool], list[tuple[float, float]]] = {case: [] for case in cases}
    async with httpx.AsyncClient(base_url=server.base_url, headers=server.headers, timeout=30) as http:
        for _ in range(repeats):
            rng.shuffle(cases)
            for gop, cache in cases:
                await asyncio.sleep(rng.uniform(0, gop))  # land anywhere in the GOP
                results[(gop, cache)].append(await one_try(http, f"gop{gop:g}", cache, timeout=gop + 10))
    return results


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=5, help="tries per case (default %(default)s)")
    ap.add_argument("--gop", type=float, action="append", help="keyframe interval in s (repeatable; default 2 and 4)")
    ap.add_argument("--size", default="1920x1080")
    ap.add_argument("--kbps", type=int, default=4000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--load-cameras", type=int, default=0,
                    help="more cameras (keyframe every 2 s) the server ingests meanwhile, unwatched: a loaded server")
    args = ap.parse_args()
    gops = args.gop or [2.0, 4.0]
    if args.repeats < 1 or any(g <= 0 for g in gops):
        ap.error("need --repeats >= 1 and positive --gop")
    width, height = (int(x) for x in args.size.lower().split("x"))
    # a whole number of GOPs per loop, so the loop point is a keyframe like any other
    clips = {f"gop{g:g}": ensure_clip(g, width=width, height=height, kbps=args.kbps, seconds=max(12.0, 3 * g))
             for g in gops}
    print(f"ttff bench: {width}x{height}p30 H.264 ~{args.kbps} kbit/s, keyframe every {', '.join(f'{g:g}' for g in gops)} s,"
          f" {args.repeats} tries per case, {args.load_cameras} more cameras ingested meanwhile", flush=True)
    mounts = dict(clips)
    if args.load_cameras:
        load_clip = ensure_clip(2.0, width=width, height=height, kbps=args.kbps)
        mounts.update({f"load{i}": load_clip for i in range(args.load_cameras)})
    loadgen = Loadgen(mounts).start()
    server = BconnectServer({name: loadgen.url(name) for name in mounts})
    try:
        server.start()
        server.wait_online()
        time.sleep(max(gops))  # every GOP cache full
        results = asyncio.run(measure(server, gops, args.repeats, args.seed))
    finally:
        server.stop()
        loadgen.stop()

    rows = []
    print(f"\n  {'keyframes':>9}  {'GOP cache':>9}  {'p50 ms':>8}  {'p99 ms':>8}  {'min':>6}  {'max':>6}"
          f"  {'answer p50':>10}  tries")
    for gop in gops:
        for cache in (True, False):
            ms = [t * 1000 for _, t in results[(gop, cache)]]
            answer = statistics.median(a * 1000 for a, _ in results[(gop, cache)])
            p50, p99 = statistics.median(ms), percentile(ms, 0.99)
            rows.append({"gop_s": gop if gop != int(gop) else int(gop), "gop_cache": cache, "p50": round(p50, 1),
                         "p99": round(p99, 1), "min": round(min(ms), 1), "max": round(max(ms), 1), "n": len(ms),
                         "answer_p50": round(answer, 1)})
            print(f"  {gop:>8g}s  {'yes' if cache else 'no':>9}  {p50:>8.1f}  {p99:>8.1f}  {min(ms):>6.0f}  {max(ms):>6.0f}"
                  f"  {answer:>10.1f}  {len(ms)}")
    print("  (answer: POST to the SDP answer applied; the rest is ICE, DTLS, the keyframe's packets and its decoding)")
    print("  (target: p50 under 300 ms whatever the keyframe interval)")
    final({"ttff_ms": rows, "load_cameras": args.load_cameras})
    return 0


if __name__ == "__main__":
    sys.exit(main())
