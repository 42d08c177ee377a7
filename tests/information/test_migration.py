"""Migration 0018 goes up over a database holding documents, down to its parent and up
again, on SQLite and PostgreSQL: the documents stay, the tables come and go, the checks
follow."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from fastapi.testclient import TestClient
from sqlalchemy import inspect, text

from gateway.app import create_app
from gateway.kit.db import alembic_config, engine_for, session_factory, upgrade
from gateway.settings import Settings
from tests import factories as f
from tests import services
from tests.information.helpers import answer, ask, png, under_review
from tests.migrations import parent_of
from tests.submissions.test_submissions import auth

PARENT = parent_of("0018")
TABLES = {
    "information_requests",
    "information_answers",
    "attachments",
    "information_answer_attachments",
}


@pytest.fixture(params=["sqlite", "postgresql"])
def url_at_parent(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'migration.sqlite'}"
        upgrade(url, PARENT)
        yield url
        engine_for(url).dispose()
        return
    services.require_postgres()
    with services.temporary_postgres_database() as url:
        upgrade(url, PARENT)
        yield url
        engine_for(url).dispose()


def _client(url: str, tmp_path: Path) -> TestClient:
    settings = Settings(
        database_url=url,
        broker_url=f"sqla+sqlite:///{tmp_path / 'broker.sqlite'}",
        clock_date=f.TODAY,
        batch_spool_dir=tmp_path / "spool",
    )
    return TestClient(create_app(settings, relay=False))


def _descending(url: str) -> bool:
    """Whether the search indexes keep their DESC order (SQLite rebuilds the table)."""
    engine = engine_for(url)
    if engine.dialect.name != "sqlite":
        return True
    with engine.connect() as connection:
        sql = connection.scalar(
            text("SELECT sql FROM sqlite_master WHERE name = 'ix_documents_status_service'")
        )
    return "service_date DESC" in str(sql)


def test_up_down_and_up_again_over_documents(url_at_parent: str, tmp_path: Path) -> None:
    url = url_at_parent
    sessions = session_factory(engine_for(url))
    f.seed_sample_tariff(sessions)
    # Documents made before the migration, by the code of before (no information tables).
    with _client(url, tmp_path) as client:
        _, token, auditor, waiting = under_review(client, sessions)
    upgrade(url)
    assert set(inspect(engine_for(url)).get_table_names()) >= TABLES
    assert _descending(url)
    with _client(url, tmp_path) as client:
        assert ask(client, auditor, waiting).status_code == 201
        assert answer(client, token, waiting, [("a.png", png(5), "image/png")]).status_code == 201
        document = client.get(f"/v1/documents/{waiting}", headers=auth(auditor)).json()
    assert document["status"] == "UNDER_REVIEW"

    command.downgrade(alembic_config(url), PARENT)
    engine_for(url).dispose()
    assert not TABLES & set(inspect(engine_for(url)).get_table_names())
    assert _descending(url)
    with engine_for(url).connect() as connection:
        status = connection.scalar(
            text("SELECT status FROM documents WHERE id = :id"),
            {"id": waiting.replace("-", "") if url.startswith("sqlite") else waiting},
        )
    assert status == "UNDER_REVIEW"

    upgrade(url)
    with _client(url, tmp_path) as client:
        assert ask(client, auditor, waiting).status_code == 201
        listed = client.get(f"/v1/documents/{waiting}/information-requests", headers=auth(token))
        # Every move of before is still admitted: a new document is born, priced, reviewed.
        _, _, _, later = under_review(client, sessions)
        assert ask(client, auditor, later).status_code == 201
    assert [r["status"] for r in listed.json()] == ["open"]
