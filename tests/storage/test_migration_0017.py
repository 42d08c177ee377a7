"""Migration 0017 (void and replace), up and down on SQLite and PostgreSQL, with documents
in the tables: VOIDED is admitted and frees the number; the searches' descending indexes
survive SQLite's rebuild; a downgrade is refused while a document is VOIDED."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import Engine, inspect, text
from sqlalchemy.exc import IntegrityError

from gateway.documents import service as documents
from gateway.kit.db import alembic_config, make_engine, session_factory, transaction, upgrade
from gateway.settings import Settings
from gateway.storage.models import Centre
from gateway.submissions import service as submissions
from tests import factories as f
from tests import services
from validators.schema import Format

SEARCH_INDEXES = (
    "ix_documents_status_service",
    "ix_documents_centre_service",
    "ix_documents_service",
)


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'migrations.sqlite'}"
        return
    services.require_postgres()
    with services.temporary_postgres_database() as database:
        yield database


def _ingest(engine: Engine, centre: Centre, number: str) -> tuple[str, str]:
    """Store one outpatient visit numbered ``number``: its id and status."""
    body = f.as_json(f.submission(centre.code, f.outpatient_visit(number=number)))
    settings = Settings(database_url=str(engine.url), clock_date=f.TODAY)
    with transaction(session_factory(engine)) as session:
        stored = submissions.ingest(
            session=session,
            centre=centre,
            body=body,
            fmt=Format.JSON,
            content_type="application/json",
            idempotency_key=None,
            max_documents=10,
            settings=settings,
        )
    (document,) = stored.documents
    return str(document.id), str(document.status)


def _descending(engine: Engine) -> bool:
    """Whether the searches' indexes keep their descending columns."""
    with engine.connect() as connection:
        if engine.dialect.name == "sqlite":
            rows = connection.execute(
                text("SELECT name, sql FROM sqlite_master WHERE type = 'index'")
            ).all()
        else:
            rows = connection.execute(
                text("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'documents'")
            ).all()
    found = {name: sql for name, sql in rows if name in SEARCH_INDEXES}
    return len(found) == len(SEARCH_INDEXES) and all(
        "service_date DESC" in sql for sql in found.values()
    )


def _number_key_condition(engine: Engine) -> str:
    (key,) = [
        index
        for index in inspect(engine).get_indexes("documents")
        if index["name"] == "uq_documents_centre_number_live"
    ]
    return str(key["dialect_options"].get(f"{engine.dialect.name}_where", ""))


def registry_of_0016(folder: Path) -> Path:
    """The sample registry's files that revision 0016 has tables for: later revisions add
    tables for further registry files (supplementary policies, referral lists)."""
    for name in ("centres.csv", "insured.csv"):
        (folder / name).write_bytes((f.SAMPLE_REGISTRY_DIR / name).read_bytes())
    return folder


def test_voided_documents_free_their_numbers_and_block_the_downgrade(
    url: str, tmp_path: Path
) -> None:
    upgrade(url, "0016")
    engine = make_engine(url)
    try:
        sessions = session_factory(engine)
        f.seed_sample_tariff(sessions, registry_of_0016(tmp_path))
        centre, _ = f.make_centre(sessions)
        document_id, status = _ingest(engine, centre, "KEEP-1")
        assert status == "ACCEPTED"
        engine.dispose()

        upgrade(url)
        assert _descending(engine)
        assert "VOIDED" in _number_key_condition(engine)
        with transaction(sessions) as session:
            documents.void(
                session,
                document_id=uuid.UUID(document_id),
                centre_id=centre.id,
                reason="entered twice",
                actor=f"centre:{centre.code}",
            )
        _, again = _ingest(engine, centre, "KEEP-1")
        assert again == "ACCEPTED"
        engine.dispose()

        with pytest.raises(RuntimeError, match="VOIDED"):
            command.downgrade(alembic_config(url), "0016")
        engine.dispose()
        assert "VOIDED" in _number_key_condition(engine)  # the refusal changed nothing
    finally:
        engine.dispose()


def test_down_to_0016_and_up_again(url: str, tmp_path: Path) -> None:
    upgrade(url)
    engine = make_engine(url)
    try:
        command.downgrade(alembic_config(url), "0016")
        engine.dispose()
        assert "VOIDED" not in _number_key_condition(engine)
        assert _descending(engine)
        sessions = session_factory(engine)
        f.seed_sample_tariff(sessions, registry_of_0016(tmp_path))
        centre, _ = f.make_centre(sessions)
        document_id, _ = _ingest(engine, centre, "DOWN-1")
        with pytest.raises(IntegrityError), engine.begin() as connection:
            connection.execute(
                text("UPDATE documents SET status = 'VOIDED' WHERE id = :id"),
                {
                    "id": document_id.replace("-", "")
                    if engine.dialect.name == "sqlite"
                    else document_id
                },
            )
        engine.dispose()
        upgrade(url)
        assert "VOIDED" in _number_key_condition(engine)
        assert _descending(engine)
    finally:
        engine.dispose()
