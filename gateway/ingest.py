"""The ingest pipeline: schema, business rules, then one transaction of rows and outbox.

Nothing here commits. The caller commits and only then hands the outbox messages to
the publisher, so no task is ever sent for data that was rolled back.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert
from sqlalchemy.orm import Session

from gateway import journal, metrics
from gateway.domain import documents as dm
from gateway.domain.lifecycle import DocumentStatus, Transition, birth, transition
from gateway.errors import GatewayError
from gateway.settings import Settings, get_settings, today
from gateway.storage import repository
from gateway.storage.models import (
    Centre,
    Document,
    DocumentLine,
    OutboxMessage,
    RawPayload,
    Submission,
    utcnow,
)
from validators.business import Report, validate_submission
from validators.context import RuleContext
from validators.problems import Problem, has_errors
from validators.reader import read_submission
from validators.schema import Format, claim_schema
from workers.outbox import Pending
from workers.service import NoTariffError, TariffCache

PRICE_TASK = "gateway.price_document"


@dataclass(slots=True)
class Ingested:
    submission: Submission
    documents: list[Document]
    outbox: list[Pending]
    replayed: bool = False


def parse_valid(body: bytes, fmt: Format) -> dm.Submission:
    """The submission in a body, or GatewayError(422) with every schema problem."""
    result = claim_schema().check(body, fmt)
    if not result.ok or result.root is None:
        _count(result.problems)
        raise GatewayError("The submission does not match the schema.", 422, result.problems)
    return read_submission(result.root, fmt, result.source)


def apply_rules(
    submission: dm.Submission,
    context: RuleContext,
    *,
    centre_code: str | None,
    max_documents: int = 1_000_000,
) -> Report:
    """Business rules; GatewayError(422) when the envelope itself is refused."""
    report = validate_submission(
        submission, context, centre_code=centre_code, max_documents=max_documents
    )
    if report.refused:
        _count(report.envelope)
        raise GatewayError("The submission was refused.", 422, report.envelope)
    return report


_books = TariffCache()


def server_context(
    session: Session, centre: Centre, submission: dm.Submission, settings: Settings
) -> RuleContext:
    """What the rules need for one submission, read from the database in a few queries."""
    patients = [document.patient.national_id for document in submission.documents]
    numbers = (document.number for document in submission.documents)
    try:
        tariff = _books.current(session)
    except NoTariffError:
        tariff = None
    return RuleContext(
        today=today(settings),
        centre=repository.centre_info(centre),
        coverages=repository.coverages_of(session, patients),
        tariff=tariff,
        accepted_numbers=repository.accepted_numbers(session, centre.id, numbers),
        stored_services=repository.stored_services(
            session,
            centre.id,
            patients,
            {line.service_date for document in submission.documents for line in document.lines},
        ),
        submission_window_days=settings.submission_window_days,
        referral_provinces=frozenset(settings.referral_provinces),
    )


def ingest(
    *,
    session: Session,
    centre: Centre,
    body: bytes,
    fmt: Format,
    content_type: str,
    idempotency_key: str | None,
    max_documents: int,
    parsed: dm.Submission | None = None,
    mapped_problems: list[list[Problem]] | None = None,
    stored_format: str | None = None,
    settings: Settings | None = None,
) -> Ingested:
    """Check and store a body; ``parsed`` is its ``parse_valid`` result when the caller
    already has it (so parsing can run before a database connection is taken).

    ``mapped_problems`` are problems per document found while translating another format
    (FHIR) into this one; they join the rules' problems and are judged the same way.
    ``stored_format`` overrides the recorded format ("fhir" when ``body`` is the original
    FHIR resource and ``parsed`` its translation).
    """
    digest = hashlib.sha256(body).hexdigest()
    if idempotency_key:
        earlier = _replay(session, centre.id, idempotency_key, digest)
        if earlier is not None:
            return earlier
    submission = parsed or parse_valid(body, fmt)
    context = server_context(session, centre, submission, settings or get_settings())
    report = apply_rules(submission, context, centre_code=centre.code, max_documents=max_documents)
    for problems, extra in zip(report.documents, mapped_problems or [], strict=False):
        problems[:0] = extra
    return _store(
        session,
        centre=centre,
        submission=submission,
        report=report,
        raw=RawPayload(content_type=content_type, sha256=digest, size=len(body), body=body),
        fmt=stored_format or fmt.value,
        idempotency_key=idempotency_key,
    )


def _count(problems: list[Problem]) -> None:
    for problem in problems:
        metrics.VALIDATION_PROBLEMS.labels(problem.code).inc()


def _replay(session: Session, centre_id: int, key: str, digest: str) -> Ingested | None:
    found = repository.submission_by_idempotency_key(session, centre_id, key)
    if found is None:
        return None
    submission, raw_digest = found
    if raw_digest != digest:
        raise GatewayError(
            "This Idempotency-Key was already used with a different body.",
            422,
            [Problem("idempotency.key-reused", "The Idempotency-Key was used for another body.")],
        )
    return Ingested(submission, list(submission.documents), [], replayed=True)


def _store(
    session: Session,
    *,
    centre: Centre,
    submission: dm.Submission,
    report: Report,
    raw: RawPayload,
    fmt: str,
    idempotency_key: str | None,
) -> Ingested:
    actor = f"centre:{centre.code}"
    row = Submission(
        id=uuid.uuid4(),
        centre_id=centre.id,
        format=fmt,
        submission_number=submission.submission_number,
        received_at=utcnow(),
        document_count=len(submission.documents),
        accepted_count=0,
        rejected_count=0,
        idempotency_key=idempotency_key,
    )
    raw.submission_id = row.id
    documents: list[Document] = []
    moves: list[journal.Move] = []
    lines: list[dict[str, Any]] = []
    payloads: list[dict[str, Any]] = []
    for ordinal, (document, problems) in enumerate(
        zip(submission.documents, report.documents, strict=True)
    ):
        stored, pair = _document_row(row, centre, ordinal, document, problems, actor)
        documents.append(stored)
        moves += [journal.Move(stored.id, centre.id, stored.external_id, move) for move in pair]
        lines += _line_values(stored.id, document)
        if stored.status == DocumentStatus.ACCEPTED:
            row.accepted_count += 1
            payloads.append({"task": PRICE_TASK, "payload": {"document_id": str(stored.id)}})
        else:
            row.rejected_count += 1
        _count(problems)
        metrics.DOCUMENTS.labels(document.kind.value, stored.status.lower()).inc()
    # Plain inserts rather than the ORM's unit of work: this is the hot path of ingestion.
    # The ORM objects built above serve only to answer the request.
    session.execute(insert(Submission), [_column_values(row)])
    session.execute(insert(RawPayload), [_column_values(raw)])
    session.execute(insert(Document), [_column_values(d) for d in documents])
    session.execute(insert(DocumentLine), lines)
    outbox: list[Pending] = journal.record(session, moves)
    if payloads:
        now = utcnow()
        for values in payloads:
            values.update(created_at=now, attempts=0)
        ids = session.scalars(
            insert(OutboxMessage).returning(OutboxMessage.id, sort_by_parameter_order=True),
            payloads,
        ).all()
        outbox += [Pending(i, v["task"], v["payload"]) for i, v in zip(ids, payloads, strict=True)]
    return Ingested(row, documents, outbox)


def _column_values(obj: Submission | RawPayload | Document) -> dict[str, Any]:
    """Every column of an unsaved row, leaving out an auto-incremented id not yet known."""
    values = {column.key: getattr(obj, column.key) for column in obj.__table__.columns}
    if values.get("id") is None:
        values.pop("id", None)
    return values


def _document_row(
    submission: Submission,
    centre: Centre,
    ordinal: int,
    document: dm.Document,
    problems: list[Problem],
    actor: str,
) -> tuple[Document, tuple[Transition, Transition]]:
    first = birth(actor=actor)
    target = DocumentStatus.REJECTED if has_errors(problems) else DocumentStatus.ACCEPTED
    reason = f"{len(problems)} problem(s)" if problems else "schema and rules passed"
    second = transition(DocumentStatus.RECEIVED, target, actor=actor, reason=reason)
    stored = Document(
        id=uuid.uuid4(),
        submission_id=submission.id,
        centre_id=centre.id,
        ordinal=ordinal,
        kind=document.kind.value,
        external_id=document.number,
        status=target.value,
        source_path=document.path[:200],
        patient_national_id=document.patient.national_id,
        insurance_number=document.patient.insurance_number,
        physician_number=document.physician.medical_council_number,
        physician_grade=document.physician.grade,
        referral_code=document.referral_code,
        tracking_code=document.tracking_code,
        category=document.category,
        package_code=document.package_code,
        service_date=document.service_date,
        admission_date=document.admission_date,
        discharge_date=document.discharge_date,
        total_amount=document.total_amount,
        requested_amount=document.requested_amount,
        problems=[p.to_dict() for p in problems],
        created_at=first.at,
        updated_at=second.at,
    )
    return stored, (first, second)


def _line_values(document_id: uuid.UUID, document: dm.Document) -> list[dict[str, Any]]:
    return [
        {
            "document_id": document_id,
            "line_no": number,
            "code_type": line.code_type.value,
            "code": line.code,
            "description": line.description,
            "service_date": line.service_date,
            "quantity": line.quantity,
            "unit_price": line.unit_price,
            "amount": line.amount,
        }
        for number, line in enumerate(document.lines, start=1)
    ]
