"""GET of one document: status, lines with their pricing explained, history."""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query
from sqlalchemy.orm import Session

from gateway import audit, reviews, settlement
from gateway.api.deps import Caller, GatewayState, Principal, ReadSession, State
from gateway.api.schemas import (
    AppealOut,
    DocumentListItem,
    DocumentOut,
    DocumentPage,
    ErrorResponse,
    EventOut,
    LineOut,
    LinePricingOut,
    ProblemOut,
    ReasonTotalOut,
    RemittanceOut,
    ReviewOut,
    TotalsOut,
)
from gateway.api.submissions import ERRORS, parse_id
from gateway.domain.bounds import Offset, Rials
from gateway.errors import GatewayError, NotFoundError
from gateway.remittance import advice_line, advice_of, pricing_json
from gateway.storage import repository
from gateway.storage.db import transaction

router = APIRouter(prefix="/v1", tags=["documents"])


@router.get(
    "/documents",
    response_model=DocumentPage,
    responses=ERRORS,
    summary="Search documents (a centre: its own; staff: all), newest service date first",
)
def search(
    caller: Caller,
    session: ReadSession,
    status: str | None = Query(None, description="e.g. UNDER_REVIEW"),
    centre: str | None = Query(None, description="centre code (staff only)"),
    period: str | None = Query(None, pattern=r"^\d{4}-(0[1-9]|1[0-2])$", description="YYYY-MM"),
    min_amount: Rials | None = Query(None, description="requested rials at least"),
    reason: str | None = Query(None, description="has a deduction with this reason code"),
    national_id: str | None = Query(None, pattern=r"^\d{10}$"),
    limit: int = Query(50, ge=1, le=500),
    offset: Annotated[Offset, Query()] = 0,
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
    return DocumentPage(
        total=total,
        limit=limit,
        offset=offset,
        items=[
            DocumentListItem(
                id=str(d.id),
                centre_code=code,
                external_id=d.external_id,
                kind=d.kind,
                status=d.status,
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
    responses=ERRORS,
    summary="A document with its lines, pricing and history",
)
def get_document(document_id: str, caller: Caller, state: State) -> DocumentOut:
    key = parse_id(document_id)
    with state.sessions() as session:
        out = document_out(session, key, caller.centre_scope)
    if caller.centre_scope is None:
        _log_staff_read(state, caller, key)
    return out


def _log_staff_read(state: GatewayState, caller: Principal, document_id: uuid.UUID) -> None:
    """Staff reading a patient's document leave an audit entry."""
    with transaction(state.sessions) as session:
        audit.append(
            session,
            [audit.Record(caller.actor, "patient.read", "document", str(document_id))],
        )


def document_out(session: Session, document_id: uuid.UUID, centre_scope: int | None) -> DocumentOut:
    found = repository.get_document(session, document_id, centre_scope)
    if found is None:
        raise NotFoundError("Document")
    lines = []
    numbers = {row.id: row.line_no for row in found.lines}
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
        kind=found.kind,
        purpose=found.purpose,
        status=found.status,
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
        reviews=[
            ReviewOut(
                line_no=numbers.get(r.line_id, 0),
                action=r.action,
                reason=r.reason,
                quantity=r.quantity,
                eligible=r.eligible,
                note=r.note,
                actor=r.actor,
                at=r.created_at,
            )
            for r in reviews.review_history(session, found.id)
        ],
        appeals=[
            AppealOut(reason=a.reason, lines=a.lines, actor=a.actor, at=a.created_at)
            for a in reviews.appeals_of(session, found.id)
        ],
        payment_order_id=found.payment_order_id,
        history=[
            EventOut(
                from_status=e.from_status,
                to_status=e.to_status,
                actor=e.actor,
                reason=e.reason,
                at=e.created_at,
            )
            for e in found.events
        ],
    )


@router.get(
    "/documents/{document_id}/remittance",
    response_model=RemittanceOut,
    responses={**ERRORS, 409: {"model": ErrorResponse, "description": "Not priced yet"}},
    summary="The remittance advice of a priced document: paid, deducted and why, line by line",
)
def get_remittance(document_id: str, caller: Caller, session: ReadSession) -> RemittanceOut:
    found = repository.get_document(session, parse_id(document_id), caller.centre_scope)
    if found is None:
        raise NotFoundError("Document")
    advice = advice_of(session, found)
    if advice is None:
        raise GatewayError(f"Document {document_id} is {found.status}; it is not priced yet.", 409)
    return RemittanceOut.model_validate(advice.to_json())
