"""Migration 0021 goes up and down on SQLite and PostgreSQL, and its tables match the
models; on PostgreSQL the ledger's triggers refuse an unbalanced or edited entry."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.exc import DBAPIError

from gateway.kit.db import alembic_config, make_engine, upgrade
from gateway.storage.models import Base
from tests import services
from tests.migrations import parent_of

TABLES = {
    "supplementary_policies",
    "charity_programmes",
    "charity_enrolments",
    "ledger_accounts",
    "donations",
    "ledger_transfers",
    "ledger_entries",
}


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'migrations.sqlite'}"
        return
    services.require_postgres()
    with services.temporary_postgres_database() as database:
        yield database


def _payer_diffs(engine) -> list[object]:  # type: ignore[no-untyped-def]
    with engine.connect() as connection:
        diffs = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    named = []
    for diff in diffs:
        text_ = repr(diff)
        if any(table in text_ for table in TABLES) or "fund_amount" in text_:
            named.append(diff)
    return named


def test_payers_tables_go_up_and_down(url: str) -> None:
    upgrade(url)
    engine = make_engine(url)
    try:
        assert set(inspect(engine).get_table_names()) >= TABLES
        assert _payer_diffs(engine) == []
        command.downgrade(alembic_config(url), parent_of("0021"))
        engine.dispose()
        assert not TABLES & set(inspect(engine).get_table_names())
        columns = {c["name"] for c in inspect(engine).get_columns("payment_orders")}
        assert "fund_amount" not in columns
        upgrade(url)
        engine.dispose()
        assert set(inspect(engine).get_table_names()) >= TABLES
    finally:
        engine.dispose()


def test_postgres_refuses_unbalanced_and_edited_entries() -> None:
    services.require_postgres()
    with services.temporary_postgres_database() as url:
        upgrade(url)
        engine = make_engine(url)
        try:
            with engine.begin() as db:
                db.execute(
                    text(
                        "INSERT INTO ledger_accounts (id, code, kind, floor_zero, debits, credits,"
                        " created_at) VALUES (1, 'a', 'x', false, 0, 0, now()),"
                        " (2, 'b', 'x', false, 0, 0, now())"
                    )
                )
                db.execute(
                    text(
                        "INSERT INTO ledger_transfers (id, key, kind, payer_account_id, note,"
                        " actor, created_at) VALUES (1, 'k', 'split', 1, '', 't', now())"
                    )
                )
            with pytest.raises(DBAPIError, match="does not balance"), engine.begin() as db:
                db.execute(
                    text(
                        "INSERT INTO ledger_entries (transfer_id, account_id, debit, credit)"
                        " VALUES (1, 1, 5, 0), (1, 2, 0, 4)"
                    )
                )
            with engine.begin() as db:
                db.execute(
                    text(
                        "INSERT INTO ledger_entries (transfer_id, account_id, debit, credit)"
                        " VALUES (1, 1, 5, 0), (1, 2, 0, 5)"
                    )
                )
            with pytest.raises(DBAPIError, match="append-only"), engine.begin() as db:
                db.execute(text("UPDATE ledger_entries SET debit = 6 WHERE debit = 5"))
            with pytest.raises(DBAPIError, match="append-only"), engine.begin() as db:
                db.execute(text("DELETE FROM ledger_transfers"))
        finally:
            engine.dispose()
