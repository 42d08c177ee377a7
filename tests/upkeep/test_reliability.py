"""Stuck work is re-queued; dead letters are kept, listed and replayed."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from typer.testing import CliRunner

from gateway.audit import chain as audit
from gateway.cli import app
from gateway.kit.db import transaction
from gateway.settings import get_settings
from gateway.storage.models import DeadLetter, Document, OutboxMessage
from gateway.upkeep import deadletters, sweeper
from tests import factories as f
from tests.submissions.test_submissions import JSON, auth

runner = CliRunner()
LONG_AGO = datetime(2000, 1, 1, tzinfo=UTC)


def test_a_document_left_accepted_is_requeued_once_per_threshold(
    client: TestClient, sessions
) -> None:
    centre, token = f.make_centre(sessions)
    answer = client.post(
        "/v1/submissions", content=f.as_json(f.submission(centre.code)), headers=auth(token, JSON)
    ).json()
    document_id = uuid.UUID(answer["documents"][0]["id"])
    with transaction(sessions) as session:
        session.execute(
            update(Document).where(Document.id == document_id).values(updated_at=LONG_AGO)
        )
    now = datetime.now(UTC)
    with transaction(sessions) as session:
        first = sweeper.sweep(session, stuck_after=timedelta(days=3650), now=now)
    with transaction(sessions) as session:
        again = sweeper.sweep(session, stuck_after=timedelta(days=3650), now=now)
    assert first.documents >= 1
    assert again.documents == 0  # touched: it waits a whole threshold before the next try
    with sessions() as session:
        payloads = session.scalars(
            select(OutboxMessage.payload).where(OutboxMessage.task == sweeper.PRICE_DOCUMENTS)
        ).all()
    assert any(str(document_id) in p.get("document_ids", []) for p in payloads)


def test_dead_letters_are_listed_and_replayed_through_the_outbox(
    sessions, settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    marker = uuid.uuid4().hex
    with transaction(sessions) as session:
        letter = deadletters.record(
            session,
            task="gateway.price_documents",
            task_id=f"outbox-{marker}",
            payload={"document_ids": [marker]},
            error="ValueError: badly formed hexadecimal UUID string",
            retries=0,
        )
        letter_id = letter.id
    monkeypatch.setenv("GATEWAY_DATABASE_URL", settings.database_url)
    get_settings.cache_clear()
    try:
        listed = runner.invoke(app, ["dlq", "list", "--limit", "100000"])
        assert listed.exit_code == 0
        assert marker in listed.stdout
        replayed = runner.invoke(app, ["dlq", "replay", str(letter_id)])
        assert replayed.exit_code == 0, replayed.stderr
        assert "1 message(s) queued again" in replayed.stdout
        twice = runner.invoke(app, ["dlq", "replay", str(letter_id)])
        assert twice.exit_code == 1  # no longer open
    finally:
        get_settings.cache_clear()
    with sessions() as session:
        found = session.get_one(DeadLetter, letter_id)
        assert found.replayed_at is not None
        assert found.replayed_by == "cli"
        requeued = session.scalars(
            select(OutboxMessage).where(OutboxMessage.task == "gateway.price_documents")
        ).all()
        assert any(m.payload == {"document_ids": [marker]} for m in requeued)
        entries = audit.entries_for(session, "dead_letter", [str(letter_id)])
        assert [e.action for e in entries] == ["deadletter.replay"]


def test_published_outbox_messages_are_deleted_after_the_keep_period(sessions) -> None:
    now = datetime.now(UTC)
    with transaction(sessions) as session:
        for published, marker in [
            (now - timedelta(days=8), "old"),
            (now - timedelta(days=6), "recent"),
            (None, "unpublished"),
        ]:
            session.add(
                OutboxMessage(
                    task="t", payload={"m": marker}, created_at=LONG_AGO, published_at=published
                )
            )
    with transaction(sessions) as session:
        assert sweeper.prune_outbox(session, keep=timedelta(days=7), now=now) >= 1
    with transaction(sessions) as session:
        assert sweeper.prune_outbox(session, keep=timedelta(days=7), now=now) == 0
    with sessions() as session:
        left = {p.get("m") for p in session.scalars(select(OutboxMessage.payload))}
    assert {"recent", "unpublished"} <= left
    assert "old" not in left
