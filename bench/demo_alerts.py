"""The demo's alerts: how long after ``make run`` each kind of alert first shows, and how many in N minutes.

    .venv/bin/python bench/demo_alerts.py                       # deploy/demo.toml, 3 minutes
    .venv/bin/python bench/demo_alerts.py --minutes 5 --config deploy/demo.toml
    .venv/bin/python bench/demo_alerts.py --cameras sim-bm-1,sim-bpb-1,vtest   # only these cameras of the demo

Starts a real ``bconnect serve`` on a copy of the deployment file (its own port
and data folder under ``bench/out/demo_alerts/``, zone files and footage by
absolute path; the simulator's renders kept in ``bench/out/demo_alerts/sim`` so
that only the first run renders), makes an admin's token with ``bconnect
users``, renders the simulated cameras' loops first with ``bconnect
sim-render`` (as ``make run`` does; its time printed apart), and reads ``GET /api/events`` every two seconds (the same events the
SSE stream and the web UI show) until the minutes are over. Then one table:
alert kind (an ETLE ``sign.violation`` by its offence), camera, seconds from
the server's start to the first alert, and how many came; then the kinds the
deployment's analyzers can give that never came, the detector's load, each
analysed camera's stream (sub or main) and frames a second tracked and
detected on (from ``/api/health``), and one JSON line.

Times include the start-up (renders, the detector's load) and whatever the
machine's CPU allows the detector: on two shared cores the default detector
analyses far fewer frames than the cameras' 5 fps, and an alert's wait grows
with that. The server's log is kept in the run's folder.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

from common import ADMIN_PASSWORD, REPO, bconnect_cli, free_port  # noqa: E402

OUT = BENCH_DIR / "out" / "demo_alerts"
# what each rule plugin can say, for the "never came" list
KINDS = {
    "parking_rule": ["parking.violation"],
    "etle_rules": ["red_light.violation", "sign.violation:wrong_way", "speed.violation"],
    "accident_watch": ["accident.suspected"],
    "crime_watch": ["crime.loitering", "crime.crowd", "crime.running", "crime.restricted_area"],
}


def only_cameras(text: str, keep: set[str]) -> str:
    """The deployment text without the ``[[plugins.*.cameras]]`` blocks of cameras not in ``keep``."""
    blocks = re.split(r"(?m)^(?=\[)", text)
    out = []
    for block in blocks:
        m = re.match(r'\[\[plugins\.[a-z_]+\.cameras\]\]\s*\nid = "([^"]+)"', block)
        if m and m.group(1) not in keep:
            continue
        out.append(block)
    return "".join(out)


def deployment_copy(config: Path, port: int, data_dir: Path, cameras: set[str] | None = None) -> Path:
    """The deployment file with its own port and data folder, its zone files and relative footage absolute."""
    text = config.read_text()
    if cameras:
        text = only_cameras(text, cameras)
    text = re.sub(r"(?m)^port = \d+", f"port = {port}", text)
    text = re.sub(r'(?m)^data_dir = ".*"', f'data_dir = "{data_dir.as_posix()}"', text)
    text = re.sub(r'(?m)^secure_cookies = true', "secure_cookies = false", text)
    base = config.resolve().parent

    def absolute(m: re.Match) -> str:
        return f'"{(base / m.group(1)).as_posix()}"'

    text = re.sub(r'"(demo-zones/[^"]+)"', absolute, text)
    text = re.sub(r'url = "\./([^"]+)"', lambda m: f'url = "{(REPO / m.group(1)).as_posix()}"', text)
    out = data_dir.parent / "deployment.toml"
    out.write_text(text)
    return out


def enabled_rules(config: Path) -> list[str]:
    import tomllib

    doc = tomllib.loads(config.read_text())
    plugins = doc.get("plugins", {})
    return [p for p in KINDS if p in plugins and plugins[p].get("enabled", True) is not False]


def kind_of(event: dict) -> str:
    offence = (event.get("detail") or {}).get("offence")
    return f"{event['kind']}:{offence}" if event["kind"] == "sign.violation" and offence else event["kind"]


def watch(base: str, token: str, seconds: float, started: float, proc: subprocess.Popen) -> dict[tuple[str, str], list[float]]:
    """(kind, camera) -> seconds from start of each alert, polling the events API."""
    seen: dict[str, tuple[str, str, float]] = {}
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=base, headers=headers, timeout=10.0) as client:
        while time.monotonic() - started < seconds and proc.poll() is None:
            try:
                r = client.get("/api/events", params={"limit": 200})
                if r.status_code == 200:
                    now = time.monotonic() - started
                    for e in r.json()["events"]:
                        if e["id"] not in seen:
                            seen[e["id"]] = (kind_of(e), e["camera"], now)
                            print(f"{now:7.1f} s  {kind_of(e):<28} {e['camera']}", flush=True)
            except httpx.HTTPError:
                pass
            time.sleep(2.0)
    out: dict[tuple[str, str], list[float]] = {}
    for kind, camera, t in seen.values():
        out.setdefault((kind, camera), []).append(t)
    return out


def detector_load(base: str, token: str) -> dict[str, float]:
    """From ``/metrics``: detector calls and seconds, and analysed frames the server dropped (behind the detector)."""
    out = {"detector_calls": 0.0, "detector_s": 0.0, "frames_dropped": 0.0}
    try:
        text = httpx.get(f"{base}/metrics", headers={"Authorization": f"Bearer {token}"}, timeout=10.0).text
    except httpx.HTTPError:
        return out
    for line in text.splitlines():
        name, _, value = line.rpartition(" ")
        try:
            v = float(value)
        except ValueError:
            continue
        if name.startswith("bconnect_detector_seconds_count"):
            out["detector_calls"] += v
        elif name.startswith("bconnect_detector_seconds_sum"):
            out["detector_s"] += v
        elif name.startswith(("bconnect_analytics_frames_dropped_total", "bconnect_detector_frames_dropped_total")):
            out["frames_dropped"] += v
    return out


def analysed(base: str, token: str) -> dict[str, dict]:
    """From ``/api/health``: each analysed camera's stream (sub or main) and frames tracked and detected on."""
    try:
        body = httpx.get(f"{base}/api/health", headers={"Authorization": f"Bearer {token}"}, timeout=10.0).json()
    except (httpx.HTTPError, ValueError):
        return {}
    out = {}
    for camera, entry in (body.get("cameras") or {}).items():
        a = entry.get("analytics")
        if a:
            d = a.get("detection") or {}
            out[camera] = {"stream": a.get("stream"), "frames": d.get("frames", 0), "detected": d.get("detected", 0),
                           "dropped": a.get("dropped", 0), "detector_dropped": d.get("dropped", 0)}
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default=str(REPO / "deploy" / "demo.toml"))
    ap.add_argument("--minutes", type=float, default=3.0)
    ap.add_argument("--cameras", help="comma-separated camera ids: keep only these of the deployment's cameras "
                                       "(fewer renders and less detector load on a small machine)")
    args = ap.parse_args(argv)
    config = Path(args.config)
    run_dir = OUT / time.strftime("%Y%m%d-%H%M%S")
    data_dir = run_dir / "data"
    data_dir.mkdir(parents=True)
    (OUT / "sim").mkdir(parents=True, exist_ok=True)
    os.symlink(OUT / "sim", data_dir / "sim")  # renders are kept between runs
    port = free_port()
    path = deployment_copy(config, port, data_dir, set(args.cameras.split(",")) if args.cameras else None)
    bconnect_cli("users", "add", "bench", "--role", "admin", "--agency", "pemkot", "--password-stdin", "--config", str(path),
                 stdin=ADMIN_PASSWORD + "\n")
    token = bconnect_cli("users", "token", "bench", "--name", "bench", "--config", str(path)).strip()
    rendering = time.monotonic()  # as `make run`: the simulated cameras' loops first, then the server
    subprocess.run([sys.executable, "-m", "core.cli", "sim-render", "--config", str(path)], cwd=REPO, check=False)
    print(f"sim-render: {time.monotonic() - rendering:.0f} s (cached loops take none)", flush=True)
    log = open(run_dir / "server.log", "wb")
    started = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "core.cli", "serve", "--config", str(path)], stdout=log,
                            stderr=subprocess.STDOUT, cwd=REPO, env={**os.environ, "PYTHONUNBUFFERED": "1"},
                            start_new_session=True)
    try:
        found = watch(f"http://127.0.0.1:{port}", token, args.minutes * 60, started, proc)
        load = detector_load(f"http://127.0.0.1:{port}", token)
        per_camera = analysed(f"http://127.0.0.1:{port}", token)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()
    rows = sorted(((k, c, min(ts), len(ts)) for (k, c), ts in found.items()), key=lambda r: r[2])
    print(f"\n{'kind':<28} {'camera':<18} {'first (s)':>9} {'count':>5}   ({args.minutes:g} min from the server's start)")
    for kind, camera, first, n in rows:
        print(f"{kind:<28} {camera:<18} {first:>9.1f} {n:>5}")
    expected = [k for p in enabled_rules(config) for k in KINDS[p]]
    missing = [k for k in expected if k not in {r[0] for r in rows}]
    print(f"never came: {', '.join(missing) or 'none'}   (server log: {run_dir / 'server.log'})")
    print(f"detector: {load['detector_calls']:.0f} calls, {load['detector_s']:.0f} s busy, "
          f"{load['frames_dropped']:.0f} frames dropped behind it, in {args.minutes:g} min")
    seconds = args.minutes * 60
    print(f"analysed: {len(per_camera)} cameras; per camera: stream, frames a second tracked (of them detected on: "
          "the rest were still, or the detector was full), frames dropped before tracking")
    for camera, c in sorted(per_camera.items()):
        print(f"  {camera:<18} {c['stream'] or '-':<5} {c['frames'] / seconds:5.1f} ({c['detected'] / seconds:4.1f}) "
              f"{c['dropped']:>6}")
    print(json.dumps({"minutes": args.minutes, "detector": load, "analysed": per_camera, "alerts": [{"kind": k, "camera": c, "first_s": round(f, 1), "count": n}
                                                           for k, c, f, n in rows], "missing": missing}))
    if proc.returncode not in (0, -signal.SIGTERM, None):
        shutil.copy(run_dir / "server.log", run_dir / "server-failed.log")
    return 0


if __name__ == "__main__":
    sys.exit(main())
