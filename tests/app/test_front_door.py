"""The front door: under overload an ingest request is refused before any of the
application's work (routing, authentication, the body read), with the error shape,
Retry-After, the shed count and its access line; every other route passes.

The overload is injected (the writer's foreseen wait, requests held in flight, or answer
times on a fake clock), never produced or timed: the app's lifespan is not run."""

from __future__ import annotations

import asyncio
import io
import logging
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from gateway import logs, metrics
from gateway.app import create_app
from gateway.errors import OverloadedError
from gateway.kit.frontdoor import HEAVY_SHARE, FrontDoor, InFlight, errors_answer_for
from gateway.kit.looplag import STANDING_TICKS, LoopLag
from gateway.settings import Settings
from gateway.storage.models import Submission
from gateway.submissions.writer import IngestWriter
from tests import factories as f

BOUND_S = 0.2


class Answered:
    """What an ASGI app sent, and whether it asked for the request's body."""

    def __init__(self) -> None:
        self.status = 0
        self.headers: dict[str, str] = {}
        self.body = b""
        self.body_read = False


def call(app: FastAPI, method: str, path: str, headers: dict[str, str], body: bytes) -> Answered:
    """One request straight through the ASGI interface, noting any read of its body."""
    answered = Answered()
    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()]
        + [(b"content-length", str(len(body)).encode()), (b"host", b"testserver")],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
        "state": {},
    }

    async def receive() -> dict[str, Any]:
        answered.body_read = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            answered.status = message["status"]
            answered.headers = {k.decode(): v.decode() for k, v in message["headers"]}
        elif message["type"] == "http.response.body":
            answered.body += message.get("body", b"")

    asyncio.run(app(scope, receive, send))
    return answered


@pytest.fixture
def app(settings: Settings) -> Iterator[FastAPI]:
    made = create_app(settings.model_copy(update={"ingest_max_wait_s": BOUND_S}), relay=False)
    yield made
    made.state.ingest_writer.stop()


def overload(app: FastAPI, wait_s: float) -> None:
    """The writer foresees ``wait_s`` before it takes a submission handed over now (that
    many seconds of documents queued ahead of it), with a crowd of requests in flight."""
    writer: IngestWriter = app.state.ingest_writer
    crowd(writer.in_flight)
    queue_for(writer, wait_s)


def queue_for(writer: IngestWriter, wait_s: float) -> None:
    """A hundred documents queued at the writer, committed at ``wait_s`` / 100 each."""
    writer._load.queued = 100 if wait_s else 0
    writer._load.per_document = wait_s / 100


def crowd(in_flight: InFlight) -> None:
    """Enough ingest requests in flight (never answered) for a wait to be theirs."""
    while not in_flight.crowded():
        in_flight.enter()


@pytest.fixture
def access_lines() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logs.JsonFormatter())
    logger = logging.getLogger("gateway.access")
    logger.addHandler(handler)
    level = logger.level
    logger.setLevel(logging.INFO)
    try:
        yield stream
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def count_submissions(sessions: sessionmaker[Session]) -> int:
    with sessions() as session:
        return int(session.scalar(select(func.count()).select_from(Submission)) or 0)


def test_a_submission_is_refused_at_the_door_unread_and_unstored(
    app: FastAPI, sessions: sessionmaker[Session], access_lines: io.StringIO
) -> None:
    centre, token = f.make_centre(sessions)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    body = f.as_json(f.submission(centre.code, f.outpatient_visit()))
    before = count_submissions(sessions)
    shed = metrics.INGEST_SHED.labels("door")._value.get()
    counted = metrics.HTTP_REQUESTS.labels("POST", "/v1/submissions", "503")._value.get()

    overload(app, 1.4)
    refused = call(app, "POST", "/v1/submissions", {**headers, "X-Request-ID": "his-1"}, body)

    assert refused.status == 503
    assert not refused.body_read
    assert refused.headers["retry-after"] == "2"
    assert refused.headers["x-request-id"] == "his-1"
    assert refused.headers["cache-control"] == "no-store"
    assert int(refused.headers["content-length"]) == len(refused.body)
    (error,) = orjson.loads(refused.body)["errors"]
    assert (error["code"], error["path"], error["line"]) == ("overloaded", None, None)
    assert error["message"] == ("The gateway is overloaded; nothing was stored. Try again in 2 s.")
    assert metrics.INGEST_SHED.labels("door")._value.get() == shed + 1
    counted_now = metrics.HTTP_REQUESTS.labels("POST", "/v1/submissions", "503")._value.get()
    assert counted_now == counted + 1
    (line,) = [orjson.loads(raw) for raw in access_lines.getvalue().splitlines()]
    assert (line["message"], line["route"], line["status"]) == (
        "POST /v1/submissions 503",
        "/v1/submissions",
        503,
    )
    assert line["request_id"] == "his-1"
    assert count_submissions(sessions) == before

    overload(app, 0.0)  # the same request, the queue drained: read, stored, 202
    admitted = call(app, "POST", "/v1/submissions", headers, body)
    assert (admitted.status, admitted.body_read) == (202, True)
    assert count_submissions(sessions) == before + 1


def test_the_door_answers_as_the_route_would_have(
    app: FastAPI, sessions: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The pre-encoded answer is the one the error handler renders for the route's own
    refusal (admit, after the body read) at the same wait."""
    centre, token = f.make_centre(sessions)
    body = f.as_json(f.submission(centre.code, f.outpatient_visit()))
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    overload(app, 0.5)
    door = call(app, "POST", "/v1/submissions", headers, body)
    overload(app, 0.0)

    def refuse() -> None:
        raise OverloadedError(0.5)

    monkeypatch.setattr(app.state.ingest_writer, "admit", refuse)
    route = call(app, "POST", "/v1/submissions", headers, body)
    assert (door.status, route.status) == (503, 503)
    assert orjson.loads(door.body) == orjson.loads(route.body)
    assert door.headers["retry-after"] == route.headers["retry-after"] == "1"
    assert door.headers["content-type"] == route.headers["content-type"]
    assert (door.body_read, route.body_read) == (False, True)


def test_batches_and_fhir_claims_are_refused_at_the_door(
    app: FastAPI, sessions: sessionmaker[Session]
) -> None:
    _, token = f.make_centre(sessions)
    auth = {"Authorization": f"Bearer {token}"}
    overload(app, 0.3)
    batch = call(app, "POST", "/v1/batches", {**auth, "Content-Type": "application/xml"}, b"<x/>")
    assert (batch.status, batch.body_read, batch.headers["retry-after"]) == (503, False, "1")
    assert orjson.loads(batch.body)["errors"][0]["code"] == "overloaded"
    for path in ("/fhir/Claim/$submit", "/fhir/Claim"):
        claim = call(app, "POST", path, {**auth, "Content-Type": "application/fhir+json"}, b"{}")
        assert (claim.status, claim.body_read, claim.headers["retry-after"]) == (503, False, "1")
        outcome = orjson.loads(claim.body)
        assert outcome["resourceType"] == "OperationOutcome"
        assert [i["code"] for i in outcome["issue"]] == ["transient"]
        assert "overloaded" in outcome["issue"][0]["diagnostics"]
    xml = call(
        app,
        "POST",
        "/fhir/Claim/$submit",
        {**auth, "Content-Type": "application/fhir+xml"},
        b"<Claim/>",
    )
    assert xml.status == 503
    assert xml.headers["content-type"].startswith("application/fhir+xml")
    assert b"<OperationOutcome" in xml.body


def test_other_routes_pass_the_door_whatever_the_load(
    app: FastAPI, sessions: sessionmaker[Session]
) -> None:
    _, token = f.make_centre(sessions)
    auth = {"Authorization": f"Bearer {token}"}
    shed = metrics.INGEST_SHED.labels("door")._value.get()
    overload(app, 5.0)
    assert call(app, "GET", "/healthz", {}, b"").status == 200
    ready = call(app, "GET", "/readyz", {}, b"")
    assert (ready.status, orjson.loads(ready.body)["shedding"]) == (200, True)
    assert call(app, "GET", "/metrics", {}, b"").status == 200
    read = call(app, "GET", "/v1/submissions/00000000-0000-0000-0000-000000000000", auth, b"")
    assert read.status == 404
    # A write that is not an ingest route (the same path, another method) passes too.
    assert call(app, "PUT", "/v1/submissions", auth, b"{}").status == 405
    assert metrics.INGEST_SHED.labels("door")._value.get() == shed


def test_without_a_bound_the_door_never_refuses() -> None:
    refused: list[None] = []
    door = FrontDoor(0, lambda: 60.0, lambda: refused.append(None))
    door.add("POST", "/v1/submissions")
    assert door.refusal({"method": "POST", "path": "/v1/submissions"}) is None
    assert refused == []


def test_the_door_refuses_only_past_the_bound_and_counts_each_refusal() -> None:
    waits, refused = [0.2, 0.21], []
    door = FrontDoor(BOUND_S, lambda: waits.pop(0), lambda: refused.append(None))
    door.add("POST", "/v1/submissions")
    crowd(door.in_flight)
    scope = {"method": "POST", "path": "/v1/submissions"}
    assert door.refusal(scope) is None
    assert door.refusal(scope) == ("/v1/submissions", errors_answer_for(1))
    assert len(refused) == 1


def test_a_long_turn_of_a_loop_that_stands_behind_sheds_during_the_turn() -> None:
    """While the loop is busy past its ticker's time, the lag read is no more than how
    overdue the awaited tick is: requests handled early in a long turn pass, late ones
    are refused, and only when the last ticks were all late too."""

    class Clock:
        now = 100.0

        def __call__(self) -> float:
            return self.now

    clock = Clock()

    async def scenario() -> list[float]:
        lag = LoopLag(tick=0.01, clock=clock)
        lag.start()
        await asyncio.sleep(0)  # the ticker takes its tick's time and sleeps
        clock.now += 0.51  # a long turn, but the ticks before it were on time
        seen = [lag.seconds]
        for _ in range(STANDING_TICKS):  # the loop stood 0.4 s behind at every tick
            lag.note(0.4)
        seen.append(lag.seconds)  # the awaited tick is 0.5 s overdue: 0.4 stands
        clock.now -= 0.4  # (the same turn, read earlier: 0.1 s overdue)
        seen.append(lag.seconds)
        await lag.stop()
        seen.append(lag.seconds)  # no tick awaited: the standing lag alone
        return seen

    assert asyncio.run(scenario()) == pytest.approx([0.0, 0.4, 0.1, 0.4])


class FakeClock:
    def __init__(self) -> None:
        self.now = 50.0

    def __call__(self) -> float:
        return self.now


def each_answer_a_window(clock: FakeClock, bound_s: float = 0.2) -> InFlight:
    """An InFlight whose every answer closes a window (its mean is that answer's time)."""
    in_flight = InFlight(bound_s, clock)
    in_flight.WINDOW_S = 0.0
    return in_flight


def answer(
    in_flight: InFlight, clock: FakeClock, seconds: float, *, held_back: bool, refused: int = 0
) -> None:
    """One request answered after ``seconds``; the limit turned another away meanwhile
    if ``held_back``, and the door refused ``refused`` requests."""
    entered = in_flight.enter()
    for _ in range(refused):
        in_flight.refused()
    if held_back:
        while in_flight.count < in_flight.limit:
            in_flight.enter()
        assert in_flight.full()
    clock.now += seconds
    in_flight.leave(entered)
    in_flight.count = 0


def test_the_limit_shrinks_in_proportion_when_answers_take_longer_than_the_target() -> None:
    """Answered in 0.25 s against a 0.2 s target: the limit shrinks by 0.2 / 0.25; answered
    in a second, to its floor at most."""
    clock = FakeClock()
    in_flight = each_answer_a_window(clock)
    assert in_flight.limit == InFlight.FIRST
    answer(in_flight, clock, 0.25, held_back=True)
    assert in_flight.limit == pytest.approx(InFlight.FIRST * 0.2 / 0.25)
    answer(in_flight, clock, 1.0, held_back=False)
    assert in_flight.limit == InFlight.FLOOR


def test_the_limit_grows_only_when_it_held_requests_back() -> None:
    """Answers within the target say nothing about more requests unless the limit turned
    some away meanwhile; then it grows with the headroom, by GROWTH a window at most, up
    to MOST."""
    clock = FakeClock()
    in_flight = each_answer_a_window(clock)
    answer(in_flight, clock, 0.05, held_back=False)
    assert in_flight.limit == InFlight.FIRST
    answer(in_flight, clock, 0.18, held_back=True)  # headroom 0.2 / 0.18
    assert in_flight.limit == pytest.approx(InFlight.FIRST * 0.2 / 0.18)
    answer(in_flight, clock, 0.2, held_back=True)  # on the target: no headroom
    assert in_flight.limit == pytest.approx(InFlight.FIRST * 0.2 / 0.18)
    for _ in range(30):
        answer(in_flight, clock, 0.01, held_back=True)  # by GROWTH, not twenty times
    assert in_flight.limit == InFlight.MOST


def test_under_heavy_demand_the_answers_are_held_to_half_the_bound() -> None:
    """Answers of 0.15 s are within a 0.2 s bound while the door refuses few; once it
    refuses at least half as many as it answers, the target is half the bound."""
    clock = FakeClock()
    in_flight = each_answer_a_window(clock)
    answer(in_flight, clock, 0.15, held_back=True)  # within the bound: grows
    assert in_flight.limit == pytest.approx(InFlight.FIRST * InFlight.GROWTH)
    limit = in_flight.limit
    answer(in_flight, clock, 0.15, held_back=True, refused=1)
    assert in_flight.limit == pytest.approx(limit * 0.2 * HEAVY_SHARE / 0.15)


def test_a_window_averages_its_answers() -> None:
    """Within a quarter second of busy time, the answers' mean is what counts: one slow
    answer among quick ones does not shrink the limit."""
    clock = FakeClock()
    in_flight = InFlight(0.2, clock)
    slow = in_flight.enter()
    quick = [in_flight.enter() for _ in range(9)]
    clock.now += 0.05
    for at in quick[:8]:
        in_flight.leave(at)
    clock.now += 0.25  # the slow one answered after 0.3 s closes the window: mean 0.065
    in_flight.leave(slow)
    assert in_flight.limit == InFlight.FIRST
    in_flight.leave(quick[8])


def test_the_door_refuses_past_the_limit_on_counted_routes_only() -> None:
    """The writer foresees no wait, but as many requests are in flight as the limit lets
    in: a submission or a FHIR claim is refused; a batch upload (not counted, its time
    is the upload's) is let in; once one is answered, a submission is let in again."""
    clock = FakeClock()
    in_flight = InFlight(BOUND_S, clock)
    refused: list[None] = []
    door = FrontDoor(BOUND_S, lambda: 0.0, lambda: refused.append(None), in_flight)
    door.add("POST", "/v1/submissions")
    door.add("POST", "/fhir/Claim")
    door.add("POST", "/v1/batches", counted=False)
    submission = {"method": "POST", "path": "/v1/submissions"}
    batch = {"method": "POST", "path": "/v1/batches"}
    assert door.counts(submission)
    assert not door.counts(batch)
    assert not door.counts({"method": "GET", "path": "/readyz"})
    entered = [in_flight.enter() for _ in range(InFlight.FIRST)]
    assert door.refusal(submission) == ("/v1/submissions", errors_answer_for(1))
    assert door.refusal({"method": "POST", "path": "/fhir/Claim"}) is not None
    assert door.refusal(batch) is None
    assert in_flight.target() == BOUND_S * HEAVY_SHARE  # two refused, none answered yet
    in_flight.leave(entered.pop())
    assert door.refusal(submission) is None
    assert len(refused) == 2


def test_a_window_starts_again_after_an_idle_spell() -> None:
    """Answers from before an idle spell are not averaged with the ones after it: the
    window starts again with the first request after the spell."""
    clock = FakeClock()
    in_flight = InFlight(0.2, clock)
    in_flight.leave(in_flight.enter())  # answered at once; the door idles from here
    clock.now += 30.0
    slow = in_flight.enter()
    clock.now += 0.3
    in_flight.leave(slow)  # a window of its own: mean 0.3 s, not (0 + 0.3) / 2
    assert in_flight.limit == pytest.approx(InFlight.FIRST * 0.2 / 0.3)


def test_a_handful_in_flight_is_never_refused_however_long_the_wait() -> None:
    """A wait with fewer than FEW requests in flight is the host's (a busy machine, one
    slow commit): the door lets them in; once they are a crowd, it refuses."""
    refused: list[None] = []
    door = FrontDoor(BOUND_S, lambda: 60.0, lambda: refused.append(None))
    door.add("POST", "/v1/submissions")
    scope = {"method": "POST", "path": "/v1/submissions"}
    for _ in range(InFlight.FEW):
        assert door.refusal(scope) is None
        door.in_flight.enter()
    assert door.refusal(scope) == ("/v1/submissions", errors_answer_for(60))
    assert len(refused) == 1


def test_a_lone_submission_is_stored_however_long_the_foreseen_wait(
    app: FastAPI, sessions: sessionmaker[Session]
) -> None:
    """The writer foresees 1.4 s (one slow commit on a busy host), but no other ingest
    request is in flight: the submission is read and stored, not refused."""
    centre, token = f.make_centre(sessions)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    body = f.as_json(f.submission(centre.code, f.outpatient_visit()))
    writer: IngestWriter = app.state.ingest_writer
    queue_for(writer, 1.4)
    before = count_submissions(sessions)
    admitted = call(app, "POST", "/v1/submissions", headers, body)
    assert (admitted.status, admitted.body_read) == (202, True)
    assert count_submissions(sessions) == before + 1
    assert writer.in_flight.count == 0


def test_a_lagging_event_loop_refuses_nothing(
    app: FastAPI, sessions: sessionmaker[Session]
) -> None:
    """The loop's lag is measured and exported, but a crowd in flight on a loop that
    stands 1.4 s behind (other processes took the CPU) is let in: what the requests'
    own answer times say is the limit's to judge."""
    centre, token = f.make_centre(sessions)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    body = f.as_json(f.submission(centre.code, f.outpatient_visit()))
    writer: IngestWriter = app.state.ingest_writer
    crowd(writer.in_flight)
    for _ in range(STANDING_TICKS):
        writer.loop_lag.note(1.4)
    assert writer.loop_lag.seconds == pytest.approx(1.4)
    admitted = call(app, "POST", "/v1/submissions", headers, body)
    assert admitted.status == 202
