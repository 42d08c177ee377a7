"""Dead letters: tasks that failed for good, kept for operators to inspect and replay.

A task lands here when Celery gives up on it (its retries are exhausted, or it raised an
error that no retry can mend). Replaying writes the same message to the outbox, so the
relay publishes it like any other; consumers are idempotent, so a replay of work that was
in fact done is harmless.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.orm import Session

from gateway.audit import chain as audit
from gateway.errors import GatewayError, NotFoundError
from gateway.storage.models import DeadLetter, OutboxMessage, utcnow
from gateway.upkeep import repository as store

MAX_ERROR = 4000


def record(
    session: Session, *, task: str, task_id: str, payload: dict[str, Any], error: str, retries: int
) -> DeadLetter:
    letter = DeadLetter(
        task=task, task_id=task_id, payload=payload, error=error[:MAX_ERROR], retries=retries
    )
    session.add(letter)
    session.flush()
    return letter


def open_letters(session: Session, limit: int = 100) -> Sequence[DeadLetter]:
    return store.open_letters(session, limit)


def count_open(session: Session) -> int:
    return store.count_open_letters(session)


def replay(session: Session, letter_ids: Sequence[int] | None, actor: str) -> list[int]:
    """Queue these dead letters again (all open ones when ``letter_ids`` is None); returns
    the outbox ids written."""
    letters = store.lock_open_letters(session, letter_ids)
    if letter_ids is not None:
        missing = sorted(set(letter_ids) - {letter.id for letter in letters})
        if missing:
            raise NotFoundError(f"Open dead letter(s) {missing}")
    if not letters:
        raise GatewayError("No open dead letters to replay.", 404)
    now = utcnow()
    outbox = []
    for letter in letters:
        message = OutboxMessage(task=letter.task, payload=letter.payload, created_at=now)
        session.add(message)
        letter.replayed_at = now
        letter.replayed_by = actor
        outbox.append(message)
    session.flush()
    audit.append(
        session,
        [
            audit.Record(
                actor, "deadletter.replay", "dead_letter", str(letter.id), {"task": letter.task}
            )
            for letter in letters
        ],
    )
    return [message.id for message in outbox]
