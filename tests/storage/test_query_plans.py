"""Every query centres, auditors and the workers run uses an index on a PostgreSQL database
of a few million rows, and time-bounded reads of the monthly partitions touch one month.

The rows are made by INSERT ... SELECT generate_series (foreign-key triggers off: they are
consistent by construction); then ANALYZE and VACUUM, as autovacuum would leave them. The
queries are the ones the gateway's own functions send: each statement is caught on its way
to the database, EXPLAINed (FORMAT JSON) with its parameters, then run and timed. Writes
run in transactions that are rolled back. Run with -s to see the table of plans.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, event, text
from sqlalchemy.orm import Session

from gateway.audit import chain as audit
from gateway.batches import repository as batches
from gateway.documents import repository as documents
from gateway.documents.view import document_view
from gateway.domain.review import ReviewAction, ReviewReason
from gateway.eligibility import repository as eligibility
from gateway.kit.db import make_engine, session_factory
from gateway.pricing import repository as pricing
from gateway.review import service as reviews
from gateway.settlement import service as settlement
from gateway.storage import repository
from gateway.storage.models import Batch
from gateway.submissions import repository as submissions
from gateway.upkeep import deadletters, sweeper
from gateway.upkeep import gauges as observe
from gateway.upkeep import repository as signals
from gateway.webhooks import repository as hooks
from tests import services

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("query-plans")]

DOCUMENTS = 300_000
SMALL = 10_000  # a relation with fewer rows may be read whole
FIRST_DAY = date(2025, 1, 1)
FILLED_UNTIL = datetime(2027, 1, 2, tzinfo=UTC)  # rows arrive over 730 days from 2025-01-02

FILL = [
    "SET session_replication_role = replica",  # no foreign-key triggers: rows are consistent
    "SET synchronous_commit = off",
    "SELECT gateway_month_partitions(t, '2025-01-01', now() + interval '3 months')"
    " FROM unnest(ARRAY['status_events', 'audit_log', 'webhook_deliveries']) t",
    "INSERT INTO centres (id, code, name, kind, sector, created_at)"
    " SELECT g, 'C' || g, 'Centre ' || g, 'contracted', 'private', now()"
    " FROM generate_series(1, 200) g",
    "INSERT INTO tariff_versions (id, label, sha256, imported_at)"
    " VALUES (1, 'plans', repeat('0', 64), now())",
    "INSERT INTO submissions (id, centre_id, format, received_at, document_count,"
    " accepted_count, rejected_count, idempotency_key)"
    " SELECT md5('s' || g)::uuid, 1 + g % 200, 'xml',"
    " timestamptz '2025-01-02' + g * (interval '730 days' / (:docs / 10)), 10, 10, 0, 'k' || g"
    " FROM generate_series(0, :docs / 10 - 1) g",
    "INSERT INTO raw_payloads (submission_id, content_type, sha256, size, body)"
    " SELECT id, 'application/xml', repeat('0', 64), 4, '\\x3c613e00' FROM submissions",
    "INSERT INTO payment_orders (id, centre_id, period, status, documents, requested_amount,"
    " eligible_amount, deduction_amount, deductions_by_reason, copayment_amount,"
    " insurer_amount, closed_by, closed_at, paid_at, payment_reference)"
    " SELECT c * 100 + m, c, to_char(date '2025-01-01' + m * interval '1 month', 'YYYY-MM'),"
    " 'paid', 0, 0, 0, 0, '{}', 0, 0, 'plans', now(), now(), 'R'"
    " FROM generate_series(1, 200) c, generate_series(0, 23) m",
    # Statuses as a settled history looks: most paid, 2% under review, 0.1% awaiting pricing.
    "INSERT INTO documents (id, submission_id, centre_id, ordinal, kind, external_id, status,"
    " source_path, patient_national_id, insurance_number, physician_number, physician_grade,"
    " service_date, total_amount, requested_amount, problems, eligible_amount,"
    " deduction_amount, copayment_amount, insurer_amount, created_at, updated_at,"
    " tariff_version_id, payment_order_id)"
    " SELECT md5('d' || g)::uuid, md5('s' || (g / 10))::uuid, 1 + (g / 10) % 200, g % 10,"
    " 'outpatientVisit', 'N' || g, s.status, '/',"
    " lpad((g::bigint * 7919 % 200000)::text, 10, '0'), '12345678', '123', 'general',"
    " date '2025-01-01' + (g * 730 / :docs), 100000 + g % 5000 * 100, 100000 + g % 5000 * 100,"
    " '[]', 90000, 10000, 9000, 81000,"
    " timestamptz '2025-01-02' + g * (interval '730 days' / :docs),"
    " timestamptz '2025-01-03' + g * (interval '730 days' / :docs), 1,"
    " CASE WHEN s.status = 'PAID' THEN (1 + (g / 10) % 200) * 100 + g * 24 / :docs END"
    " FROM generate_series(0, :docs - 1) g, LATERAL (SELECT CASE"
    "  WHEN g % 100 < 2 THEN 'UNDER_REVIEW' WHEN g % 1000 = 2 THEN 'ACCEPTED'"
    "  WHEN g % 100 < 4 THEN 'APPROVED' WHEN g % 100 < 6 THEN 'REJECTED'"
    "  WHEN g % 100 < 7 THEN 'DENIED' ELSE 'PAID' END AS status) s",
    "INSERT INTO document_lines (document_id, line_no, code_type, code, service_date,"
    " quantity, unit_price, amount)"
    " SELECT md5('d' || g)::uuid, l, 'service', 'S' || (g + l) % 900,"
    " date '2025-01-01' + (g * 730 / :docs), 1, 50000, 50000"
    " FROM generate_series(0, :docs - 1) g, generate_series(1, 2) l",
    "INSERT INTO line_pricings (line_id, document_id, tariff_version_id, requested_amount,"
    " eligible_amount, deduction_amount, copayment_amount, insurer_amount, explanation)"
    " SELECT id, document_id, 1, 50000, 45000, 5000, 4500, 40500, '' FROM document_lines",
    "INSERT INTO line_deductions (line_id, document_id, reason, amount, detail)"
    " SELECT id, document_id, CASE WHEN id % 500 = 0 THEN 'review:rare' ELSE 'quantity' END,"
    " 5000, '' FROM document_lines WHERE id % 5 = 0",
    "INSERT INTO status_events (document_id, from_status, to_status, actor, reason,"
    " created_at)"
    " SELECT md5('d' || g)::uuid, NULLIF(m[s], ''), m[s + 1], 'plans', '',"
    " timestamptz '2025-01-02' + g * (interval '730 days' / :docs) + s * interval '1 day'"
    " FROM generate_series(0, :docs - 1) g, generate_series(1, 3) s,"
    " (SELECT ARRAY['', 'RECEIVED', 'ACCEPTED', 'PRICED'] m) moves",
    "INSERT INTO audit_log (seq, at, actor, action, subject_type, subject_id, details,"
    " prev_hash, hash)"
    " SELECT g, timestamptz '2025-01-02' + g * (interval '730 days' / (:docs * 3)), 'plans',"
    " 'document.status', 'document', md5('d' || (g / 3))::uuid::text, '{}',"
    " repeat('0', 64), repeat('0', 64)"
    " FROM generate_series(1, :docs * 3) g",
    "UPDATE audit_head SET seq = :docs * 3",
    "INSERT INTO webhooks (id, centre_id, url, secret, created_at)"
    " SELECT g, g, 'https://example.org/' || g, 's', now() FROM generate_series(1, 200) g",
    "INSERT INTO webhook_deliveries (webhook_id, event_id, document_id, attempt, status_code,"
    " delivered, duration_ms, created_at)"
    " SELECT 1 + g % 200, md5('e' || g)::uuid::text, md5('d' || g)::uuid, 1, 200, true, 40,"
    " timestamptz '2025-01-02' + g * (interval '730 days' / :docs)"
    " FROM generate_series(0, :docs - 1) g",
    "INSERT INTO outbox (task, payload, created_at, published_at, attempts)"
    " SELECT 'gateway.price_documents', '{}',"
    " timestamptz '2025-01-02' + g * (interval '730 days' / :docs),"
    " CASE WHEN g < :docs - 20 THEN now() END, 1"
    " FROM generate_series(0, :docs - 1) g",
]
# Every table the fill grew; the plain ones are vacuumed as autovacuum would have by now.
GROWN = [
    "submissions",
    "raw_payloads",
    "documents",
    "document_lines",
    "line_pricings",
    "line_deductions",
    "status_events",
    "audit_log",
    "webhook_deliveries",
    "outbox",
]


@dataclass
class Statement:
    query: str
    sql: str
    plan: dict[str, Any]
    seconds: float = 0.0


@dataclass
class Plans:
    engine: Engine
    sizes: dict[str, int]  # relation: rows (pg_class.reltuples)
    fill_seconds: float
    caught: list[Statement]

    @contextmanager
    def catching(self, query: str) -> Iterator[Session]:
        """A session whose statements are explained, run and timed under ``query``."""
        started: dict[int, tuple[Statement, float]] = {}

        def before(conn: Any, cursor: Any, sql: str, params: Any, context: Any, many: bool) -> None:
            head = sql.lstrip().split(None, 1)[0].upper()
            if many or head not in ("SELECT", "UPDATE", "DELETE", "WITH"):
                return
            with conn.connection.dbapi_connection.cursor() as plain:  # not a named cursor
                plain.execute("EXPLAIN (FORMAT JSON) " + sql, params)
                found = Statement(query, sql, plain.fetchone()[0][0]["Plan"])
            self.caught.append(found)
            started[id(cursor)] = (found, time.perf_counter())

        def after(conn: Any, cursor: Any, *_: Any) -> None:
            if id(cursor) in started:
                found, start = started.pop(id(cursor))
                found.seconds = time.perf_counter() - start

        event.listen(self.engine, "before_cursor_execute", before)
        event.listen(self.engine, "after_cursor_execute", after)
        try:
            with session_factory(self.engine)() as session:
                yield session
                session.rollback()
        finally:
            event.remove(self.engine, "before_cursor_execute", before)
            event.remove(self.engine, "after_cursor_execute", after)


def nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", ()):
        yield from nodes(child)


def full_reads(plans: Plans, statement: Statement) -> list[str]:
    """The relations of more than SMALL rows the plan reads whole."""
    return [
        node["Relation Name"]
        for node in nodes(statement.plan)
        if node["Node Type"] == "Seq Scan" and plans.sizes.get(node["Relation Name"], 0) > SMALL
    ]


@pytest.fixture(scope="module")
def plans() -> Iterator[Plans]:
    with services.migrated_postgres_database() as url:
        engine = make_engine(url)
        start = time.perf_counter()
        with engine.begin() as connection:
            for statement in FILL:
                connection.execute(text(statement.replace(":docs", str(DOCUMENTS))))
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("VACUUM (ANALYZE) " + ", ".join(GROWN)))
            sizes = dict(
                connection.execute(
                    text("SELECT relname, reltuples::bigint FROM pg_class WHERE relkind = 'r'")
                ).all()
            )
        yield Plans(engine, sizes, time.perf_counter() - start, [])
        engine.dispose()


@dataclass(frozen=True)
class Picks:
    """Rows the queries ask about, chosen as a centre or an auditor would meet them."""

    centre: int
    code: str
    document: uuid.UUID
    patient: str
    service_date: date
    submission: uuid.UUID
    key: str
    accepted: list[uuid.UUID]
    order: int
    event: str


def pick(engine: Engine) -> Picks:
    with engine.connect() as c:
        document, patient, day, submission, centre = c.execute(
            text(
                "SELECT id, patient_national_id, service_date, submission_id, centre_id"
                " FROM documents WHERE status = 'UNDER_REVIEW' ORDER BY external_id LIMIT 1"
            )
        ).one()
        key = c.scalar(
            text("SELECT idempotency_key FROM submissions WHERE id = :s"), {"s": submission}
        )
        accepted = list(
            c.scalars(text("SELECT id FROM documents WHERE status = 'ACCEPTED' LIMIT 200"))
        )
        event = c.scalar(
            text("SELECT event_id FROM webhook_deliveries WHERE webhook_id = :c LIMIT 1"),
            {"c": centre},
        )
    return Picks(
        centre,
        f"C{centre}",
        document,
        patient,
        day,
        submission,
        key,
        accepted,
        centre * 100 + 5,
        event,
    )


def month(p: Picks) -> tuple[date, date]:
    first = p.service_date.replace(day=1)
    return first, (first + timedelta(days=32)).replace(day=1) - timedelta(days=1)


def search(p: Picks, centre: int | None, **criteria: Any) -> Callable[[Session], object]:
    wanted = documents.DocumentFilter(**criteria)
    return lambda s: documents.search_documents(s, wanted, centre_scope=centre, limit=50, offset=0)


def queries_of(p: Picks) -> dict[str, Callable[[Session], object]]:
    """What centres, auditors, finance and the workers ask, through the gateway's own code."""
    period = month(p)
    rare = "review:rare"
    return {
        "centre: own documents": search(p, p.centre),
        "centre: own documents by status": search(p, p.centre, status="UNDER_REVIEW"),
        "centre: own documents of a month": search(p, p.centre, period=period),
        "centre: own documents of a patient": search(p, p.centre, national_id=p.patient),
        "centre: one document, priced lines": lambda s: document_view(s, p.document, p.centre),
        "centre: one submission": lambda s: submissions.get_submission(s, p.submission, p.centre),
        "centre: idempotency key": lambda s: submissions.submission_by_idempotency_key(
            s, p.centre, p.key
        ),
        "centre: webhook deliveries": lambda s: hooks.deliveries(s, p.centre, limit=50, offset=0),
        "centre: payment orders": lambda s: settlement.list_orders(
            s, period=None, centre_scope=p.centre
        ),
        "centre: batch progress": lambda s: batches.priced_count(s, progress_of(p.submission)),
        "centre: batch acknowledgement": lambda s: list(
            batches.acknowledgement_rows(s, Batch(id=uuid.uuid4(), submission_id=p.submission))
        ),
        "ingest: numbers taken": lambda s: repository.accepted_numbers(s, p.centre, ["N1", "N2"]),
        "ingest: services stored": lambda s: repository.stored_services(
            s, [p.patient], [p.service_date]
        ),
        "centre: eligibility inquiry": lambda s: (
            eligibility.centre(s, p.centre),
            eligibility.coverages(s, p.patient),
            eligibility.billed_units(
                s, national_id=p.patient, codes=["S1", "S2"], first=period[0], last=period[1]
            ),
        ),
        "auditor: review queue": search(p, None, status="UNDER_REVIEW"),
        "auditor: queue of a centre": search(p, None, status="UNDER_REVIEW", centre_code=p.code),
        "auditor: approved in a month": search(p, None, status="APPROVED", period=period),
        "auditor: queue above an amount": search(p, None, status="UNDER_REVIEW", min_amount=550000),
        "auditor: by deduction reason": search(p, None, reason=rare),
        "auditor: by patient": search(p, None, national_id=p.patient),
        "auditor: document page": lambda s: document_page(s, p.document),
        "auditor: workbench queue": workbench(p, status="UNDER_REVIEW"),
        "auditor: workbench by number": workbench(p, number="N12345"),
        "auditor: workbench by patient prefix": workbench(p, national_id=p.patient[:6]),
        "auditor: review a line": lambda s: reviews.review(
            s,
            document_id=p.document,
            line_no=1,
            action=ReviewAction.REDUCE,
            reason=ReviewReason.OTHER,
            quantity=None,
            amount=1000,
            note="",
            actor="plans",
        ),
        "auditor: decide": lambda s: reviews.decide(
            s, document_id=p.document, approve=True, reason="", actor="plans"
        ),
        "finance: close a month": lambda s: settlement.close_period(
            s, period="2024-12", actor="plans", today=date(2026, 11, 23)
        ),
        "finance: statement": lambda s: settlement.statement_rows(
            s, settlement.get_order(s, p.order, None)
        ),
        "pricing: documents and lines": lambda s: (
            pricing.lock_accepted(s, p.accepted),
            pricing.lines_of(s, p.accepted),
            pricing.billed_services(s, {p.patient: {("S1", p.service_date)}}),
        ),
        "relay: unpublished messages": lambda s: (
            repository.pending_outbox(s, repository.utcnow(), 500),
            repository.count_pending_outbox(s),
            observe.sample_database(s),
        ),
        "sweeper: stuck work": lambda s: sweeper.sweep(s, stuck_after=timedelta(minutes=10)),
        "dead letters": lambda s: deadletters.open_letters(s),
        "signals: backlogs and their ages": lambda s: (
            signals.review(s),
            signals.awaiting_pricing(s),
        ),
        "signals: the audit chain's newest entries": lambda s: audit.verify_newest(s, 1000),
        "signals: money owed": lambda s: signals.owed(s, repository.utcnow()),
        # As of the last day filled: the two days before it hold a two-days' share.
        "signals: per centre": lambda s: signals.centres_lately(s, FILLED_UNTIL),
        "webhook worker: delivered already": lambda s: hooks.was_delivered(s, p.centre, p.event),
    }


# Whole-table by design: the dashboard totals every document by status, and verify walks
# the whole chain; they are timed and shown, not held to an index.
WHOLE = {
    "dashboard: totals by status": lambda s: documents.totals_by_status(s),
    "audit: verify the chain": lambda s: audit.verify(s),
}


def document_page(session: Session, document_id: uuid.UUID) -> object:
    from gateway.web import views

    return views.document_page(session, document_id, user_id=1, now=datetime.now(UTC))


def workbench(p: Picks, **criteria: Any) -> Callable[[Session], object]:
    """The workspace's queue page: its count and its page, oldest received first."""
    from gateway.assignment import repository as queue

    wanted = queue.QueueFilter(**criteria)
    now = datetime.now(UTC)

    def run(session: Session) -> object:
        return queue.count(session, wanted, now=now), queue.search(
            session, wanted, sort=queue.Sort.RECEIVED, descending=False, limit=25, offset=0,
            now=now,
        )  # fmt: skip

    return run


def scanned(plan: dict[str, Any]) -> set[str]:
    return {node["Relation Name"] for node in nodes(plan) if "Relation Name" in node}


def test_every_query_uses_an_index(plans: Plans) -> None:
    p = pick(plans.engine)
    for name, run in {**queries_of(p), **WHOLE}.items():
        with plans.catching(name) as session:
            run(session)
    caught = [c for c in plans.caught if c.query not in WHOLE]
    report(plans)
    assert {c.query for c in caught} == set(queries_of(p)), "a query sent no statement"
    whole = {c.query: full_reads(plans, c) for c in caught if full_reads(plans, c)}
    assert whole == {}, whole


def progress_of(submission: uuid.UUID) -> Batch:
    return Batch(id=uuid.uuid4(), submission_id=submission, accepted_count=10**9)


def test_batch_progress_reads_only_what_awaits_pricing(plans: Plans) -> None:
    """Asked every second or so while a batch is followed, it must not count the batch."""
    p = pick(plans.engine)
    with plans.catching("progress") as session:
        batches.priced_count(session, progress_of(p.submission))
    (statement,) = [c for c in plans.caught if c.query == "progress"]
    used = {node.get("Index Name") for node in nodes(statement.plan)}
    assert "ix_documents_awaiting_by_submission" in used, statement.plan


def test_time_bounded_reads_touch_one_month(plans: Plans) -> None:
    p = pick(plans.engine)
    bounded = {
        "audit_log": "SELECT * FROM audit_log WHERE at >= :a AND at < :b AND subject_id = :s",
        "status_events": "SELECT * FROM status_events WHERE created_at >= :a AND created_at < :b"
        " AND document_id = :d",
        "webhook_deliveries": "SELECT count(*) FROM webhook_deliveries"
        " WHERE created_at >= :a AND created_at < :b",
    }
    values = {
        "a": "2025-06-01T00:00:00Z",
        "b": "2025-07-01T00:00:00Z",
        "s": str(p.document),
        "d": p.document,
    }
    with plans.engine.connect() as connection:
        for table, sql in bounded.items():
            plan = connection.execute(text("EXPLAIN (FORMAT JSON) " + sql), values).scalar_one()
            assert scanned(plan[0]["Plan"]) == {f"{table}_y2025m06"}, (table, plan)
        # Unbounded, a read by document visits every month (through each one's index).
        plan = connection.execute(
            text("EXPLAIN (FORMAT JSON) SELECT * FROM status_events WHERE document_id = :d"), values
        ).scalar_one()[0]["Plan"]
        months = scanned(plan)
        assert len(months) > 24
        assert not full_reads(plans, Statement("", "", plan))


def test_the_plain_statements_use_indexes(plans: Plans) -> None:
    """The statements sent on psycopg directly (not through SQLAlchemy, so not caught
    above), planned on the full tables: the group lookups that the API's group commit and
    a batch chunk send as one pipeline, and pricing's read of a batch's lines."""
    p = pick(plans.engine)
    not_live = ["REJECTED", "VOIDED"]
    statements = {
        "coverages": (repository._COVERAGES_SQL, [[p.patient]]),
        "numbers taken": (repository._NUMBERS_SQL, [p.centre, ["N1", "N2"], not_live]),
        "services stored": (
            repository._SERVICES_SQL,
            [[p.service_date], [p.patient], not_live],
        ),
        "webhooks": (repository._WEBHOOKS_SQL, [[p.centre]]),
        "pricing: lines of a batch": (pricing.LINES_SQL, [p.accepted]),
        "pricing: billed services": (
            pricing.BILLED_SQL,
            [[p.service_date], ["S1"], [p.patient], pricing.NOT_HOLDING],
        ),
    }
    with plans.engine.connect() as connection:
        raw = connection.connection.dbapi_connection
        assert raw is not None
        for name, (sql, params) in statements.items():
            row = raw.cursor().execute("EXPLAIN (FORMAT JSON) " + sql, params).fetchone()
            assert row is not None
            plan = row[0][0]["Plan"]
            assert not full_reads(plans, Statement(name, sql, plan)), (name, plan)


def report(plans: Plans) -> None:
    tables: dict[str, int] = {}
    for name, rows in plans.sizes.items():
        table = re.sub(r"_(y\d{4}m\d{2}|default)$", "", name)
        tables[table] = tables.get(table, 0) + max(rows, 0)
    big = sorted((t for t in tables.items() if t[1] > SMALL), key=lambda t: -t[1])
    print(
        f"\n{sum(n for _, n in big):,} rows made, vacuumed and analysed in"
        f" {plans.fill_seconds:.1f} s:",
        ", ".join(f"{t} {n:,}" for t, n in big),
    )
    by_query: dict[str, list[Statement]] = {}
    for each in plans.caught:
        by_query.setdefault(each.query, []).append(each)
    for query, statements in by_query.items():
        ms = sum(s.seconds for s in statements) * 1000
        kinds = sorted(
            {
                n["Node Type"] + (f" {n['Index Name']}" if "Index Name" in n else "")
                for s in statements
                for n in nodes(s.plan)
                if "Scan" in n["Node Type"]
            }
        )
        print(f"{query:40} {len(statements):3} stmt {ms:8.1f} ms  {'; '.join(kinds)[:300]}")
