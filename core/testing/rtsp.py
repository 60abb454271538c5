"""A real RTSP server for tests: the ``rtsp_server`` fixture, for B-Connect and plugin authors.

GStreamer's RTSP server (Debian's ``gir1.2-gst-rtsp-server-1.0``) runs under
the *system* python, which has the ``gi`` bindings, as a subprocess serving
live H.264 (and H.265) test patterns. The fixture can stop it and start it
again on the same port, as a camera that reboots::

    from core.testing.rtsp import rtsp_server  # noqa: F401  (or pytest_plugins)

    def test_x(rtsp_server):
        url = rtsp_server.url("h264")          # rtsp://127.0.0.1:PORT/h264
        rtsp_server.stop(); rtsp_server.start()
        rtsp_server.freeze(); rtsp_server.thaw()   # the encoder hangs, its sessions live on

Mounts of :data:`DEFAULT_MOUNTS`: ``h264`` (keyframe every 2 s, parameter sets
only in the SDP), ``h264_gop1`` (every 1 s, in band), ``h264_gop4`` (every 4 s),
``h265`` (every 2 s). 640x360 at 25 fps unless asked otherwise.
"""

from __future__ import annotations

import os
import select
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from core.testing.net import free_port

SYSTEM_PYTHON = os.environ.get("BCONNECT_GST_PYTHON", "/usr/bin/python3")
SERVER_SCRIPT = Path(__file__).resolve().parents[2] / "tests" / "support" / "rtsp_server.py"

# name: (codec, keyframe interval in frames, parameter sets in band)
DEFAULT_MOUNTS: dict[str, tuple[str, int, bool]] = {
    "h264": ("h264", 50, False),
    "h264_gop1": ("h264", 25, True),
    "h264_gop4": ("h264", 100, False),
    "h265": ("h265", 50, False),
}


def gst_rtsp_available() -> str | None:
    """``None`` if the server can run here, else why not."""
    if not Path(SYSTEM_PYTHON).exists():
        return f"{SYSTEM_PYTHON} not found"
    if not SERVER_SCRIPT.exists():
        return f"{SERVER_SCRIPT} not found (run from a source checkout)"
    probe = subprocess.run(
        [SYSTEM_PYTHON, "-c", "import gi; gi.require_version('GstRtspServer', '1.0'); from gi.repository import GstRtspServer"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    if probe.returncode != 0:
        return "GStreamer RTSP server bindings missing (apt-get install gir1.2-gst-rtsp-server-1.0)"
    return None


@dataclass
class RtspServer:
    """One GStreamer RTSP server process; ``stop`` and ``start`` keep its port."""

    mounts: dict[str, tuple[str, int, bool]] = field(default_factory=lambda: dict(DEFAULT_MOUNTS))
    files: dict[str, str] = field(default_factory=dict)  # mount -> an H.264 MP4 served once, re-encoded (no loop)
    width: int = 640
    height: int = 360
    fps: int = 25
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[str] | None = None
    starts: int = 0

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def url(self, mount: str = "h264") -> str:
        if mount not in self.mounts and mount not in self.files:
            raise KeyError(f"no mount {mount!r}; have {', '.join([*self.mounts, *self.files])}")
        return f"rtsp://127.0.0.1:{self.port}/{mount}"

    def command(self) -> list[str]:
        cmd = [SYSTEM_PYTHON, str(SERVER_SCRIPT), "--port", str(self.port)]
        cmd += ["--width", str(self.width), "--height", str(self.height), "--fps", str(self.fps)]
        for name, (codec, keyint, inband) in self.mounts.items():
            cmd += ["--mount", f"{name}:{codec}:{keyint}" + (":inband" if inband else "")]
        for name, path in self.files.items():
            cmd += ["--file", f"{name}={path}"]
        return cmd

    def start(self, timeout: float = 20.0) -> RtspServer:
        """Start (again, on the same port) and wait until it accepts connections."""
        if self.running:
            return self
        deadline = time.monotonic() + timeout
        while True:
            errors = tempfile.TemporaryFile("w+")  # a file, not a pipe: GStreamer's warnings never block it
            self.process = subprocess.Popen(
                self.command(), stdout=subprocess.PIPE, stderr=errors, text=True, start_new_session=True
            )
            line = self.process.stdout.readline() if self.process.stdout else ""
            if line.startswith("READY"):
                errors.close()
                break
            self.process.wait(5)
            self.process = None
            errors.seek(0)
            err = errors.read()
            errors.close()
            # right after a stop the port may linger for a moment: try again
            if "cannot listen" not in err or time.monotonic() > deadline:
                raise RuntimeError(f"RTSP server did not start: {err.strip()[-800:] or line}")
            time.sleep(0.2)
        self._wait_accepting(deadline)
        self.starts += 1
        return self

    def _wait_accepting(self, deadline: float) -> None:
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                time.sleep(0.05)
        raise TimeoutError(f"RTSP server on port {self.port} does not accept connections")

    def stop(self) -> None:
        """Stop the server as a camera that loses power would: connections drop."""
        proc, self.process = self.process, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        if proc.stdout is not None:
            proc.stdout.close()

    def restart(self) -> RtspServer:
        self.stop()
        return self.start()

    def freeze(self) -> None:
        """Stop the pictures as a camera whose encoder hung: no more video, its RTSP sessions live on."""
        self._signal(signal.SIGUSR1, "FROZEN")

    def thaw(self) -> None:
        """Let the pictures through again (to the sessions that stayed, and to new ones)."""
        self._signal(signal.SIGUSR2, "THAWED")

    def _signal(self, sig: signal.Signals, answer: str, timeout: float = 5.0) -> None:
        if not self.running or self.process is None or self.process.stdout is None:
            raise RuntimeError("the RTSP server is not running")
        self.process.send_signal(sig)
        ready, _, _ = select.select([self.process.stdout], [], [], timeout)
        line = self.process.stdout.readline() if ready else ""
        if line.strip() != answer:
            raise RuntimeError(f"the RTSP server did not answer {sig.name} with {answer} (got {line!r})")

    def __enter__(self) -> RtspServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_rtsp_server(mounts: dict[str, tuple[str, int, bool]] | None = None, **kwargs: Any) -> RtspServer:
    """Start a server outside a fixture (a module-scoped fixture, a benchmark).

    Raises ``RuntimeError`` with GStreamer's own message when it cannot run;
    :func:`gst_rtsp_available` says why beforehand.
    """
    return RtspServer(mounts=dict(mounts or DEFAULT_MOUNTS), **kwargs).start()


@pytest.fixture
def rtsp_server() -> Iterator[RtspServer]:
    """A running GStreamer RTSP server with :data:`DEFAULT_MOUNTS`; stopped after the test.

    Fails (does not skip) when GStreamer is missing: ``scripts/setup.sh`` installs it.
    """
    server = start_rtsp_server()
    try:
        yield server
    finally:
        server.stop()
