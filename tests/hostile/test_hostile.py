"""Every hostile body gets a 4xx with a structured error, in bounded memory; nothing is
stored and the server stays healthy. On SQLite and on PostgreSQL. (How fast: a test on a
busy machine cannot say; the memory bound is what catches an expansion.)"""

from __future__ import annotations

import gzip
import os

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from gateway.storage.models import (
    Batch,
    Document,
    DocumentLine,
    OutboxMessage,
    RawPayload,
    StatusEvent,
    Submission,
)
from tests import factories as f
from tests.hostile.corpus import CORPUS, Hostile

TABLES = (Submission, RawPayload, Document, DocumentLine, StatusEvent, OutboxMessage, Batch)
RSS_GROWTH = 64 * 1024 * 1024  # what one refused body may leave the process holding
PAGE = os.sysconf("SC_PAGE_SIZE")


def rss() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * PAGE


def counts(sessions: sessionmaker[Session]) -> dict[str, int]:
    with sessions() as session:
        return {
            t.__tablename__: session.scalar(select(func.count()).select_from(t)) or 0
            for t in TABLES
        }


def send(client: TestClient, token: str, case: Hostile, body: bytes):  # type: ignore[no-untyped-def]
    headers = {"Authorization": f"Bearer {token}", "Content-Type": case.media}
    return client.post("/v1/submissions", content=body, headers=headers)


def assert_structured(response, status: int, codes: frozenset[str]) -> None:  # type: ignore[no-untyped-def]
    assert response.status_code == status, response.text[:500]
    errors = response.json()["errors"]
    assert errors, response.text[:500]
    for error in errors:
        assert {"code", "message", "path", "line"} <= set(error)
        assert error["message"]
        assert len(error["message"]) <= 1000, error["message"][:200]
    assert errors[0]["code"] in codes, errors[0]
    assert len(response.content) < 64 * 1024


@pytest.mark.parametrize("case", CORPUS, ids=lambda case: case.name)
def test_hostile_body_is_refused_cleanly(
    case: Hostile, client: TestClient, sessions: sessionmaker[Session]
) -> None:
    centre, token = f.make_centre(sessions)
    body = case.build(centre.code)
    before = counts(sessions)
    memory = rss()
    response = send(client, token, case, body)
    grown = rss() - memory
    assert_structured(response, case.status, case.codes)
    assert grown < RSS_GROWTH, f"{case.name} left the process {grown >> 20} MB larger"
    assert counts(sessions) == before
    assert client.get("/healthz").status_code == 200


def test_after_the_whole_corpus_the_server_still_accepts(
    client: TestClient, sessions: sessionmaker[Session]
) -> None:
    centre, token = f.make_centre(sessions)
    bodies = [(case, case.build(centre.code)) for case in CORPUS]
    memory = rss()
    for _ in range(3):
        for case, body in bodies:
            assert send(client, token, case, body).status_code == case.status
    assert rss() - memory < RSS_GROWTH, "memory grows with every hostile body"
    assert client.get("/healthz").json() == {"status": "ok"}
    valid = client.post(
        "/v1/submissions",
        content=f.as_json(f.submission(centre.code)),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    assert valid.status_code == 202, valid.text


def _batch(client: TestClient, token: str, body: bytes, **headers: str):  # type: ignore[no-untyped-def]
    sent = {"Authorization": f"Bearer {token}", "Content-Type": "application/xml", **headers}
    return client.post("/v1/batches", content=body, headers=sent)


GZIP = {"Content-Encoding": "gzip"}
BOMB = gzip.compress(b"<a>" + b"\0" * (64 * 1024 * 1024), compresslevel=9)  # 64 MB in 64 KB
# Many small gzip members, concatenated: each inflates little, together 40 MB from 60 KB.
MEMBERS = b"".join([gzip.compress(b" " * (1024 * 1024), compresslevel=9)] * 40)


@pytest.mark.parametrize(
    ("name", "body", "headers", "status", "code"),
    [
        pytest.param(*case, id=case[0])
        for case in [
            ("gzip-bomb", BOMB, GZIP, 413, "body.gzip-bomb"),
            ("gzip-bomb-undeclared", BOMB, {}, 413, "body.gzip-bomb"),
            ("gzip-bomb-of-members", MEMBERS, GZIP, 413, "body.gzip-bomb"),
            ("gzip-truncated", gzip.compress(b"<a/>" * 1000)[:-40], GZIP, 400, "body.gzip-invalid"),
            ("gzip-garbage", b"\x1f\x8b" + bytes(range(256)) * 8, GZIP, 400, "body.gzip-invalid"),
            (
                "brotli-refused",
                b"x" * 100,
                {"Content-Encoding": "br"},
                415,
                "body.unsupported-media-type",
            ),
        ]
    ],
)
def test_hostile_batch_upload_is_refused_cleanly(
    name: str,
    body: bytes,
    headers: dict[str, str],
    status: int,
    code: str,
    client: TestClient,
    sessions: sessionmaker[Session],
) -> None:
    _, token = f.make_centre(sessions)
    before = counts(sessions)
    memory = rss()
    response = _batch(client, token, body, **headers)
    assert_structured(response, status, frozenset({code}))
    assert rss() - memory < RSS_GROWTH
    assert counts(sessions) == before
    spool = client.app.state.gateway.settings.batch_spool_dir  # type: ignore[attr-defined]
    assert not spool.exists() or not any(spool.iterdir()), "a refused upload left a file"
    assert client.get("/healthz").status_code == 200
