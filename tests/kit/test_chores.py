"""The API's upkeep thread runs each chore at its own interval, a failing one stopping
none, and ends when told even while a long chore waits for its turn."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest

from gateway.kit.chores import Chore, Chores


class Log:
    def __init__(self) -> None:
        self.runs: dict[str, list[float]] = {}

    def chore(self, name: str, interval: float, *, fail: bool = False) -> Chore:
        self.runs[name] = []

        def run() -> None:
            self.runs[name].append(time.monotonic())
            if fail:
                raise RuntimeError("database away")

        return Chore(name, run, interval)


def until(condition: Callable[[], bool], seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.01)


def test_chores_run_at_their_intervals_and_a_failure_stops_none() -> None:
    log = Log()
    runner = Chores(
        [
            log.chore("quick", 0.05),
            log.chore("slow", 3600),
            log.chore("failing", 0.05, fail=True),
        ]
    )
    began = time.monotonic()
    runner.start()
    try:
        until(lambda: min(len(log.runs["quick"]), len(log.runs["failing"])) >= 4)
    finally:
        runner.stop()
    assert len(log.runs["quick"]) >= 4
    assert len(log.runs["failing"]) >= 4
    assert log.runs["quick"][0] - began >= 0.05  # one interval after the start, not at once
    assert log.runs["slow"] == []
    assert not runner.is_alive()


def test_stopping_ends_the_wait_at_once_and_lets_a_running_chore_finish() -> None:
    entered, release = threading.Event(), threading.Event()
    finished: list[bool] = []

    def long() -> None:
        entered.set()
        release.wait(60)
        finished.append(True)

    waiting = Chores([Chore("hourly", lambda: None, 3600)])
    waiting.start()
    # Were the hour waited out, stop() would still be blocked long after this generous
    # deadline (minutes, for a busy machine).
    stopping = threading.Thread(target=waiting.stop, daemon=True)
    stopping.start()
    stopping.join(120)
    assert not stopping.is_alive(), "stop() still waiting for the hourly chore's turn"
    assert not waiting.is_alive()

    running = Chores([Chore("long", long, 0.01)])
    running.start()
    assert entered.wait(60)
    stopper = threading.Thread(target=running.stop)
    stopper.start()
    time.sleep(0.05)
    assert stopper.is_alive()  # waits for the chore under way
    release.set()
    stopper.join(60)
    assert finished == [True]
    assert not running.is_alive()


def test_a_chore_without_a_positive_interval_is_refused() -> None:
    with pytest.raises(ValueError, match="positive"):
        Chores([Chore("spin", lambda: None, 0)])
