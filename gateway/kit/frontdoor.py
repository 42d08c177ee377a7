"""Refusal at the front door: under overload an ingest request is answered 503 before any
of the application's work is spent on it.

When the event loop is saturated, every request it refuses late costs as much as one it
stores early: routing, dependencies, authentication, the body read and the error handler
ran for the submissions the route then shed, so the refusals took the CPU the admitted
requests needed and themselves waited as long (bench/README.md, "Refusal at the front
door"). Here the decision is taken in the outermost layer of ours, from the path and the
method alone: a request to an ingest route (``add``) while the foreseen wait passes the
bound gets a 503 whose body was encoded once, with ``Retry-After``; its body is never
read, so nothing of it can be stored. Every other route (health, readiness, metrics,
reads) passes through whatever the load.
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import orjson
from starlette.types import Scope

from gateway.errors import OverloadedError


@dataclass(frozen=True, slots=True)
class Refusal:
    """An answer ready to send: status, headers (without the ones every answer gets) and
    body."""

    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes


# Builds the answer of a door for a Retry-After of so many seconds; given the request's
# scope, for doors whose answer depends on what the caller asked for (FHIR's format).
Answer = Callable[[int, Scope], Refusal]


@dataclass(frozen=True, slots=True)
class Door:
    route: str  # the route template, as the access line and the metrics name it
    answer: Answer


# The answer time foreseen from those in flight may reach this many bounds before the door
# refuses: it counts the request's own work (tens of milliseconds, more on a busy host),
# where the bound is a wait before that work.
ANSWER_BOUNDS = 2.0


class InFlight:
    """The requests the door let in and not yet answered, and how fast they are answered:
    by Little's law, a request let in now is answered after about ``count / rate`` seconds.

    This sees every wait between the door and the answer (the body read, parsing and
    validation queued for the thread pool and its lock, the writer's queue, CPU shared
    with the database), where the writer's own estimate sees only its queue. The rate is
    completions a second over the last window of ``WINDOW_S`` of busy time (a window
    starts again when a request comes to an idle door, so idle time, which refusing
    would lengthen, never lowers the rate; after a longer idle spell the rate is unknown
    again). A handful of requests in flight is never a reason to refuse.

    The time it foresees includes the request's own work, which the writer's wait does
    not: the door compares it with twice the bound (``ANSWER_BOUNDS``)."""

    WINDOW_S = 0.25
    STALE_S = 1.0  # a rate older than this, after an idle spell, is forgotten
    FEW = 4  # in flight, never a reason to refuse

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.count = 0
        self.rate = 0.0  # answers a second, 0 until a window has passed
        self._answered = 0
        self._since = clock()

    def enter(self) -> None:
        if self.count == 0:  # idle until now: the time with nothing in flight is no answer
            now = self.clock()  # rate's, nor refusals' either
            if now - self._since > self.STALE_S:
                self.rate = 0.0  # measured too long ago to foresee anything
            self._answered, self._since = 0, now
        self.count += 1

    def leave(self) -> None:
        self.count -= 1
        self._answered += 1
        now = self.clock()
        span = now - self._since
        if span >= self.WINDOW_S:
            self.rate = self._answered / span
            self._answered, self._since = 0, now

    def crowded(self) -> bool:
        """Whether enough requests are in flight for a wait to be theirs: with a handful,
        a long wait is the host's (a busy machine, a slow disk under one commit) and
        refusing would not shorten it, while each of them waits for a few requests' work
        at most."""
        return self.count >= self.FEW

    def wait(self) -> float:
        """Seconds a request let in now would take to be answered (0 with few in flight or
        no rate measured yet)."""
        if not self.crowded() or self.rate <= 0:
            return 0.0
        return self.count / self.rate


class FrontDoor:
    """Decides, for each request, whether to refuse it at once.

    ``foreseen_wait`` is the wait a request admitted now would meet before it is written
    (seconds); ``shed`` notes one refusal (the metric, readiness's "shedding"). The door
    also counts the requests it let in (``in_flight``): while they are a crowd, a request
    is refused when the writer's wait passes the bound, or the time the ones let in are
    taking to be answered passes ``ANSWER_BOUNDS`` times it. A handful in flight is never
    refused, however long the wait (``InFlight.crowded``)."""

    def __init__(
        self,
        bound_s: float,
        foreseen_wait: Callable[[], float],
        shed: Callable[[], None],
        in_flight: InFlight | None = None,
    ) -> None:
        self.bound_s = bound_s
        self.foreseen_wait = foreseen_wait
        self.shed = shed
        self.in_flight = in_flight or InFlight()
        self._doors: dict[tuple[str, str], Door] = {}

    def guards(self, scope: Scope) -> bool:
        """Whether the request goes to one of the door's routes."""
        return (scope["method"], scope["path"]) in self._doors

    def add(self, method: str, path: str, answer: Answer | None = None) -> None:
        """Guard ``path`` (a literal path: ingest routes take no parameters)."""
        self._doors[(method, path)] = Door(path, answer or errors_answer)

    def refusal(self, scope: Scope) -> tuple[str, Refusal] | None:
        """The route and the answer when the request is to be refused, else None."""
        if self.bound_s <= 0:
            return None
        door = self._doors.get((scope["method"], scope["path"]))
        if door is None or not self.in_flight.crowded():
            return None
        wait = max(self.foreseen_wait(), self.in_flight.wait() / ANSWER_BOUNDS)
        if wait <= self.bound_s:
            return None
        self.shed()
        return door.route, door.answer(retry_after(wait), scope)


def retry_after(wait: float) -> int:
    """Whole seconds a refused client should wait before sending again (at least 1)."""
    return max(1, math.ceil(wait))


@functools.cache
def errors_answer_for(seconds: int) -> Refusal:
    """The 503 in the API's error shape (``{"errors": [{code, message, path, ...}]}``),
    encoded once for each Retry-After."""
    error = OverloadedError(seconds)
    body = orjson.dumps({"errors": [p.to_dict() for p in error.to_problems()]})
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"retry-after", str(seconds).encode()),
    ]
    return Refusal(503, headers, body)


def errors_answer(seconds: int, _: Scope) -> Refusal:
    return errors_answer_for(seconds)
