"""The business signals on /metrics: a document's way from submission to payment drives
each gauge and counter, checked figure by figure, on a database of its own (SQLite and
PostgreSQL) so the figures are exactly this test's."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from gateway import metrics
from gateway.app import create_app
from gateway.audit import chain as audit
from gateway.domain.centres import CentreKind, Role
from gateway.kit.db import engine_for, session_factory, transaction, upgrade
from gateway.settings import Settings
from gateway.storage.models import Appeal, AuditEntry, Document, utcnow
from gateway.upkeep import signals
from tests import factories as f
from tests import services
from tests.review.test_lifecycle_api import ALWAYS_REVIEW, NEVER_REVIEW, submit_priced
from tests.submissions.test_submissions import JSON, auth

AGES = ("0-30", "31-60", "61-90", "90+")


@pytest.fixture(params=["sqlite", "postgresql"])
def own_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database for this test alone, at the newest migration, with the sample tariff."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'signals.sqlite'}"
        upgrade(url)
        f.seed_sample_tariff(session_factory(engine_for(url)))
        yield url
        engine_for(url).dispose()
        return
    with services.migrated_postgres_database() as url:
        f.seed_sample_tariff(session_factory(engine_for(url)))
        yield url
        engine_for(url).dispose()


@pytest.fixture
def own(own_url: str, tmp_path: Path) -> Iterator[tuple[TestClient, sessionmaker[Session]]]:
    settings = Settings(
        database_url=own_url,
        broker_url=f"sqla+sqlite:///{tmp_path / 'broker.sqlite'}",
        clock_date=f.TODAY,
        batch_spool_dir=tmp_path / "spool",
    )
    with TestClient(create_app(settings, relay=False)) as client:
        yield client, session_factory(engine_for(own_url))


def scrape(client: TestClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample on /metrics, by name and labels."""
    text = client.get("/metrics").text
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(found: dict[Any, float], name: str, **labels: str) -> float:
    return found.get((name, tuple(sorted(labels.items()))), 0.0)


def read(sessions: sessionmaker[Session], family: signals.CentreFamily, now: datetime) -> None:
    with sessions() as session:
        signals.read_fast(session, audit_entries=1000, now=now)
        signals.read_slow(session, family, now=now)


def backdate(sessions: sessionmaker[Session], document_id: str, **times: datetime) -> None:
    with transaction(sessions) as session:
        session.execute(
            update(Document).where(Document.id == uuid.UUID(document_id)).values(**times)
        )


def owed(found: dict[Any, float]) -> dict[tuple[str, str], float]:
    return {
        (stage, age): value(found, "gateway_owed_rials", stage=stage, age=age)
        for stage in ("approved", "ordered")
        for age in AGES
        if value(found, "gateway_owed_rials", stage=stage, age=age)
    }


def test_signals_follow_documents_from_submission_to_payment(own) -> None:
    client, sessions = own
    # The figures are read as of ``now``, so ages are exact; decisions happen at the real
    # time, seconds later, which the histogram's hour-wide buckets do not tell apart.
    now = utcnow()
    family = signals.CentreFamily()
    started = scrape(client)
    centre, token = f.make_centre(sessions)
    owned, owned_token = f.make_centre(sessions, kind=CentreKind.OWNED)
    auditor = f.make_staff_token(sessions)
    finance = f.make_staff_token(sessions, Role.FINANCE)
    reviewed = submit_priced(client, sessions, token, centre.code, ALWAYS_REVIEW)
    above_tariff = [f.line("970000", 1, 700_000), f.line("800010", 2, 500_000)]
    approved = submit_priced(client, sessions, token, centre.code, NEVER_REVIEW, lines=above_tariff)
    submit_priced(client, sessions, owned_token, owned.code, NEVER_REVIEW)
    bad = f.outpatient_visit()
    bad["outpatientVisit"]["patient"]["nationalId"] = "0013542418"
    body = f.as_json(f.submission(centre.code, f.outpatient_visit(), bad))
    waiting = client.post("/v1/submissions", content=body, headers=auth(token, JSON)).json()
    assert [d["status"] for d in waiting["documents"]] == ["ACCEPTED", "REJECTED"]
    backdate(sessions, reviewed, priced_at=now - timedelta(hours=2))
    backdate(sessions, approved, decided_at=now - timedelta(days=45))
    backdate(sessions, waiting["documents"][0]["id"], created_at=now - timedelta(minutes=10))
    share = client.get(f"/v1/documents/{approved}", headers=auth(token)).json()["totals"]
    before = scrape(client)
    routed = {
        dict(labels)["criterion"]: count - started.get((name, labels), 0.0)
        for (name, labels), count in before.items()
        if name == "gateway_pricing_routed_total"
    }
    assert routed.pop("none") == 2  # pricing approved two itself; it sent one to review
    assert sum(routed.values()) == 1

    read(sessions, family, now)
    found = scrape(client)
    assert value(found, "gateway_review_backlog") == 1
    assert value(found, "gateway_review_oldest_age_seconds") == 7200
    assert value(found, "gateway_pricing_backlog") == 1
    assert value(found, "gateway_pricing_oldest_age_seconds") == 600
    assert value(found, "gateway_appeals_open") == 0
    assert value(found, "gateway_appeals_oldest_age_seconds") == 0
    assert owed(found) == {("approved", "31-60"): share["insurer_share"]}
    assert value(found, "gateway_audit_chain_ok") == 1
    assert value(found, "gateway_audit_chain_verified_timestamp_seconds") > 0
    deducted = sum(
        client.get(f"/v1/documents/{d}", headers=auth(auditor)).json()["totals"]["deductions"]
        for d in (reviewed, approved)
    )
    assert deducted > 0
    assert value(found, "gateway_centre_documents_24h", centre=centre.code) == 4
    assert value(found, "gateway_centre_rejected_24h", centre=centre.code) == 1
    assert value(found, "gateway_centre_deducted_rials_24h", centre=centre.code) == deducted
    assert value(found, "gateway_centre_documents_24h", centre=owned.code) == 1
    assert value(found, "gateway_centre_rejected_24h", centre=owned.code) == 0

    # An auditor approves; the centre appeals; the appeal is denied.
    url = f"/v1/documents/{reviewed}"
    decision = client.post(f"{url}/decision", json={"decision": "approve"}, headers=auth(auditor))
    assert decision.status_code == 200, decision.text
    appeal = client.post(f"{url}/appeal", json={"reason": "line 2"}, headers=auth(token))
    assert appeal.status_code == 200, appeal.text
    with transaction(sessions) as session:
        session.execute(update(Appeal).values(created_at=now - timedelta(minutes=5)))
    read(sessions, family, now)
    found = scrape(client)
    assert value(found, "gateway_appeals_open") == 1
    assert value(found, "gateway_appeals_oldest_age_seconds") == 300
    assert value(found, "gateway_review_backlog") == 1
    assert value(found, "gateway_review_oldest_age_seconds") == 300
    denial = client.post(f"{url}/decision", json={"decision": "deny"}, headers=auth(auditor))
    assert denial.status_code == 200, denial.text
    found = scrape(client)
    counted = [
        value(found, name, **labels) - value(before, name, **labels)
        for name, labels in [
            ("gateway_auditor_decisions_total", {"outcome": "approved"}),
            ("gateway_auditor_decisions_total", {"outcome": "denied"}),
            ("gateway_appeals_total", {}),
            ("gateway_review_decision_seconds_count", {}),
            ("gateway_review_decision_seconds_bucket", {"le": "3600.0"}),
            ("gateway_review_decision_seconds_bucket", {"le": "14400.0"}),
        ]
    ]
    # The first decision came two hours after pricing: one observation, between 1 h and 4 h.
    assert counted == [1, 1, 1, 1, 0, 1]

    # Finance orders the month's approved documents, then pays them.
    closed = client.post("/v1/settlements", json={"period": "2026-11"}, headers=auth(finance))
    assert closed.status_code == 201, closed.text
    read(sessions, family, now)
    assert owed(scrape(client)) == {("ordered", "31-60"): share["insurer_share"]}
    for order in closed.json()["orders"]:
        paid = client.post(
            f"/v1/settlements/{order['id']}/paid", json={"reference": "R-1"}, headers=auth(finance)
        )
        assert paid.status_code == 200, paid.text
    read(sessions, family, now)
    found = scrape(client)
    assert owed(found) == {}
    assert value(found, "gateway_review_backlog") == 0
    assert value(found, "gateway_review_oldest_age_seconds") == 0

    # Two days on, the centres are quiet: their figures fall to zero.
    read(sessions, family, now + timedelta(days=3))
    found = scrape(client)
    assert value(found, "gateway_centre_documents_24h", centre=centre.code) == 0
    assert value(found, "gateway_centre_deducted_rials_24h", centre=centre.code) == 0


def test_a_broken_newest_link_is_reported(own) -> None:
    client, sessions = own
    now = utcnow()
    centre, token = f.make_centre(sessions)
    submit_priced(client, sessions, token, centre.code, ALWAYS_REVIEW)
    family = signals.CentreFamily()
    read(sessions, family, now)
    assert value(scrape(client), "gateway_audit_chain_ok") == 1
    with transaction(sessions) as session:
        newest = session.scalars(select(AuditEntry).order_by(AuditEntry.seq.desc())).first()
        assert newest is not None
        session.execute(
            update(AuditEntry).where(AuditEntry.id == newest.id).values(actor="someone else")
        )
    read(sessions, family, now)
    assert value(scrape(client), "gateway_audit_chain_ok") == 0


def test_the_newest_links_are_checked_against_the_head(own) -> None:
    client, sessions = own
    centre, token = f.make_centre(sessions)
    for _ in range(3):
        submit_priced(client, sessions, token, centre.code, ALWAYS_REVIEW)
    with sessions() as session:
        whole = audit.verify(session)
        assert whole.ok
        assert whole.checked > 4
        assert audit.verify_newest(session, 4) == audit.Verdict(True, 4)
        assert audit.verify_newest(session, 10**6) == audit.Verdict(True, whole.checked)
    with transaction(sessions) as session:
        newest = session.scalars(select(AuditEntry).order_by(AuditEntry.seq.desc())).first()
        assert newest is not None
        session.delete(newest)
    with sessions() as session:
        verdict = audit.verify_newest(session, 4)
    assert not verdict.ok
    assert "head records entry" in verdict.problem


def test_one_process_collects_for_all(own_url: str, tmp_path: Path) -> None:
    """On PostgreSQL the collector that took the lock reads; another waits its turn until
    the first lets go. On SQLite each reads (one process is the norm)."""
    settings = Settings(database_url=own_url, batch_spool_dir=tmp_path / "spool")
    engine = engine_for(own_url)
    first, second = signals.Collector(engine, settings), signals.Collector(engine, settings)
    try:
        first.run()
        metrics.REVIEW_BACKLOG.set(-1)
        second.run()
        expected = -1 if engine.dialect.name == "postgresql" else 0
        assert metrics.REVIEW_BACKLOG._value.get() == expected
        first.close()
        second.run()
        assert metrics.REVIEW_BACKLOG._value.get() == 0
    finally:
        first.close()
        second.close()


def test_every_request_is_counted_by_its_route_template(own) -> None:
    client, _ = own
    for path in ("/docs", "/redoc", "/openapi.json", "/metrics", "/web/login", "/web/nowhere"):
        client.get(path)
    found = scrape(client)
    routes = {
        dict(labels)["route"]
        for (name, labels), _ in found.items()
        if name == "gateway_http_requests_total"
    }
    assert {"/docs", "/redoc", "/openapi.json", "/metrics", "/web/login"} <= routes
    assert "/web/{rest:path}" in routes
