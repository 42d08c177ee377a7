"""Request ids (taken or made, echoed, carried to the pricing task), access log lines and
security headers on the API's answers."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from gateway import logs
from gateway.kit.outbox import Pending, Publisher
from tests import factories as f


@pytest.fixture
def access_lines() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logs.JsonFormatter())
    handler.addFilter(logs.MaskingFilter())
    logger = logging.getLogger("gateway.access")
    logger.addHandler(handler)
    level = logger.level
    logger.setLevel(logging.INFO)
    try:
        yield stream
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def test_request_id_is_echoed_or_made_and_logged(
    client: TestClient, access_lines: io.StringIO
) -> None:
    given = client.get("/healthz", headers={"X-Request-ID": "his-req-0001"})
    assert given.headers["X-Request-ID"] == "his-req-0001"
    made = client.get("/healthz").headers["X-Request-ID"]
    assert len(made) == 32
    refused = client.get("/healthz", headers={"X-Request-ID": "x" * 300}).headers["X-Request-ID"]
    assert refused != "x" * 300
    entries = [orjson.loads(line) for line in access_lines.getvalue().splitlines()]
    assert [e["request_id"] for e in entries] == ["his-req-0001", made, refused]
    assert entries[0]["message"] == "GET /healthz 200"
    assert entries[0]["status"] == 200
    assert isinstance(entries[0]["ms"], float)


def test_security_headers(client: TestClient, sessions: sessionmaker[Session]) -> None:
    _, token = f.make_centre(sessions)
    api = client.get("/v1/submissions/nope", headers={"Authorization": f"Bearer {token}"})
    assert api.status_code == 404
    assert api.headers["X-Content-Type-Options"] == "nosniff"
    assert api.headers["X-Frame-Options"] == "DENY"
    assert api.headers["Content-Security-Policy"] == "default-src 'none'; frame-ancestors 'none'"
    assert api.headers["Cache-Control"] == "no-store"
    docs = client.get("/docs")  # Swagger's page runs scripts: its own policy, self only
    assert docs.headers["X-Content-Type-Options"] == "nosniff"
    assert docs.headers["Content-Security-Policy"].startswith("default-src 'self';")
    page = client.get("/web/login")  # the workspace's own policy is kept
    assert page.headers["Content-Security-Policy"] != api.headers["Content-Security-Policy"]
    assert page.headers.get_list("X-Frame-Options") == [page.headers["X-Frame-Options"]]


class RecordingCelery:
    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    def send_task(self, name: str, **options: Any) -> None:
        self.sent.append({"name": name, **options})


def test_the_request_id_goes_with_the_pricing_message(
    client: TestClient, sessions: sessionmaker[Session]
) -> None:
    state = client.app.state.gateway  # type: ignore[attr-defined]
    centre, token = f.make_centre(sessions)
    answer = client.post(
        "/v1/submissions",
        content=f.as_json(f.submission(centre.code)),
        headers={
            "Authorization": f"Bearer {token}",
            "Content-Type": "application/json",
            "X-Request-ID": "his-req-0002",
        },
    )
    assert answer.status_code == 202
    queued = state.dispatcher.inbox.get_nowait()  # relay=False: nobody has taken it
    assert isinstance(queued, Pending)
    assert queued.request_id == "his-req-0002"
    celery = RecordingCelery()
    Publisher(celery, sessions, "q")._send([queued], "commit")  # type: ignore[arg-type]
    assert celery.sent[0]["headers"] == {"request_id": "his-req-0002"}
    assert celery.sent[0]["kwargs"] == queued.payload
    Publisher(celery, sessions, "q")._send([Pending(5, "t", {})], "relay")  # type: ignore[arg-type]
    assert celery.sent[1]["headers"] == {"request_id": "outbox-5"}
