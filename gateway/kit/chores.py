"""Upkeep an API process does now and then (the sweep for stuck work, the statistics of
grown tables), on a thread of its own.

A chore may take a while (ANALYZE of a million-row table, about a second): on its own
thread it holds up nothing else, neither requests nor the outbox dispatcher's sends.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

log = logging.getLogger(__name__)


@dataclass(slots=True)
class Chore:
    """``run`` every ``interval`` seconds, the first time one interval after the start.
    A failure is logged and the chore runs again at its next turn."""

    name: str
    run: Callable[[], object]
    interval: float
    due: float = 0.0


class Chores(threading.Thread):
    """Runs its chores, each at its own interval, one at a time, until stopped."""

    def __init__(self, chores: Sequence[Chore]) -> None:
        super().__init__(name="chores", daemon=True)
        if any(c.interval <= 0 for c in chores):
            raise ValueError("a chore's interval must be positive")
        self.chores = list(chores)
        self.stopping = threading.Event()

    def run(self) -> None:
        start = time.monotonic()
        for chore in self.chores:
            chore.due = start + chore.interval
        while self.chores:
            wait = min(c.due for c in self.chores) - time.monotonic()
            if self.stopping.wait(max(wait, 0)):
                return
            for chore in self.chores:
                if self.stopping.is_set():
                    return
                if time.monotonic() >= chore.due:
                    self._do(chore)
                    chore.due = time.monotonic() + chore.interval

    @staticmethod
    def _do(chore: Chore) -> None:
        try:
            chore.run()
        except Exception:
            log.warning("%s failed", chore.name, exc_info=True)

    def stop(self, timeout: float = 10) -> None:
        """End after the chore running now, if any (waiting ``timeout`` seconds at most:
        the thread is a daemon, and a chore is only upkeep)."""
        self.stopping.set()
        if self.is_alive():
            self.join(timeout)
