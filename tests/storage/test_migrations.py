"""Migrations go up to head, down to 0007 and up again on SQLite and PostgreSQL, keeping
the audit chain whole; on PostgreSQL the append-only tables are partitioned by month and
months are made ahead, taking the rows the default partition held for them."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import Engine, func, inspect, select, text

from gateway.audit import chain as audit
from gateway.kit.db import (
    MIGRATIONS_DIR,
    alembic_config,
    make_engine,
    session_factory,
    transaction,
    upgrade,
)
from gateway.storage.models import AuditEntry
from gateway.upkeep import partitions
from tests import services

NEW_INDEXES = {
    "documents": {"ix_documents_status_service", "ix_documents_awaiting_pricing"},
    "webhook_deliveries": {"ix_webhook_deliveries_webhook"},
    "outbox": {"ix_outbox_unpublished"},
}
NEW_TABLES = {"login_throttles"}


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'migrations.sqlite'}"
        return
    services.require_postgres()
    with services.temporary_postgres_database() as database:
        yield database


def _append(engine: Engine, count: int, at: datetime | None = None) -> None:
    with transaction(session_factory(engine)) as session:
        audit.append(
            session,
            [
                audit.Record("test", "test.action", "thing", str(n), {"n": n}, at)
                for n in range(count)
            ],
        )


def _verified(engine: Engine) -> int:
    with session_factory(engine)() as session:
        verdict = audit.verify(session)
    assert verdict.ok, verdict
    return verdict.checked


def _indexes(engine: Engine, table: str) -> set[str]:
    return {index["name"] or "" for index in inspect(engine).get_indexes(table)}


def _is_partitioned(engine: Engine, table: str) -> bool:
    if engine.dialect.name != "postgresql":
        return False
    with engine.connect() as connection:
        query = text("SELECT count(*) FROM pg_partitioned_table WHERE partrelid = to_regclass(:t)")
        return bool(connection.scalar(query, {"t": table}))


def _body_compression(engine: Engine) -> str | None:
    """The raw body column's compression method on PostgreSQL ('' for the default)."""
    if engine.dialect.name != "postgresql":
        return None
    with engine.connect() as connection:
        query = text(
            "SELECT attcompression FROM pg_attribute"
            " WHERE attrelid = 'raw_payloads'::regclass AND attname = 'body'"
        )
        return str(connection.scalar(query) or "")


def test_up_down_and_up_again_keep_the_audit_chain(url: str) -> None:
    upgrade(url, "0007")
    engine = make_engine(url)
    try:
        _append(engine, 30)
        upgrade(url)
        for table, names in NEW_INDEXES.items():
            assert names <= _indexes(engine, table)
        postgresql = engine.dialect.name == "postgresql"
        assert all(_is_partitioned(engine, t) == postgresql for t in partitions.PARTITIONED)
        assert _body_compression(engine) == ("l" if postgresql else None)
        assert set(inspect(engine).get_table_names()) >= NEW_TABLES
        assert _verified(engine) == 30
        _append(engine, 5)

        command.downgrade(alembic_config(url), "0007")
        for table, names in NEW_INDEXES.items():
            assert not names & _indexes(engine, table)
        assert not any(_is_partitioned(engine, t) for t in partitions.PARTITIONED)
        assert _body_compression(engine) in ("", None)
        assert not NEW_TABLES & set(inspect(engine).get_table_names())
        assert _verified(engine) == 35
        _append(engine, 5)

        upgrade(url)
        assert _verified(engine) == 40
        _append(engine, 5)
        assert _verified(engine) == 45
    finally:
        engine.dispose()


def test_months_made_ahead_take_the_rows_the_default_partition_held(url: str) -> None:
    upgrade(url)
    engine = make_engine(url)
    try:
        later = datetime.now(UTC).replace(day=15) + timedelta(days=31 * 9)
        _append(engine, 3, at=later)  # no partition for that month yet: the default takes them
        with transaction(session_factory(engine)) as session:
            made = partitions.ensure_months(session, now=later, months_ahead=1)
            again = partitions.ensure_months(session, now=later, months_ahead=1)
            found = {p.name: p for p in partitions.partitions(session)}
            by_partition = {}
            if engine.dialect.name == "postgresql":
                query = text("SELECT tableoid::regclass::text, count(*) FROM audit_log GROUP BY 1")
                by_partition = dict(session.execute(query).all())
            total = session.scalar(select(func.count()).select_from(AuditEntry))
        assert total == 3
        assert _verified(engine) == 3
        if engine.dialect.name != "postgresql":
            assert (made, again, found) == (0, 0, {})
            return
        month = f"audit_log_y{later:%Y}m{later:%m}"
        assert (made, again) == (2 * len(partitions.PARTITIONED), 0)
        assert month in found
        assert found["audit_log_default"].bounds == "DEFAULT"
        assert by_partition == {month: 3}
    finally:
        engine.dispose()


def test_review_details_written_before_0015_name_the_role() -> None:
    """Migration 0015 rewrites "reduce by user:NAME: note" to "reduce by ROLE: note"."""
    path = MIGRATIONS_DIR / "versions" / "0015_review_details_by_role.py"
    spec = importlib.util.spec_from_file_location("migration_0015", path)
    assert spec
    assert spec.loader
    migration = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(migration)
    roles = {"ali": "auditor", "ali: b": "finance", "sara": "auditor"}
    cases = {
        "reduce by user:sara: one is enough": "reduce by auditor: one is enough",
        "deny by user:sara": "deny by auditor",
        "reduce by user:ali: b: note": "reduce by finance: note",  # the longest name wins
        "reduce by user:ali: note": "reduce by auditor: note",
        "deny by user:gone: note": "deny by staff: note",  # no longer on the books
        "deny by user:gone": "deny by staff",
        "reduce by auditor:12: note": "reduce by auditor: note",  # a staff token
        "reduce by finance:3": "reduce by finance",
        "reduce by auditor: already fine": "reduce by auditor: already fine",
        "capped at the tariff": "capped at the tariff",
    }
    assert {old: migration.by_role(old, roles) for old in cases} == cases


def _number_key(engine: Engine) -> list[str]:
    (key,) = [
        index
        for index in inspect(engine).get_indexes("documents")
        if index["name"] == "uq_documents_centre_number_live"
    ]
    return [str(column) for column in key["column_names"]]


def test_the_number_key_takes_the_identifier_system_and_gives_it_back(url: str) -> None:
    upgrade(url)
    engine = make_engine(url)
    try:
        assert _number_key(engine) == ["centre_id", "external_id", "identifier_system"]
        command.downgrade(alembic_config(url), "0015")
        engine.dispose()
        columns = {c["name"] for c in inspect(engine).get_columns("documents")}
        assert "identifier_system" not in columns
        assert _number_key(engine) == ["centre_id", "external_id"]
        upgrade(url)
        engine.dispose()
        assert _number_key(engine) == ["centre_id", "external_id", "identifier_system"]
    finally:
        engine.dispose()
