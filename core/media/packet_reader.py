"""A camera's packets read by a worker thread, without a trip through the event loop per packet.

The frame hub's decode thread must see every packet (later frames refer to
earlier ones), ~30 a second per camera. Awaiting each packet on the loop and
handing it to the thread with ``run_in_executor`` cost the loop two task steps
and a cross-thread wake-up per packet: with 16 cameras analysed, the loop
thread's own CPU tripled and live viewers' delay with it. Here the loop only
appends the packet (as for any subscriber) and sets an event if the reader
sleeps; the thread takes whatever has queued when it wakes.
"""

from __future__ import annotations

import threading

from core.media.mux import CameraMux, Subscription, SubscriptionClosed
from core.media.packets import MediaPacket


class ThreadReader(Subscription):
    """A bounded subscription drained by one worker thread (:meth:`take`); fed and closed on the loop.

    Packets it loses (its thread starved of CPU, by design behind live view) are the analytics' loss,
    counted per camera as dropped analytics frames, not as the camera's dropped packets.
    """

    camera_drops = False

    def __init__(self, mux: CameraMux, name: str, maxsize: int) -> None:
        super().__init__(mux, name, maxsize)
        self._ready = threading.Event()

    def _push(self, packet: MediaPacket) -> None:
        super()._push(packet)
        if self._queue and not self._ready.is_set():
            self._ready.set()

    def _prefill(self, packets: list[MediaPacket]) -> None:
        super()._prefill(packets)
        self._ready.set()

    def take(self, timeout: float | None = None) -> list[MediaPacket]:
        """Everything queued, waiting up to ``timeout`` for the first; raises :class:`SubscriptionClosed` once closed."""
        self._ready.wait(timeout)
        self._ready.clear()
        if self.closed:
            raise SubscriptionClosed(f"subscription {self.name!r} on camera {self.mux.camera_id!r} is closed")
        queue, out = self._queue, []
        while True:
            try:
                out.append(queue.popleft())
            except IndexError:  # empty (the loop may clear it at any moment: an overflow)
                break
        if self._limit > self.maxsize and len(queue) <= self.maxsize:
            self._limit = self.maxsize  # the GOP cache has drained
        return out

    def close(self) -> None:
        super().close()
        self._ready.set()  # the reader wakes and sees it closed
