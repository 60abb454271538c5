"""Shared pieces of the benchmarks: processes to start, CPU to read, figures to print.

Every process a bench measures runs on its own: the load generator (system
python3 with GStreamer), the ``bconnect serve`` under test or the aiortc
baseline, and the WHEP viewers. CPU is read from ``/proc/PID/stat`` (user +
system time of every thread), so what the viewers or the load generator spend
never counts against the server.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
OUT_DIR = BENCH_DIR / "out"
SYSTEM_PYTHON = os.environ.get("BCONNECT_GST_PYTHON", "/usr/bin/python3")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
ADMIN_PASSWORD = "bench-password-0123456789"

sys.path.insert(0, str(BENCH_DIR))  # loadgen, viewers, baseline: siblings, imported by name

from loadgen import ensure_clip


HARNESS_NICE = 10  # load generator and viewers: they stand in for the network and other machines


def lower_priority(nice: int) -> Callable[[], None]:
    """A ``preexec_fn`` that lowers a child's CPU priority by ``nice``.

    On a real site the cameras and the operators' browsers are other
    machines. Here they share two cores with the server; at normal priority a
    viewer process that is mid-way through its own work keeps the server's
    woken event loop waiting for a core, which would be counted as the
    server's delay.
    """

    def apply() -> None:
        if nice:
            os.nice(nice)

    return apply


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` (all its threads) so far."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rpartition(")")[2].split()
    # fields[0] is the state (field 3 of proc(5)); utime and stime are fields 14 and 15
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def descendants(pid: int) -> list[int]:
    """Every live process below ``pid`` (children, their children, ...)."""
    out: list[int] = []
    todo = [pid]
    while todo:
        parent = todo.pop()
        try:
            tasks = os.listdir(f"/proc/{parent}/task")
        except OSError:
            continue
        for tid in tasks:
            try:
                with open(f"/proc/{parent}/task/{tid}/children") as f:
                    kids = [int(k) for k in f.read().split()]
            except OSError:
                continue
            out.extend(kids)
            todo.extend(kids)
    return out


def tree_cpu_seconds(pid: int) -> float:
    """CPU seconds of ``pid`` and every live process below it (a process that ended is not counted)."""
    total = 0.0
    for p in [pid, *descendants(pid)]:
        try:
            total += cpu_seconds(p)
        except OSError:
            pass
    return total


def machine_cpu_seconds() -> float:
    """Busy CPU seconds of the whole machine (all cores, every process) so far."""
    with open("/proc/stat") as f:
        values = [int(v) for v in f.readline().split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return (sum(values[:8]) - idle) / CLOCK_TICKS


def percentile(values: Iterable[float], p: float) -> float | None:
    data = sorted(values)
    if not data:
        return None
    return data[min(len(data) - 1, round(p * (len(data) - 1)))]


def spread(values: list[float]) -> str:
    if len(values) < 2:
        return ""
    return f" (min {min(values):.4g}, max {max(values):.4g}, stdev {statistics.stdev(values):.2g})"


def final(obj: dict) -> None:
    """The last line of every bench: one JSON object, for comparing runs across versions."""
    print(json.dumps(obj, sort_keys=False), flush=True)


def _ready_line(proc: subprocess.Popen, what: str, timeout: float, log: Path | None = None) -> str:
    """The child's first stdout line; fail with its log if it died or stayed silent."""
    deadline = time.monotonic() + timeout
    assert proc.stdout is not None
    os.set_blocking(proc.stdout.fileno(), False)
    buf = ""
    while time.monotonic() < deadline:
        chunk = proc.stdout.readline()
        if chunk:
            buf += chunk
            if buf.endswith("\n"):
                os.set_blocking(proc.stdout.fileno(), True)
                return buf.strip()
        elif proc.poll() is not None:
            break
        else:
            time.sleep(0.05)
    tail = log.read_text(errors="replace")[-2000:] if log and log.exists() else ""
    proc.kill()
    raise RuntimeError(f"{what} did not start (exit {proc.poll()}): {buf.strip()}\n{tail}")


def _stop(proc: subprocess.Popen | None, timeout: float = 10.0) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


# --- the load generator ---------------------------------------------------------


@dataclass
class Loadgen:
    """The RTSP load generator (``bench/loadgen.py serve``) in its own process."""

    mounts: dict[str, Path]  # name -> clip
    port: int = field(default_factory=free_port)
    nice: int = HARNESS_NICE
    process: subprocess.Popen | None = None
    log_path: Path | None = None

    def url(self, name: str) -> str:
        return f"rtsp://127.0.0.1:{self.port}/{name}"

    def start(self) -> Loadgen:
        cmd = [SYSTEM_PYTHON, str(BENCH_DIR / "loadgen.py"), "serve", "--port", str(self.port)]
        for name, clip in self.mounts.items():
            cmd += ["--mount", f"{name}={clip}"]
        OUT_DIR.mkdir(parents=True, exist_ok=True)
        self.log_path = OUT_DIR / "loadgen.log"
        with open(self.log_path, "wb") as log:  # the child keeps its own copy of the descriptor
            self.process = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=log, text=True, start_new_session=True,
                                            preexec_fn=lower_priority(self.nice))
        line = _ready_line(self.process, "load generator", 60, self.log_path)
        if not line.startswith("READY"):
            raise RuntimeError(f"load generator: {line}")
        return self

    def cpu_s(self) -> float:
        assert self.process is not None
        return cpu_seconds(self.process.pid)

    def stop(self) -> None:
        _stop(self.process)


def fleet_mounts(cameras: int, gop_s: float = 2.0) -> dict[str, Path]:
    clip = ensure_clip(gop_s)
    return {f"cam{i}": clip for i in range(cameras)}


# --- the server under test -------------------------------------------------------


DEPLOYMENT = """\
[deployment]
name = "Bench"
timezone = "Asia/Makassar"

[server]
host = "127.0.0.1"
port = {port}
data_dir = "{data_dir}"
secure_cookies = false
max_viewers_per_camera = {per_camera}
max_viewers_total = {total}
realtime_loop = {realtime_loop}

[media]
ingest_processes = {ingest_processes}

[areas.bench]
name = "Bench"
enabled = true

[agencies.pemkot]
name = "Pemkot"

[access.pemkot]
cameras = ["pemkot"]
data = ["pemkot"]

[plugins.stream_url]
"""


def bconnect_cli(*args: str, stdin: str | None = None) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "core.cli", *args], check=False, input=stdin, capture_output=True, text=True, timeout=120, cwd=REPO
    )
    if done.returncode != 0:
        raise RuntimeError(f"bconnect {' '.join(args[:2])} failed: {done.stderr.strip()[-1500:]}")
    return done.stdout


@dataclass
class BconnectServer:
    """A real ``bconnect serve`` for ``cameras`` (id -> RTSP URL), with an admin's bearer token."""

    cameras: dict[str, str]
    max_viewers: int = 64
    transport: str = "tcp"  # RTSP transport of every camera
    ingest_processes: int = 0  # [media] ingest_processes: 0 (the default) ingests in the server's own threads
    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None
    token: str = ""
    workdir: Path | None = None
    env: dict[str, str] = field(default_factory=dict)
    entry: list[str] = field(default_factory=lambda: ["-m", "core.cli"])  # what runs ``serve --config ...``

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def write_deployment(self) -> Path:
        OUT_DIR.mkdir(parents=True, exist_ok=True)
        self.workdir = Path(tempfile.mkdtemp(prefix="server-", dir=OUT_DIR))
        text = DEPLOYMENT.format(
            port=self.port,
            data_dir=(self.workdir / "data").as_posix(),
            per_camera=self.max_viewers,
            total=max(self.max_viewers, 64),
            ingest_processes=self.ingest_processes,
            # BENCH_REALTIME_LOOP=off: the event loop at normal priority, for an A/B of [server] realtime_loop
            realtime_loop="false" if os.environ.get("BENCH_REALTIME_LOOP") == "off" else "true",
        )
        for cid, url in self.cameras.items():
            text += textwrap.dedent(f"""
                [[plugins.stream_url.cameras]]
                id = "{cid}"
                name = "{cid}"
                url = "{url}"
                area = "bench"
                transport = "{self.transport}"
                """)
        path = self.workdir / "deployment.toml"
        path.write_text(text)
        return path

    def start(self, timeout: float = 60.0) -> BconnectServer:
        path = self.write_deployment()
        config = ["--config", str(path)]
        bconnect_cli("users", "add", "bench", "--role", "admin", "--agency", "pemkot", "--password-stdin", *config,
                     stdin=ADMIN_PASSWORD + "\n")
        self.token = bconnect_cli("users", "token", "bench", "--name", "bench", *config).strip()
        log_path = self.workdir / "server.log"
        with open(log_path, "wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, *self.entry, "serve", *config],
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=REPO,
                env={**os.environ, "PYTHONUNBUFFERED": "1", **self.env},
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"bconnect serve exited {self.process.returncode}:\n{log_path.read_text()[-3000:]}")
            try:
                self.get("/api/health")
                return self
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"bconnect serve did not answer:\n{log_path.read_text()[-3000:]}") from None
                time.sleep(0.2)

    def get(self, path: str) -> dict:
        request = urllib.request.Request(self.base_url + path, headers=self.headers)
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())

    def wait_online(self, timeout: float = 90.0) -> float:
        """Wait until every camera is online; return how long it took."""
        t0 = time.monotonic()
        while True:
            cams = self.get("/api/health")["cameras"]
            offline = [cid for cid in self.cameras if cams.get(cid, {}).get("state") != "online"]
            if not offline:
                return time.monotonic() - t0
            if time.monotonic() - t0 > timeout:
                states = {cid: ((cams.get(cid) or {}).get("state"), (cams.get(cid) or {}).get("reason"))
                          for cid in offline[:5]}
                raise TimeoutError(f"{len(offline)} cameras not online after {timeout:g} s: {states}")
            time.sleep(0.5)

    def dropped(self) -> int:
        """Packets dropped anywhere: ingest hand-off plus every subscriber (viewers included)."""
        return sum(int(c.get("dropped") or 0) for c in self.get("/api/health")["cameras"].values())

    def cpu_s(self) -> float:
        """The server's CPU, its ingest processes' included."""
        assert self.process is not None
        return tree_cpu_seconds(self.process.pid)

    def stop(self) -> None:
        _stop(self.process, 15)
        if self.workdir is not None and not os.environ.get("BENCH_KEEP"):
            shutil.rmtree(self.workdir, ignore_errors=True)  # its database and log (BENCH_KEEP=1 keeps them)


# --- viewers ----------------------------------------------------------------------


@dataclass
class ViewerGroup:
    """WHEP viewers in ``procs`` processes of ``bench/viewers.py``, none of them decoding."""

    base_url: str
    token: str
    cameras: list[str]  # one entry per viewer
    procs: int = 2
    nice: int = HARNESS_NICE
    processes: list[subprocess.Popen] = field(default_factory=list)
    stats: list[dict] = field(default_factory=list)

    def start(self, timeout: float = 60.0) -> list[float]:
        """Start every viewer; wait until each has received a frame; return their first-frame times."""
        if not self.cameras:
            return []
        groups = [self.cameras[i::self.procs] for i in range(self.procs)]
        for group in (g for g in groups if g):
            cmd = [sys.executable, str(BENCH_DIR / "viewers.py"), "--url", self.base_url, "--token", self.token]
            for cam in group:
                cmd += ["--camera", cam]
            self.processes.append(subprocess.Popen(
                cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=REPO, start_new_session=True,
                preexec_fn=lower_priority(self.nice),
            ))
        ttffs: list[float] = []
        for proc in self.processes:
            line = _ready_line(proc, "viewers", timeout)
            if not line.startswith("READY"):
                raise RuntimeError(f"viewers: {line}")
            ttffs += json.loads(line.split(" ", 1)[1])["ttff_s"]
        return ttffs

    def cpu_s(self) -> float:
        return sum(cpu_seconds(p.pid) for p in self.processes if p.poll() is None)

    def stop(self) -> list[dict]:
        """Ask every viewer to report and leave (DELETE its session); return their reports."""
        for proc in self.processes:
            try:
                proc.stdin.write("stop\n")
                proc.stdin.flush()
            except (BrokenPipeError, OSError):
                pass
        for proc in self.processes:
            try:
                out, _ = proc.communicate(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                out, _ = proc.communicate()
            for line in out.splitlines():
                if line.startswith("STATS "):
                    self.stats += json.loads(line[6:])
        self.processes = []
        return self.stats
