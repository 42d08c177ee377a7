"""Staff reads of patient data in the audit trail, route by route, and ``gateway audit
who-read``; on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from gateway.audit import chain as audit
from gateway.audit import reads
from gateway.batches.runner import process_batch
from gateway.cli import app
from gateway.domain.centres import Role
from gateway.kit.db import transaction
from gateway.kit.deps import hash_token
from gateway.settings import Settings, get_settings
from gateway.storage.models import ApiToken, AuditEntry, Batch, Document, PaymentOrder
from tests import factories as f
from tests.review.test_lifecycle_api import NEVER_REVIEW
from tests.submissions.test_submissions import JSON, auth, price_all

STAFF = (Role.AUDITOR, Role.FINANCE, Role.ADMIN)
runner = CliRunner()


@dataclass(frozen=True)
class World:
    """One centre's patient with a priced document in a payment order and another in a
    finished batch."""

    centre_token: str
    national_id: str
    submission: str
    document: str
    order: int
    batch: str
    batch_document: str


def _submit(
    client: TestClient, sessions, token: str, code: str, patient: dict[str, str]
) -> tuple[str, str]:
    visit = f.outpatient_visit()
    visit["outpatientVisit"]["patient"] = patient
    body = f.as_json(f.submission(code, visit))
    answer = client.post("/v1/submissions", content=body, headers=auth(token, JSON))
    document_id = str(answer.json()["documents"][0]["id"])
    price_all(sessions, [document_id], NEVER_REVIEW)
    return str(answer.json()["id"]), document_id


def _batch(client: TestClient, sessions, settings: Settings, token: str, code: str, patient) -> str:
    visit = f.outpatient_visit(service_date="2026-11-11")
    visit["outpatientVisit"]["patient"] = patient
    body = f.as_json(f.submission(code, visit))
    answer = client.post("/v1/batches", content=body, headers=auth(token, JSON))
    assert answer.status_code == 202, answer.text
    batch_id = answer.json()["id"]
    process_batch(sessions=sessions, batch_id=uuid.UUID(batch_id), settings=settings)
    return str(batch_id)


def _order(sessions: sessionmaker[Session], centre_id: int, document_id: str) -> int:
    """A payment order holding the document (made directly: closing a month is global)."""
    with transaction(sessions) as session:
        order = PaymentOrder(
            centre_id=centre_id, period="2026-11", documents=1, requested_amount=0,
            eligible_amount=0, deduction_amount=0, deductions_by_reason={},
            copayment_amount=0, insurer_amount=0, closed_by="test",
        )  # fmt: skip
        session.add(order)
        session.flush()
        session.execute(
            update(Document)
            .where(Document.id == uuid.UUID(document_id))
            .values(payment_order_id=order.id)
        )
        return order.id


def make_world(client: TestClient, sessions: sessionmaker[Session], settings: Settings) -> World:
    centre, token = f.make_centre(sessions)
    patient = f.patient()
    submission, document = _submit(client, sessions, token, centre.code, patient)
    batch = _batch(client, sessions, settings, token, centre.code, patient)
    with sessions() as session:
        held_by = session.scalars(
            select(Batch.submission_id).where(Batch.id == uuid.UUID(batch))
        ).one()
        batch_document = session.scalars(
            select(Document.id).where(Document.submission_id == held_by)
        ).one()
    return World(
        centre_token=token,
        national_id=patient["nationalId"],
        submission=submission,
        document=document,
        order=_order(sessions, centre.id, document),
        batch=batch,
        batch_document=str(batch_document),
    )


@dataclass(frozen=True)
class Route:
    url: Callable[[World], str]
    subject: Callable[[World], tuple[str, str]]
    documents: Callable[[World], set[str]]  # the patient's documents the read showed


def _one(w: World) -> tuple[str, str]:
    return ("document", w.document)


def _doc(w: World) -> set[str]:
    return {w.document}


def _order_of(w: World) -> tuple[str, str]:
    return ("payment_order", str(w.order))


def _batch_of(w: World) -> tuple[str, str]:
    return ("batch", w.batch)


ROUTES = {
    "submission": Route(
        lambda w: f"/v1/submissions/{w.submission}", lambda w: ("submission", w.submission), _doc
    ),
    "remittance": Route(lambda w: f"/v1/documents/{w.document}/remittance", _one, _doc),
    "fhir-claim-response": Route(lambda w: f"/fhir/ClaimResponse/{w.document}", _one, _doc),
    "fhir-eob": Route(lambda w: f"/fhir/ExplanationOfBenefit/{w.document}", _one, _doc),
    "search": Route(
        lambda w: f"/v1/documents?national_id={w.national_id}",
        lambda w: ("documents", "GET /v1/documents"),
        lambda w: {w.document, w.batch_document},
    ),
    "statement": Route(lambda w: f"/v1/settlements/{w.order}", _order_of, lambda w: {w.document}),
    "statement-csv": Route(
        lambda w: f"/v1/settlements/{w.order}/statement.csv", _order_of, lambda w: {w.document}
    ),
    "acknowledgement": Route(
        lambda w: f"/v1/batches/{w.batch}/acknowledgement", _batch_of, lambda w: {w.batch_document}
    ),
    "acknowledgement-format-csv": Route(
        lambda w: f"/v1/batches/{w.batch}/acknowledgement?format=csv",
        _batch_of,
        lambda w: {w.batch_document},
    ),
    "acknowledgement-csv": Route(
        lambda w: f"/v1/batches/{w.batch}/acknowledgement.csv",
        _batch_of,
        lambda w: {w.batch_document},
    ),
}  # fmt: skip


def last_seq(sessions: sessionmaker[Session]) -> int:
    with sessions() as session:
        return session.scalar(select(func.coalesce(func.max(AuditEntry.seq), 0))) or 0


def reads_since(sessions: sessionmaker[Session], seq: int) -> list[AuditEntry]:
    with sessions() as session:
        query = select(AuditEntry).where(AuditEntry.seq > seq, AuditEntry.action == "patient.read")
        return list(session.scalars(query.order_by(AuditEntry.seq)))


def actor_of(sessions: sessionmaker[Session], token: str, role: Role) -> str:
    with sessions() as session:
        token_id = session.scalars(
            select(ApiToken.id).where(ApiToken.token_hash == hash_token(token))
        ).one()
    return f"{role.value}:{token_id}"


@pytest.mark.parametrize("name", ROUTES)
def test_a_staff_read_is_one_entry_naming_what_it_showed_and_a_centres_is_none(
    client: TestClient, sessions, settings: Settings, name: str
) -> None:
    route, w = ROUTES[name], make_world(client, sessions, settings)
    before = last_seq(sessions)
    assert client.get(route.url(w), headers=auth(w.centre_token)).status_code == 200
    assert reads_since(sessions, before) == []
    actors = []
    for role in STAFF:
        token = f.make_staff_token(sessions, role)
        before = last_seq(sessions)
        answer = client.get(route.url(w), headers=auth(token))
        assert answer.status_code == 200, answer.text
        (entry,) = reads_since(sessions, before)
        actors.append(actor_of(sessions, token, role))
        assert (entry.actor, entry.details["role"]) == (actors[-1], role.value)
        assert (entry.subject_type, entry.subject_id) == route.subject(w)
        if entry.subject_type == "documents":
            assert route.documents(w) <= set(entry.details["documents"])
            assert entry.details["query"] == f"national_id={w.national_id}&limit=50&offset=0"
            assert entry.details["total"] == 2
        if entry.subject_type in ("payment_order", "batch", "submission"):
            assert entry.details["count"] == 1
    with sessions() as session:
        found = reads.who_read(session, w.national_id)
        assert audit.verify(session).ok
    assert [(r.actor, set(r.documents)) for r in found] == [
        (actor, route.documents(w)) for actor in reversed(actors)
    ]


def test_a_read_that_shows_nothing_records_nothing(client: TestClient, sessions) -> None:
    auditor = f.make_staff_token(sessions)
    before = last_seq(sessions)
    nobody = f.national_id(10_000_077)
    answer = client.get(f"/v1/documents?national_id={nobody}", headers=auth(auditor))
    assert answer.json()["total"] == 0
    assert (
        client.get(f"/fhir/ClaimResponse/{uuid.uuid4()}", headers=auth(auditor)).status_code == 404
    )
    assert client.get(f"/v1/settlements/{10**9}", headers=auth(auditor)).status_code == 404
    assert reads_since(sessions, before) == []


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, settings: Settings):
    monkeypatch.setenv("GATEWAY_DATABASE_URL", settings.database_url)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_who_read_answers_from_the_trail_newest_first(
    client: TestClient, sessions, settings: Settings, cli_env: None
) -> None:
    w = make_world(client, sessions, settings)
    auditor = f.make_staff_token(sessions, Role.AUDITOR)
    finance = f.make_staff_token(sessions, Role.FINANCE)
    client.get(f"/v1/documents/{w.document}", headers=auth(auditor))
    client.get(f"/v1/documents?national_id={w.national_id}", headers=auth(auditor))
    client.get(f"/v1/settlements/{w.order}/statement.csv", headers=auth(finance))
    client.get(f"/v1/batches/{w.batch}/acknowledgement", headers=auth(finance))
    client.get(f"/v1/documents/{w.document}", headers=auth(w.centre_token))
    result = runner.invoke(app, ["audit", "who-read", w.national_id])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert len(lines) == 4
    finance_actor = actor_of(sessions, finance, Role.FINANCE)
    auditor_actor = actor_of(sessions, auditor, Role.AUDITOR)
    expected = [
        (finance_actor, "finance", f"[batch {w.batch}]", w.batch_document),
        (finance_actor, "finance", f"[payment order {w.order}]", w.document),
        (auditor_actor, "auditor", "GET /v1/documents ", f"{w.document}"),
        (auditor_actor, "auditor", "GET /v1/documents/{id} ", w.document),
    ]
    for line, (actor, role, via, document) in zip(lines, expected, strict=True):
        assert f"{actor} ({role})" in line
        assert via in line
        assert document in line.partition("documents: ")[2]
    assert w.batch_document in lines[2]  # the search showed both of the patient's documents
    assert runner.invoke(app, ["audit", "verify"]).exit_code == 0


def test_who_read_of_an_unread_patient_says_so(sessions, cli_env: None) -> None:
    nobody = f.national_id(10_000_078)
    result = runner.invoke(app, ["audit", "who-read", nobody])
    assert result.exit_code == 0
    assert result.stdout.strip() == f"no staff read of patient {nobody}'s documents is recorded"


def test_who_read_refuses_a_bad_check_digit(sessions, cli_env: None) -> None:
    good = f.national_id(10_000_079)
    bad = good[:9] + str((int(good[9]) + 1) % 10)
    result = runner.invoke(app, ["audit", "who-read", bad])
    assert result.exit_code == 1
    assert "patient.national-id-checksum" in result.stderr
    assert "check digit" in result.stderr
    assert result.stdout == ""


def test_who_read_names_the_role_of_entries_recorded_before_roles_were(
    client: TestClient, sessions, settings: Settings
) -> None:
    w = make_world(client, sessions, settings)
    with transaction(sessions) as session:
        audit.append(session, [audit.Record("auditor:7", "patient.read", "document", w.document)])
        audit.append(session, [audit.Record("user:maryam", "patient.read", "document", w.document)])
    with sessions() as session:
        found = reads.who_read(session, w.national_id)
    assert [(r.actor, r.role, r.documents) for r in found] == [
        ("user:maryam", "?", (w.document,)),
        ("auditor:7", "auditor", (w.document,)),
    ]
