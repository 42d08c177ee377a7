"""GET of one document: status, lines with their pricing explained, history."""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import date
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Query
from pydantic import AfterValidator
from sqlalchemy.orm import Session

from gateway.audit import reads
from gateway.documents import repository as documents
from gateway.domain import actors
from gateway.domain.documents import DocumentKind, Purpose
from gateway.domain.lifecycle import DocumentStatus
from gateway.domain.review import ReviewAction, ReviewReason
from gateway.errors import GatewayError, NotFoundError
from gateway.kit.deps import Caller, ReadSession, State
from gateway.kit.http import AUTHENTICATED, errors, parse_id
from gateway.pricing.engine.rules import Reason
from gateway.schemas import (
    AppealOut,
    DocumentListItem,
    DocumentOut,
    DocumentPage,
    EventOut,
    LineOut,
    LinePricingOut,
    ProblemOut,
    ReasonTotalOut,
    RemittanceOut,
    ReviewOut,
    TotalsOut,
)
from gateway.settlement import service as settlement
from gateway.settlement.remittance import advice_line, advice_of, pricing_json
from gateway.storage import repository
from gateway.storage.models import Document

router = APIRouter(prefix="/v1", tags=["documents"])
SEARCH_PARAMS = (
    "status",
    "centre",
    "period",
    "min_amount",
    "reason",
    "national_id",
    "limit",
    "offset",
)
# Every reason a deduction can carry: pricing's rules and an auditor's review.
DEDUCTION_REASONS = sorted([*(r.value for r in Reason), *(r.value for r in ReviewReason)])


def _known_reason(value: str | None) -> str | None:
    if value is not None and value not in DEDUCTION_REASONS:
        raise ValueError(f"Input should be one of {', '.join(DEDUCTION_REASONS)}")
    return value


DeductionReason = Annotated[
    str | None,
    AfterValidator(_known_reason),
    Query(
        description="has a deduction with this reason code",
        json_schema_extra={"enum": DEDUCTION_REASONS},
    ),
]


@router.get(
    "/documents",
    response_model=DocumentPage,
    responses=errors(*AUTHENTICATED, 422),
    summary="Search documents (a centre: its own; staff: all), newest service date first",
)
def search(
    caller: Caller,
    session: ReadSession,
    state: State,
    status: DocumentStatus | None = Query(None, description="The document's status"),
    centre: str | None = Query(None, description="centre code (staff only)"),
    period: str | None = Query(None, pattern=r"^\d{4}-(0[1-9]|1[0-2])$", description="YYYY-MM"),
    min_amount: int | None = Query(None, ge=0, description="requested rials at least"),
    reason: DeductionReason = None,
    national_id: str | None = Query(None, pattern=r"^\d{10}$"),
    limit: int = Query(50, ge=1, le=500),
    offset: int = Query(0, ge=0, le=2**31 - 1),  # a database integer
) -> DocumentPage:
    criteria = repository.DocumentFilter(
        status=status,
        centre_code=centre if caller.centre_scope is None else None,
        period=period_bounds(period) if period else None,
        min_amount=min_amount,
        reason=reason,
        national_id=national_id,
    )
    total, rows = repository.search_documents(
        session, criteria, centre_scope=caller.centre_scope, limit=limit, offset=offset
    )
    asked = (status, centre, period, min_amount, reason, national_id, limit, offset)
    query = urlencode([(k, v) for k, v in zip(SEARCH_PARAMS, asked, strict=True) if v is not None])
    shown = [d.id for d, _ in rows]
    reads.record_read(
        state.sessions, caller, "GET /v1/documents", documents=shown, query=query, total=total
    )
    return DocumentPage(
        total=total,
        limit=limit,
        offset=offset,
        items=[
            DocumentListItem(
                id=str(d.id),
                centre_code=code,
                external_id=d.external_id,
                kind=DocumentKind(d.kind),
                status=DocumentStatus(d.status),
                service_date=d.service_date,
                patient_national_id=d.patient_national_id,
                requested=d.requested_amount,
                eligible=d.eligible_amount,
                deductions=d.deduction_amount,
                insurer_share=d.insurer_amount,
                url=f"/v1/documents/{d.id}",
            )
            for d, code in rows
        ],
    )


def period_bounds(period: str) -> tuple[date, date]:
    end = settlement.period_end(period)
    return end.replace(day=1), end


@router.get(
    "/documents/{document_id}",
    response_model=DocumentOut,
    responses=errors(*AUTHENTICATED, 404),
    summary="A document with its lines, pricing and history",
)
def get_document(document_id: str, caller: Caller, state: State) -> DocumentOut:
    key = parse_id(document_id)
    with state.sessions() as session:
        out = document_out(session, key, caller.centre_scope)
    reads.record_read(state.sessions, caller, "GET /v1/documents/{id}", documents=[key])
    return out


def document_out(session: Session, document_id: uuid.UUID, centre_scope: int | None) -> DocumentOut:
    found = repository.get_document(session, document_id, centre_scope)
    if found is None:
        raise NotFoundError("Document")
    lines = []
    numbers = {row.id: row.line_no for row in found.lines}
    line_reviews, appeals, history = _history(session, found, numbers, centre_scope)
    by_reason: dict[str, int] = defaultdict(int)
    for row, priced, deductions in repository.priced_lines(session, found):
        pricing = None
        if priced is not None:
            pricing = LinePricingOut.model_validate(
                pricing_json(advice_line(row, priced, deductions))
            )
            for deduction in deductions:
                by_reason[deduction.reason] += deduction.amount
        lines.append(
            LineOut(
                line_no=row.line_no,
                code_type=row.code_type,
                code=row.code,
                description=row.description,
                service_date=row.service_date,
                quantity=row.quantity,
                unit_price=row.unit_price,
                amount=row.amount,
                pricing=pricing,
            )
        )
    return DocumentOut(
        id=str(found.id),
        submission_id=str(found.submission_id),
        centre_code=found.centre.code,
        external_id=found.external_id,
        kind=DocumentKind(found.kind),
        purpose=Purpose(found.purpose),
        status=DocumentStatus(found.status),
        patient_national_id=found.patient_national_id,
        insurance_number=found.insurance_number,
        physician_number=found.physician_number,
        service_date=found.service_date,
        admission_date=found.admission_date,
        discharge_date=found.discharge_date,
        referral_code=found.referral_code,
        tracking_code=found.tracking_code,
        package_code=found.package_code,
        tariff_version_id=found.tariff_version_id,
        review=found.review_reason,
        pricing_notes=found.pricing_notes or [],
        deductions_by_reason=[
            ReasonTotalOut(reason=reason, amount=amount)
            for reason, amount in sorted(by_reason.items())
        ],
        totals=TotalsOut(
            requested=found.requested_amount,
            eligible=found.eligible_amount,
            deductions=found.deduction_amount,
            copayment=found.copayment_amount,
            insurer_share=found.insurer_amount,
        ),
        lines=lines,
        problems=[ProblemOut(**p) for p in found.problems],
        reviews=line_reviews,
        appeals=appeals,
        payment_order_id=found.payment_order_id,
        history=history,
    )


def _history(
    session: Session, found: Document, numbers: dict[int, int], centre_scope: int | None
) -> tuple[list[ReviewOut], list[AppealOut], list[EventOut]]:
    """Reviews, appeals and status moves; a centre is told staff by role, not by name."""
    line_reviews = documents.review_history(session, found.id)
    appeals = documents.appeals_of(session, found.id)
    recorded = [r.actor for r in line_reviews] + [a.actor for a in appeals]
    recorded += [e.actor for e in found.events]
    if centre_scope is None:
        shown = {actor: actor for actor in recorded}
    else:
        roles = repository.staff_roles(session, actors.user_names(recorded))
        shown = {actor: actors.as_seen_by_centre(actor, roles) for actor in recorded}
    return (
        [
            ReviewOut(
                line_no=numbers.get(r.line_id, 0),
                action=ReviewAction(r.action),
                reason=r.reason,
                quantity=r.quantity,
                eligible=r.eligible,
                note=r.note,
                actor=shown[r.actor],
                at=r.created_at,
            )
            for r in line_reviews
        ],
        [
            AppealOut(reason=a.reason, lines=a.lines, actor=shown[a.actor], at=a.created_at)
            for a in appeals
        ],
        [
            EventOut(
                from_status=DocumentStatus(e.from_status) if e.from_status else None,
                to_status=DocumentStatus(e.to_status),
                actor=shown[e.actor],
                reason=e.reason,
                at=e.created_at,
            )
            for e in found.events
        ],
    )


@router.get(
    "/documents/{document_id}/remittance",
    response_model=RemittanceOut,
    responses=errors(
        *AUTHENTICATED,
        404,
        409,
        c409="Not priced yet",
        said={
            409: "Document 0b7e5c1e-8f4a-4d52-9a57-3c1f0f3b2a10 is ACCEPTED; it is not priced yet."
        },
    ),
    summary="The remittance advice of a priced document: paid, deducted and why, line by line",
)
def get_remittance(
    document_id: str, caller: Caller, session: ReadSession, state: State
) -> RemittanceOut:
    found = repository.get_document(session, parse_id(document_id), caller.centre_scope)
    if found is None:
        raise NotFoundError("Document")
    advice = advice_of(session, found)
    if advice is None:
        raise GatewayError(f"Document {document_id} is {found.status}; it is not priced yet.", 409)
    route = "GET /v1/documents/{id}/remittance"
    reads.record_read(state.sessions, caller, route, documents=[found.id])
    return RemittanceOut.model_validate(advice.to_json())
