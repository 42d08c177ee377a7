"""Rules the database itself enforces, whatever the code does."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError

from gateway.kit.db import transaction
from gateway.storage.models import Document, StatusEvent
from tests import factories as f


def _document_id(client, sessions) -> uuid.UUID:
    centre, token = f.make_centre(sessions)
    answer = client.post(
        "/v1/submissions",
        content=f.as_json(f.submission(centre.code)),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    ).json()
    return uuid.UUID(answer["documents"][0]["id"])


@pytest.mark.parametrize(
    ("src", "dst"), [("ACCEPTED", "PAID"), ("REJECTED", "ACCEPTED"), (None, "PRICED")]
)
def test_history_refuses_moves_the_lifecycle_forbids(client, sessions, src, dst) -> None:
    document_id = _document_id(client, sessions)
    with pytest.raises(IntegrityError), transaction(sessions) as session:
        session.add(
            StatusEvent(
                document_id=document_id,
                from_status=src,
                to_status=dst,
                actor="test",
                reason="forbidden",
            )
        )


def test_status_must_be_a_known_one(client, sessions) -> None:
    document_id = _document_id(client, sessions)
    with pytest.raises(IntegrityError), transaction(sessions) as session:
        session.execute(update(Document).where(Document.id == document_id).values(status="LOST"))


def test_a_live_document_number_is_unique_per_centre(client, sessions) -> None:
    document_id = _document_id(client, sessions)
    with sessions() as session:
        original = session.get_one(Document, document_id)
        values = {c.key: getattr(original, c.key) for c in Document.__table__.columns}
    values["id"] = uuid.uuid4()
    with pytest.raises(IntegrityError), transaction(sessions) as session:
        session.add(Document(**values))
    values["id"], values["status"] = uuid.uuid4(), "REJECTED"
    with transaction(sessions) as session:  # a rejected attempt may repeat the number
        session.add(Document(**values))
