"""How far behind its event loop runs: the wait a request meets before any of its code.

Under load the requests an API process has not come to yet wait in the event loop's
ready queue and the socket buffers, where no queue length can be read. A ticker that
sleeps a short interval and notes how late it wakes sees that wait: its overshoot is the
time the loop needed to get through everything ready before it. Its moving average is
exported (``gateway_event_loop_lag_seconds``): a high lag says CPU is short.

It is not a reason to refuse requests: a loop behind because other processes took the
CPU is not shortened by refusing, and on a busy host it made a closed loop of clients
shed a tenth of its requests. The front door limits what it lets in by the requests'
own answer times instead (``kit.frontdoor.InFlight``).

``seconds`` is the standing lag, not a spike: the least overshoot of the last few ticks,
so that the loop must have been behind at every one of them, and, while the loop is in
a turn past the awaited tick's time, no more than that tick is overdue by now.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Callable

from gateway import metrics

TICK_S = 0.01
# The standing lag is the least overshoot of this many ticks: a few turns of a loop that
# stays behind, never one late tick.
STANDING_TICKS = 3
# The exported figure: each tick moves it a quarter of the way to its own overshoot.
WEIGHT = 0.25


class LoopLag:
    """The event loop's lag in seconds (0 until ticks are noted)."""

    def __init__(self, tick: float = TICK_S, clock: Callable[[], float] = time.monotonic) -> None:
        self.tick = tick
        self.clock = clock
        self.average = 0.0  # moving average of the overshoots (the metric)
        self.recent: deque[float] = deque([0.0] * STANDING_TICKS, maxlen=STANDING_TICKS)
        self.due: float | None = None  # when the tick waited for is due (while ticking)
        self._task: asyncio.Task[None] | None = None

    @property
    def seconds(self) -> float:
        """The standing lag: the least overshoot of the last ticks, and, while a tick is
        awaited, no more than it is overdue now."""
        standing = min(self.recent)
        if self.due is None:
            return standing
        return max(0.0, min(standing, self.clock() - self.due))

    def note(self, overshoot: float) -> None:
        self.recent.append(overshoot)
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
