"""A task the real worker gives up on becomes a dead letter, which the CLI lists and
replays through the outbox and the real broker."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid

import pytest
from sqlalchemy import Text, cast, select

from gateway.kit.db import transaction
from gateway.storage.models import DeadLetter, OutboxMessage, utcnow
from tests import services
from tests.integration.conftest import Stack

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("integration")]


def _letters(stack: Stack, marker: str) -> list[DeadLetter]:
    with stack.sessions()() as session:
        return list(
            session.scalars(
                select(DeadLetter).where(cast(DeadLetter.payload, Text).contains(marker))
            )
        )


def _wait_letters(stack: Stack, marker: str, count: int) -> list[DeadLetter]:
    deadline = time.monotonic() + services.WAIT_S
    while True:
        found = _letters(stack, marker)
        if len(found) >= count:
            return found
        waited = f"{len(found)} of {count} dead letters of {marker} after {services.WAIT_S:.0f} s"
        assert time.monotonic() < deadline, f"{waited}\n{stack.logs()}"
        time.sleep(0.3)


def test_a_poison_message_is_dead_lettered_and_replayable(stack: Stack) -> None:
    marker = f"poison-{uuid.uuid4().hex}"
    with transaction(stack.sessions()) as session:
        session.add(
            OutboxMessage(
                task="gateway.price_documents",
                payload={"document_ids": [marker]},  # not a UUID: no retry can mend it
                created_at=utcnow(),
            )
        )
    (letter,) = _wait_letters(stack, marker, 1)
    assert letter.task == "gateway.price_documents"
    assert "ValueError" in letter.error
    gateway = [sys.executable, "-m", "gateway"]
    run = {
        "env": stack.env,
        "capture_output": True,
        "text": True,
        "timeout": services.WAIT_S,
        "check": False,
    }
    listed = subprocess.run([*gateway, "dlq", "list", "--limit", "100000"], **run)  # type: ignore[call-overload]
    assert marker in listed.stdout
    replayed = subprocess.run([*gateway, "dlq", "replay", str(letter.id)], **run)  # type: ignore[call-overload]
    assert replayed.returncode == 0, replayed.stderr
    # Replayed through the outbox, the broker and the worker: it fails again, visibly.
    letters = _wait_letters(stack, marker, 2)
    assert len(letters) == 2, stack.logs()
    assert letters[0].replayed_at is not None
    assert letters[1].replayed_at is None
