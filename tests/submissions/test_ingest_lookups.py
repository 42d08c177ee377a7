"""The API's group commit reads a group's stored services by index at any table size.

At a few thousand documents PostgreSQL found it cheaper to read every line of the wanted
dates and hash them than to follow the patients' documents to their lines; each group
then paid a read of the whole table (7 ms at 85,000 lines, growing with it). The plan is
checked here at that size, where the old statement went wrong, and its answer against the
ORM query's.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import psycopg
import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from gateway.kit.db import make_engine
from gateway.storage import repository
from tests import services

DOCUMENTS = 4_000
LINES = 25
PATIENTS = 2_000
FIRST_DAY = date(2026, 9, 1)
SIZES = {"documents": DOCUMENTS, "lines": LINES, "patients": PATIENTS, "first_day": FIRST_DAY}

FILL = [
    "SET session_replication_role = replica",  # no foreign-key triggers: rows are consistent
    "INSERT INTO centres (id, code, name, kind, sector, created_at)"
    " VALUES (1, 'C1', 'Centre 1', 'contracted', 'private', now())",
    "INSERT INTO submissions (id, centre_id, format, received_at, document_count,"
    " accepted_count, rejected_count)"
    " SELECT md5('s' || g)::uuid, 1, 'xml', now(), 1, 1, 0"
    " FROM generate_series(0, :documents - 1) g",
    "INSERT INTO documents (id, submission_id, centre_id, ordinal, kind, external_id, status,"
    " source_path, patient_national_id, insurance_number, physician_number, physician_grade,"
    " service_date, total_amount, requested_amount, problems, created_at, updated_at)"
    " SELECT md5('d' || g)::uuid, md5('s' || g)::uuid, 1, 0, 'outpatientVisit', 'N' || g,"
    " CASE WHEN g % 20 = 0 THEN 'REJECTED' ELSE 'ACCEPTED' END, '/',"
    " lpad((g % :patients)::text, 10, '0'), '12345678', '123', 'general',"
    " CAST(:first_day AS date) + g % 80, 100000, 100000, '[]', now(), now()"
    " FROM generate_series(0, :documents - 1) g",
    "INSERT INTO document_lines (document_id, line_no, code_type, code, service_date,"
    " quantity, unit_price, amount)"
    " SELECT md5('d' || g)::uuid, l, 'service', 'S' || (g + l) % 300,"
    " CAST(:first_day AS date) + g % 80, 1, 50000, 50000"
    " FROM generate_series(0, :documents - 1) g, generate_series(1, :lines) l",
]


@pytest.fixture(scope="module")
def filled() -> Iterator[Engine]:
    with services.migrated_postgres_database() as url:
        engine = make_engine(url)
        with engine.begin() as connection:
            for statement in FILL:
                connection.execute(text(statement), SIZES)
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("VACUUM (ANALYZE) documents, document_lines"))
        yield engine
        engine.dispose()


def group() -> repository.CentreLookup:
    """What a group of 16 one-document submissions asks: 16 patients, 15 days."""
    patients = {f"{p:010d}" for p in range(1, 1_600, 100)}
    days = {FIRST_DAY + timedelta(days=d) for d in range(1, 76, 5)}
    return repository.CentreLookup(set(), patients, days)


def nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", ()):
        yield from nodes(child)


def test_stored_services_follow_the_patients_documents(filled: Engine) -> None:
    wanted = group()
    with filled.connect() as connection:
        raw = connection.connection.dbapi_connection
        assert isinstance(raw, psycopg.Connection)
        row = raw.execute(
            "EXPLAIN (FORMAT JSON) " + repository._SERVICES_SQL,
            [list(wanted.dates), list(wanted.national_ids), ["REJECTED", "VOIDED"]],
        ).fetchone()
        assert row is not None
    plan = row[0][0]["Plan"]
    read_whole = [n["Relation Name"] for n in nodes(plan) if n["Node Type"] == "Seq Scan"]
    assert read_whole == [], plan


def test_the_group_read_finds_what_the_orm_query_finds(filled: Engine) -> None:
    wanted = group()
    with Session(filled) as session:
        grouped = repository.ingest_lookups(session, wanted.national_ids, {1: wanted})
        one_by_one = repository.stored_services(session, wanted.national_ids, wanted.dates)
    assert grouped.services[1] == one_by_one
    assert len(one_by_one) > 100  # the patients have lines on those days
