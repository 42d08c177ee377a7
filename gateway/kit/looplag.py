"""How far behind its event loop runs: the wait a request meets before any of its code.

Under overload the requests an API process has not come to yet wait in the event loop's
ready queue and the socket buffers, where no queue length can be read. A ticker that
sleeps a short interval and notes how late it wakes sees that wait: its overshoot is the
time the loop needed to get through everything ready before it. The submission route adds
it to the writer's foreseen wait when it decides whether to admit a request.
"""

from __future__ import annotations

import asyncio
import contextlib

from gateway import metrics

TICK_S = 0.01
# Each tick keeps the larger of its own overshoot and half the previous figure: one slow
# tick shows at once, and the figure fades within a few ticks once the loop keeps up.
DECAY = 0.5


class LoopLag:
    """The event loop's recent lag in seconds (0 until ``run`` is started)."""

    def __init__(self, tick: float = TICK_S) -> None:
        self.tick = tick
        self.seconds = 0.0
        self._task: asyncio.Task[None] | None = None

    def note(self, overshoot: float) -> None:
        self.seconds = max(overshoot, self.seconds * DECAY)
        metrics.EVENT_LOOP_LAG.set(self.seconds)

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            began = loop.time()
            await asyncio.sleep(self.tick)
            self.note(max(0.0, loop.time() - began - self.tick))

    def start(self) -> None:
        """Tick on the running loop (from the app's lifespan)."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self.run(), name="loop-lag")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
