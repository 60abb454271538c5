"""The detector process: the ``vision_onnx`` model, out of the server.

    python -P -m plugins.vision_onnx.detector_worker FD POLICY

Started by :class:`plugins.vision_onnx.detector_process.DetectorProcess` with a
connection on ``FD``, in the server's session and CPU group, its threads at
nice +10 or, with ``POLICY`` ``idle`` (``[analytics] thread_policy``), at
``SCHED_IDLE`` (:mod:`core.child_process` says why). Its first message is the plugin's config and the model's path; it builds the
:class:`~plugins.vision_onnx.model.OnnxModel` here (so a GPU provider loads
here, with its fallback) on its main thread, lowered to analytics priority
first so that the threads the session starts (ONNX Runtime's pool) inherit
it, and answers ``("ready", info)``, or ``("error", reason)`` and ends (the
server reports the detector down and does not restart it). Then each request
is a batch whose frames lie in the server's shared-memory segment
(:mod:`plugins.vision_onnx.shared_frames`); pre-processing, tiles, inference,
decoding and NMS run here and the detections go back as tuples. The server's
closing of the connection (or its SIGTERM) ends it.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from multiprocessing.connection import Connection

from core.child_process import adopt_thread_policy
from core.media.frame_decode import lower_thread_priority
from plugins.vision_onnx.model import ModelError, OnnxModel
from plugins.vision_onnx.shared_frames import FrameReader

log = logging.getLogger("bconnect.plugin.vision_onnx")


def serve(conn: Connection) -> None:
    config, model_path = conn.recv()
    lower_thread_priority()  # this thread runs the model; ONNX Runtime's pool, started now, inherits it
    try:
        model = OnnxModel(config, model_path)
    except ModelError as exc:
        conn.send(("error", str(exc)))
        return
    lower_earlier_threads()
    conn.send(("ready", {"info": model.info(), "pid": os.getpid()}))
    frames = FrameReader()
    try:
        while True:
            try:
                name, layout = conn.recv()
            except EOFError:
                return
            try:
                found = model.infer(frames.get(name, layout))
            except Exception as exc:  # one line to the batch's callers; the process goes on
                conn.send(("failed", f"{type(exc).__name__}: {' '.join(str(exc).split())[:300]}"))
                continue
            conn.send(("ok", [[(d.label, d.score, d.x1, d.y1, d.x2, d.y2) for d in dets] for dets in found]))
    finally:
        frames.close()
        model.close()


def lower_earlier_threads() -> None:
    """Threads started at import, before this one lowered itself (numpy's OpenBLAS pool): to its priority too."""
    me = threading.get_native_id()
    nice, policy = os.getpriority(os.PRIO_PROCESS, me), os.sched_getscheduler(me)
    for tid in (int(t) for t in os.listdir("/proc/self/task")):
        try:
            if tid != me and os.getpriority(os.PRIO_PROCESS, tid) < nice:
                os.setpriority(os.PRIO_PROCESS, tid, nice)
                if policy != os.sched_getscheduler(tid):
                    os.sched_setscheduler(tid, policy, os.sched_param(0))
        except OSError:  # ended meanwhile
            pass


def main() -> int:
    logging.basicConfig(level=logging.WARNING, format="detector process: %(levelname)s %(name)s: %(message)s")
    adopt_thread_policy(sys.argv)  # before the model's threads start
    conn = Connection(int(sys.argv[1]))
    try:
        serve(conn)
    except (EOFError, BrokenPipeError, ConnectionResetError):
        pass  # the server went away
    finally:
        conn.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
