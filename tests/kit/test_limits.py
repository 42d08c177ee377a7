"""Per-centre limits: requests per minute (429 + Retry-After, one centre never slowing
another, in-process or shared through Redis), body size and documents per submission."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event
from sqlalchemy.orm import Session, sessionmaker
from starlette.types import Message, Receive, Scope, Send

from gateway import metrics
from gateway.app import create_app
from gateway.kit.db import engine_for
from gateway.kit.ratelimit import LocalBuckets, RedisBuckets, make_limiter
from gateway.settings import Settings
from tests import factories as f
from tests import services

JSON = "application/json"


def post(client: TestClient, token: str, body: bytes, media: str = JSON):  # type: ignore[no-untyped-def]
    headers = {"Authorization": f"Bearer {token}", "Content-Type": media}
    return client.post("/v1/submissions", content=body, headers=headers)


@pytest.fixture
def limited(settings: Settings) -> Iterator[TestClient]:
    changed = settings.model_copy(
        update={
            "rate_limit_per_minute": 60,
            "rate_limit_burst": 3,
            "max_documents_per_submission": 2,
        }
    )
    with TestClient(create_app(changed, relay=False)) as test_client:
        yield test_client


def test_a_noisy_centre_gets_429_while_another_goes_on(
    limited: TestClient, sessions: sessionmaker[Session]
) -> None:
    noisy, noisy_token = f.make_centre(sessions)
    quiet, quiet_token = f.make_centre(sessions)
    refused_before = metrics.RATE_LIMITED._value.get()
    answers = [post(limited, noisy_token, f.as_json(f.submission(noisy.code))) for _ in range(5)]
    assert [a.status_code for a in answers] == [202, 202, 202, 429, 429]
    refused = answers[3]
    assert refused.json()["errors"][0]["code"] == "rate-limited"
    assert 1 <= int(refused.headers["Retry-After"]) <= 2  # one token a second comes back
    assert metrics.RATE_LIMITED._value.get() - refused_before == 2
    # Reads count against the same budget; the other centre's budget is untouched.
    read = limited.get(
        f"/v1/submissions/{uuid.uuid4()}", headers={"Authorization": f"Bearer {noisy_token}"}
    )
    assert read.status_code == 429
    for _ in range(3):
        assert post(limited, quiet_token, f.as_json(f.submission(quiet.code))).status_code == 202


def test_a_refused_request_costs_no_body_read_and_no_database(
    settings: Settings, sessions: sessionmaker[Session]
) -> None:
    # One request a minute: no token comes back while the 200 are refused, however slow
    # a loaded machine makes them (at 60 a minute one did, after a second).
    slow = settings.model_copy(update={"rate_limit_per_minute": 1, "rate_limit_burst": 3})
    _, token = f.make_centre(sessions)
    app = create_app(slow, relay=False)
    bodies: list[bytes] = []

    async def counting(scope: Scope, receive: Receive, send: Send) -> None:
        """The app, noting every piece of request body it asks for."""

        async def noted() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                bodies.append(message.get("body", b""))
            return message

        await app(scope, noted, send)

    statements: list[str] = []
    engine = engine_for(slow.database_url)
    with TestClient(counting) as limited:
        for _ in range(3):
            post(limited, token, b"{}")
        bodies.clear()
        note = lambda *args: statements.append(args[2])  # noqa: E731
        event.listen(engine, "before_cursor_execute", note)
        try:
            for _ in range(200):
                assert post(limited, token, b"x" * 100_000).status_code == 429
        finally:
            event.remove(engine, "before_cursor_execute", note)
    assert bodies == []
    assert statements == []


def test_body_size_and_document_count_limits(
    limited: TestClient, sessions: sessionmaker[Session]
) -> None:
    centre, token = f.make_centre(sessions)
    too_many = f.submission(centre.code, *[f.outpatient_visit() for _ in range(3)])
    answer = post(limited, token, f.as_json(too_many))
    assert answer.status_code == 422
    assert answer.json()["errors"][0]["code"] == "submission.too-many-documents"
    limit = limited.app.state.gateway.settings.max_body_bytes  # type: ignore[attr-defined]
    big = b'{"a": "' + b"x" * limit + b'"}'
    assert post(limited, token, big).status_code == 413

    def chunks() -> Iterator[bytes]:  # no Content-Length: the limit holds while reading
        yield from (big[i : i + 65536] for i in range(0, len(big), 65536))

    streamed = limited.post(
        "/v1/submissions",
        content=chunks(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": JSON},
    )
    assert (streamed.status_code, streamed.json()["errors"][0]["code"]) == (413, "body.too-large")


def test_local_bucket_refills(monkeypatch: pytest.MonkeyPatch) -> None:
    bucket = LocalBuckets(per_minute=60, burst=2)
    now = [1000.0]
    bucket._now = lambda: now[0]
    assert [bucket.take("a"), bucket.take("a")] == [0.0, 0.0]
    assert bucket.take("a") == pytest.approx(1.0)
    assert bucket.take("b") == 0.0
    now[0] += 0.5
    assert bucket.take("a") == pytest.approx(0.5)
    now[0] += 0.5
    assert bucket.take("a") == 0.0


def test_no_limit_by_default() -> None:
    assert make_limiter(0, 0, None).take("x") == 0.0


@pytest.fixture
def redis_url() -> str:
    if not services.reachable(services.REDIS_URL, 6379):
        pytest.skip(f"Redis unreachable at {services.REDIS_URL}: test skipped")
    return services.REDIS_URL


def test_redis_buckets_are_shared_by_api_processes(redis_url: str) -> None:
    prefix = f"gateway-test:{uuid.uuid4().hex}:"
    one = RedisBuckets(redis_url, per_minute=60, burst=3, prefix=prefix)
    two = RedisBuckets(redis_url, per_minute=60, burst=3, prefix=prefix)
    assert [one.take("c1"), two.take("c1"), one.take("c1")] == [0.0, 0.0, 0.0]
    assert 0 < two.take("c1") <= 1.0
    assert one.take("c2") == 0.0
    one._client.delete(prefix + "c1", prefix + "c2")


def test_an_unreachable_redis_lets_requests_through() -> None:
    errors = metrics.RATE_LIMIT_ERRORS._value.get()
    down = RedisBuckets("redis://127.0.0.1:1/0", per_minute=1, burst=1)
    assert [down.take("c"), down.take("c")] == [0.0, 0.0]
    assert metrics.RATE_LIMIT_ERRORS._value.get() - errors == 2
