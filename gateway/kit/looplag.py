"""How far behind its event loop runs: the wait a request meets before any of its code.

Under overload the requests an API process has not come to yet wait in the event loop's
ready queue and the socket buffers, where no queue length can be read. A ticker that
sleeps a short interval and notes how late it wakes sees that wait: its overshoot is the
time the loop needed to get through everything ready before it. The front door and the
submission route add it to the writer's foreseen wait when they decide whether to admit a
request.

The moving average of the overshoots trails a lag that builds: its ticks come only as
often as the loop gets round to them, a third of a second apart when it runs that far
behind. So the figure read is also at least how overdue the tick waited for now is: a
loop busy past that tick's time for 0.3 s says so to the requests it is handling, at
once, and says nothing once the tick has run.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable

from gateway import metrics

TICK_S = 0.01
# Each tick moves the figure a quarter of the way to its own overshoot: a lag that lasts
# (the loop behind its work) shows within a few ticks, while one late tick (another
# process took the core for a moment) moves it little, so that a busy machine's hiccups
# do not shed requests that would not have waited.
WEIGHT = 0.25


class LoopLag:
    """The event loop's recent lag in seconds (0 until ``run`` is started)."""

    def __init__(self, tick: float = TICK_S, clock: Callable[[], float] = time.monotonic) -> None:
        self.tick = tick
        self.clock = clock
        self.average = 0.0
        self.due: float | None = None  # when the tick waited for is due (while ticking)
        self._task: asyncio.Task[None] | None = None

    @property
    def seconds(self) -> float:
        """The recent lag: the moving average, or how overdue the awaited tick is now,
        whichever is more."""
        if self.due is None:
            return self.average
        return max(self.average, self.clock() - self.due)

    def note(self, overshoot: float) -> None:
        self.average += WEIGHT * (overshoot - self.average)
        metrics.EVENT_LOOP_LAG.set(self.average)

    async def run(self) -> None:
        # The process's clock, not the loop's: uvloop's is read once a turn of the loop,
        # so it would not see the time a long turn has taken so far.
        try:
            while True:
                self.due = self.clock() + self.tick
                await asyncio.sleep(self.tick)
                self.note(max(0.0, self.clock() - self.due))
        finally:
            self.due = None

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
