"""Refusal at the front door: under overload an ingest request is answered 503 before any
of the application's work is spent on it.

When the event loop is saturated, every request it refuses late costs as much as one it
stores early: routing, dependencies, authentication, the body read and the error handler
ran for the submissions the route then shed, so the refusals took the CPU the admitted
requests needed and themselves waited as long (bench/README.md, "Refusal at the front
door"). Here the decision is taken in the outermost layer of ours, from the path and the
method alone: a request to an ingest route (``add``) while the writer's foreseen wait
passes the bound, or while as many requests are in flight as the limit learnt from their
answer times lets in (``InFlight``), gets a 503 whose body was encoded once, with
``Retry-After``; its body is never read, so nothing of it can be stored. Every other
route (health, readiness, metrics, reads) passes through whatever the load.
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
    counted: bool  # whether its requests count in flight (``InFlight``)


# Under heavy demand (the door refused at least HEAVY_DEMAND times as many requests as it
# answered in a window), the mean answer time of the requests let in is held to this
# share of the bound: an admitted request's p99 is about twice the mean, plus the wait
# before the door (the socket and the event loop) that no count in the application sees,
# so half the bound keeps the p99 near the bound. Otherwise the mean may reach the bound
# itself: near capacity (a closed loop of clients, a burst), answers a little slower are
# the price of the writer's throughput, and every refusal costs its client a second
# (bench/README.md, "An adaptive limit").
HEAVY_SHARE = 0.5
HEAVY_DEMAND = 0.25


class InFlight:
    """The requests the door let in and not yet answered, and how many it lets in at once:
    a limit that follows the answer time it measures.

    The time measured runs from the door to the answer, so it sees every wait on the way
    (the body read, parsing and validation, the writer's queue and commit, CPU shared
    with the database) where the writer's own estimate sees only its queue. Over each
    window of ``WINDOW_S`` of busy time, the mean answer time of the requests answered
    is compared with the target (the bound, or ``HEAVY_SHARE`` of it under heavy demand):
    past it, the limit shrinks in proportion (by Little's law the answer time is the
    number in flight over the rate they are answered, so scaling the one scales the
    other); within it, and if the limit held requests back meanwhile, it grows by the
    same proportion, at most ``GROWTH`` a window. So the number let in settles where they
    are answered within the target, whatever the host and the documents cost, and what
    the door turns away is refused at once instead of making every admitted request wait
    longer. A handful in flight (``FEW``) is never a reason to refuse: their wait is the
    host's, and each waits for few others.

    A window starts again when a request comes to a door idle for longer than a window:
    idle time is no answer time."""

    WINDOW_S = 0.25
    FEW = 4  # in flight, never a reason to refuse
    # The least limit: the group-commit writer needs a few requests a transaction to keep
    # its throughput, and a limit shrunk to a handful would turn nearly all away.
    FLOOR = 8
    FIRST = 32  # the limit before anything was measured
    MOST = 1024
    GROWTH = 1.25  # the most the limit grows in a window

    def __init__(self, bound_s: float = 0.2, clock: Callable[[], float] = time.monotonic) -> None:
        self.bound_s = bound_s
        self.clock = clock
        self.count = 0
        self.limit = float(self.FIRST)
        self._since = clock()
        self._answered = 0
        self._spent = 0.0  # seconds in flight of the window's answered requests
        self._held_back = False  # whether the limit was reached in the window
        self._refused = 0  # requests the door refused in the window

    def enter(self) -> float:
        """Count a request let in; returns when it was, for ``leave``."""
        now = self.clock()
        if self.count == 0 and now - self._since > self.WINDOW_S:
            self._restart(now)
        self.count += 1
        return now

    def leave(self, entered: float) -> None:
        now = self.clock()
        self.count -= 1
        self._answered += 1
        self._spent += now - entered
        if now - self._since >= self.WINDOW_S:
            self._adjust()
            self._restart(now)

    def refused(self) -> None:
        """Note a request the door refused (for the demand the window saw)."""
        self._refused += 1

    def _restart(self, now: float) -> None:
        self._since, self._answered, self._spent = now, 0, 0.0
        self._held_back, self._refused = False, 0

    def target(self) -> float:
        """The mean answer time the window's answers are held to."""
        heavy = self._refused >= HEAVY_DEMAND * self._answered
        return self.bound_s * (HEAVY_SHARE if heavy else 1.0)

    def _adjust(self) -> None:
        mean, target = self._spent / self._answered, self.target()
        if mean > target:
            self.limit = max(float(self.FLOOR), self.limit * target / mean)
        elif self._held_back:
            growth = self.GROWTH if mean <= 0 else min(self.GROWTH, target / mean)
            self.limit = min(float(self.MOST), self.limit * growth)

    def crowded(self) -> bool:
        """Whether enough requests are in flight for a wait to be theirs: with a handful,
        a long wait is the host's (a busy machine, a slow disk under one commit) and
        refusing would not shorten it, while each of them waits for a few requests' work
        at most."""
        return self.count >= self.FEW

    def full(self) -> bool:
        """Whether one more would pass the limit (noted: the limit held a request back)."""
        if self.count + 1 <= self.limit or not self.crowded():
            return False
        self._held_back = True
        return True


class FrontDoor:
    """Decides, for each request, whether to refuse it at once.

    ``foreseen_wait`` is the wait a request admitted now would meet before it is written
    (seconds); ``shed`` notes one refusal (the metric, readiness's "shedding"). The door
    also counts the requests it let in (``in_flight``): while they are a crowd, a request
    is refused when the writer's wait passes the bound, or, on a route whose requests are
    counted, when as many are in flight as are answered within the target
    (``InFlight.full``). A handful in flight is never refused, however long the wait
    (``InFlight.crowded``). Batch uploads pass the count: their time is the upload's,
    not the gateway's."""

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
        self.in_flight = in_flight or InFlight(bound_s)
        self._doors: dict[tuple[str, str], Door] = {}

    def counts(self, scope: Scope) -> bool:
        """Whether the request, let in, counts in flight."""
        door = self._doors.get((scope["method"], scope["path"]))
        return door is not None and door.counted

    def add(
        self, method: str, path: str, answer: Answer | None = None, *, counted: bool = True
    ) -> None:
        """Guard ``path`` (a literal path: ingest routes take no parameters)."""
        self._doors[(method, path)] = Door(path, answer or errors_answer, counted)

    def refusal(self, scope: Scope) -> tuple[str, Refusal] | None:
        """The route and the answer when the request is to be refused, else None."""
        if self.bound_s <= 0:
            return None
        door = self._doors.get((scope["method"], scope["path"]))
        if door is None or not self.in_flight.crowded():
            return None
        wait = self.foreseen_wait()
        if wait <= self.bound_s and not (door.counted and self.in_flight.full()):
            return None
        self.shed()
        if door.counted:
            self.in_flight.refused()
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
