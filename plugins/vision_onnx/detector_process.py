"""The server's side of the detector process (``isolation = "process"``).

Why: with the model in the server (about 20 ms a view for SSD-MobileNet on a
CPU core, 7 views for a tiled 720p frame), its pre-processing and decoding
take the server's GIL, and the event loop serving live viewers waits for it:
the viewers' p99 delay grows. Here the model runs in a child process
(:mod:`plugins.vision_onnx.detector_worker`), in the server's session and CPU
group at analytics priority (:mod:`core.child_process` says why).

The batcher stays in the server (the ``Detector`` contract, the bounded queue
and its drops are unchanged); its :meth:`DetectorProcess.infer` copies the
batch's frames into shared memory (:mod:`plugins.vision_onnx.shared_frames`),
sends where they lie and waits for the detections. A supervisor thread spawns
the worker, waits for its model to load, and restarts it when it dies (at once,
then with backoff). A batch in flight when it dies fails its callers with
:class:`FramesDropped` and a one-line reason (the runner counts a dropped frame
and holds the tracker); the next batch goes to the new worker. A model that
cannot load is reported once, with its reason, and never retried.
"""

from __future__ import annotations

import atexit
import logging
import os
import random
import subprocess
import sys
import threading
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import numpy as np

from core.analytics.detector import Detection, DetectorInfo, FramesDropped
from core.child_process import Backoff, start_worker
from plugins.vision_onnx.config import Config
from plugins.vision_onnx.model import ModelError
from plugins.vision_onnx.shared_frames import FrameWriter

log = logging.getLogger("bconnect.plugin.vision_onnx")

ROOT = Path(__file__).resolve().parents[2]  # the worker imports the same code as the server
LOAD_TIMEOUT_S = 300.0  # a TensorRT engine build can take minutes
RESTART_WAIT_S = 2.0  # how long a batch waits for a restarting worker before its frames are dropped
ANSWER_TIMEOUT_S = 60.0  # a worker that does not answer a batch in this long is stuck: killed, and restarted


class DetectorProcess:
    """The model in a child process: :meth:`infer` and :meth:`info` as :class:`OnnxModel` has them."""

    def __init__(self, config: Config, model_path: Path, name: str = "vision_onnx", *,
                 python: str = sys.executable, rng: random.Random | None = None) -> None:  # fmt: skip
        self.config = config
        self.model_path = model_path
        self.name = name
        self.python = python
        self.rng = rng or random.Random()
        self.answer_timeout_s = ANSWER_TIMEOUT_S
        self.pid: int | None = None
        self.state = "starting"  # running, restarting, down, closed
        self.restarts = 0
        self.last_exit: str | None = None
        self.error: str | None = None  # the model does not load: down, not restarted
        self.closing = False
        self._info: DetectorInfo | None = None
        self._conn: Connection | None = None  # the running worker's, once its model loaded
        self._proc: subprocess.Popen[bytes] | None = None
        self._busy: Connection | None = None  # the connection a batch is in flight on (the batcher's thread)
        self._cond = threading.Condition()
        self._wake = threading.Event()
        self._frames = FrameWriter()
        self._thread = threading.Thread(target=self._supervise, name=f"{name}-process", daemon=True)

    # --- the model's face -----------------------------------------------------

    @property
    def fallback_reason(self) -> str | None:
        return self._info.fallback_reason if self._info is not None else None

    def info(self) -> DetectorInfo:
        if self._info is not None:
            return self._info
        return DetectorInfo(self.model_path.name, "none", (0, 0), (), self.error)

    def start(self) -> None:
        """Spawn the worker and wait until its model loaded (blocking); :class:`ModelError` if it cannot."""
        # a program that never closes its detector (``bconnect analyze``) still stops the worker and unlinks the segment
        atexit.register(self.close)
        self._thread.start()
        with self._cond:
            self._cond.wait_for(lambda: self._info is not None or self.error is not None or self.closing,
                                LOAD_TIMEOUT_S)  # fmt: skip
        if self.error is not None:
            raise ModelError(self.error)
        if self._info is None:
            raise ModelError(f"model file {self.model_path}: the detector process did not load it in {LOAD_TIMEOUT_S:g} s")

    def infer(self, frames: list[np.ndarray]) -> list[list[Detection]]:
        """One batch through the worker (the batcher's thread only)."""
        with self._cond:
            if not self._cond.wait_for(lambda: self._conn is not None or self.closing or self.error is not None,
                                       RESTART_WAIT_S):  # fmt: skip
                raise FramesDropped(f"detector process restarting after it {self.last_exit}: frame dropped")
            if self._conn is None:
                raise RuntimeError(self.error or "detector stopped")
            conn, proc = self._conn, self._proc
            self._busy = conn
        try:
            try:
                name, layout = self._frames.put(frames)
            except OSError as exc:  # /dev/shm full or not writable: the batch's callers get why
                raise RuntimeError(f"no shared memory for the detector process's batch: {exc}") from None
            conn.send((name, layout))
            if not conn.poll(self.answer_timeout_s):
                proc.kill()  # the supervisor restarts it
                raise FramesDropped(f"detector process (pid {proc.pid}) did not answer in {self.answer_timeout_s:g} s:"
                                    " killed, frame dropped")  # fmt: skip
            status, answer = conn.recv()
        except (EOFError, OSError) as exc:
            code = _exit_code(proc)
            why = f"exited with code {code}" if code is not None else f"connection lost ({type(exc).__name__})"
            raise FramesDropped(f"detector process (pid {proc.pid if proc else '?'}) {why} during inference: frame dropped") from None
        finally:
            with self._cond:
                self._busy = None
                stale = conn is not self._conn
            if stale:  # the supervisor left it to us: it was in use when the worker died
                conn.close()
        if status != "ok":
            raise RuntimeError(answer)
        return [[Detection(*d) for d in dets] for dets in answer]

    def describe(self) -> dict[str, Any]:
        return {"pid": self.pid, "state": self.state, "restarts": self.restarts, "last_exit": self.last_exit}

    def close(self) -> None:
        """Stop the worker and unlink the shared memory (blocking: the batcher has stopped); again is harmless."""
        atexit.unregister(self.close)
        self.closing = True
        self._wake.set()
        with self._cond:
            proc = self._proc
            self._cond.notify_all()
        if proc is not None:  # the supervisor reaps it and closes its connection
            proc.terminate()
            try:
                proc.wait(5.0)
            except subprocess.TimeoutExpired:
                proc.kill()
        if self._thread.is_alive():
            self._thread.join(10.0)
        self._frames.close()
        self.state = "closed"

    # --- the supervisor thread -------------------------------------------------

    def _supervise(self) -> None:
        backoff = Backoff(self.rng)
        while not self.closing:
            started = time.monotonic()
            try:
                conn, proc = self._spawn()
            except Exception as exc:  # the interpreter cannot start: keep trying, backing off (down if it never did)
                log.error("detector process could not start: %s", exc)
                self.last_exit = f"could not start: {exc}"
                if self._info is None:
                    with self._cond:
                        self.error, self.state = f"the detector process could not start: {exc}", "down"
                        self._cond.notify_all()
                    return
            else:
                if not self._load(conn, proc):
                    return  # the model does not load: down, and no restart loop
                code = proc.wait()
                with self._cond:
                    self._conn = None
                    if not self.closing:
                        self.last_exit = f"exited with code {code}"
                    if self._busy is not conn:
                        conn.close()
                if self.closing:
                    break
                log.error("detector process (pid %s) %s: restarting it", proc.pid, self.last_exit)
            self.state = "restarting"
            self.restarts += 1
            self._wake.wait(backoff.wait_s(time.monotonic() - started))
        self.state = "closed"

    def _spawn(self) -> tuple[Connection, subprocess.Popen[bytes]]:
        path = os.environ.get("PYTHONPATH")
        env = {**os.environ, "PYTHONPATH": str(ROOT) + (os.pathsep + path if path else "")}
        ours, proc = start_worker(self.python, "plugins.vision_onnx.detector_worker", env)
        conn = Connection(ours.detach())
        with self._cond:
            self._proc, self.pid = proc, proc.pid
            if self.closing:  # close() came meanwhile and saw no process to stop
                proc.terminate()
        try:
            conn.send((self.config, self.model_path))
        except OSError:
            pass  # dead already: _load reads its end of file
        return conn, proc

    def _load(self, conn: Connection, proc: subprocess.Popen[bytes]) -> bool:
        """Wait for the worker's model; ``False`` when it cannot load (then the detector is down)."""
        try:
            status, answer = conn.recv()
        except (EOFError, OSError):
            status, answer = "died", None
        if status == "ready":
            with self._cond:
                self._info = answer["info"]
                self._conn = conn
                self.state = "running"
                self._cond.notify_all()
            if self.restarts:
                log.info("detector process restarted (pid %d)", proc.pid)
            return True
        if status == "died" and (self._info is not None or self.closing):
            return True  # it had loaded before: a crash, restarted as any other
        conn.close()
        code = proc.wait()
        with self._cond:
            self.error = answer if status == "error" else (
                f"model file {self.model_path}: the detector process exited with code {code} while loading it")
            self.state = "down"
            self.last_exit = f"exited with code {code}"
            self._cond.notify_all()
        return False


def _exit_code(proc: subprocess.Popen[bytes] | None) -> int | None:
    if proc is None:
        return None
    try:
        return proc.wait(1.0)
    except subprocess.TimeoutExpired:
        return None
