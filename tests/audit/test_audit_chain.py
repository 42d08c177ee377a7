"""The audit chain catches each kind of tampering, on its own fresh database (SQLite and
PostgreSQL), through `gateway audit verify`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from gateway.audit import chain as audit
from gateway.cli import app
from gateway.kit.db import engine_for, session_factory, transaction, upgrade
from gateway.settings import get_settings
from gateway.storage.models import AuditEntry
from tests import services

runner = CliRunner()


@pytest.fixture(params=["sqlite", "postgresql"])
def chain(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[sessionmaker[Session]]:
    """A fresh database holding a chain of ten entries."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'audit.sqlite'}"
        context = None
    else:
        if not services.postgres_reachable():
            pytest.skip("PostgreSQL unreachable: test skipped")
        context = services.temporary_postgres_database()
        url = context.__enter__()
    try:
        upgrade(url)
        sessions = session_factory(engine_for(url))
        with transaction(sessions) as session:
            audit.append(
                session,
                [
                    audit.Record("auditor:1", "review.line", "document", f"d{n}", {"n": n})
                    for n in range(1, 11)
                ],
            )
        monkeypatch.setenv("GATEWAY_DATABASE_URL", url)
        get_settings.cache_clear()
        yield sessions
    finally:
        get_settings.cache_clear()
        engine_for(url).dispose()
        if context is not None:
            context.__exit__(None, None, None)


def verify_cli() -> tuple[int, str]:
    result = runner.invoke(app, ["audit", "verify"])
    return result.exit_code, " ".join((result.stdout + result.stderr).split())


def test_an_intact_chain_verifies(chain) -> None:
    code, said = verify_cli()
    assert (code, said) == (0, "audit chain intact: 10 entries")


def test_an_edited_entry_is_named(chain) -> None:
    with transaction(chain) as session:
        session.execute(update(AuditEntry).where(AuditEntry.seq == 4).values(details={"n": 400}))
    code, said = verify_cli()
    assert code == 1
    assert "broken at entry 4" in said
    assert "edited" in said


def test_an_edited_actor_is_named(chain) -> None:
    with transaction(chain) as session:
        session.execute(update(AuditEntry).where(AuditEntry.seq == 7).values(actor="someone"))
    assert "broken at entry 7" in verify_cli()[1]


def test_a_deleted_entry_is_named(chain) -> None:
    with transaction(chain) as session:
        session.execute(delete(AuditEntry).where(AuditEntry.seq == 5))
    code, said = verify_cli()
    assert code == 1
    assert "entry 5 is missing" in said


def test_a_deleted_tail_is_named(chain) -> None:
    with transaction(chain) as session:
        session.execute(delete(AuditEntry).where(AuditEntry.seq >= 9))
    code, said = verify_cli()
    assert code == 1
    assert "entries after 8 were deleted" in said


def test_reordered_entries_are_named(chain) -> None:
    """Swap two entries' places (their sequence numbers), keeping each row's own hash."""
    with transaction(chain) as session:
        session.execute(update(AuditEntry).where(AuditEntry.seq == 3).values(seq=-3))
        session.execute(update(AuditEntry).where(AuditEntry.seq == 6).values(seq=3))
        session.execute(update(AuditEntry).where(AuditEntry.seq == -3).values(seq=6))
    code, said = verify_cli()
    assert code == 1
    assert "broken at entry 3" in said
    assert "reordered or inserted" in said


def test_a_rehashed_forgery_is_still_caught_by_its_successor(chain) -> None:
    """Editing an entry and recomputing its own hash breaks the next entry's link."""
    with transaction(chain) as session:
        entry = session.scalars(select(AuditEntry).where(AuditEntry.seq == 2)).one()
        entry.details = {"n": 200}
        entry.hash = audit.link_hash(
            entry.prev_hash,
            seq=entry.seq,
            at=entry.at,
            actor=entry.actor,
            action=entry.action,
            subject_type=entry.subject_type,
            subject_id=entry.subject_id,
            details=entry.details,
        )
    code, said = verify_cli()
    assert code == 1
    assert "broken at entry 3" in said
