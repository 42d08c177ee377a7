"""GET of one document: status, lines with their pricing explained, history."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Query
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints
from sqlalchemy.orm import Session

from gateway.audit import reads
from gateway.documents import repository
from gateway.documents import service as documents
from gateway.documents.remittance import (
    advice_json,
    pricing_json,
    reasons_json,
)
from gateway.documents.view import Line, document_view
from gateway.domain.bounds import Offset, Rials
from gateway.domain.documents import DocumentKind, Purpose
from gateway.domain.lifecycle import DocumentStatus
from gateway.domain.review import ReviewReason
from gateway.errors import GatewayError, NotFoundError
from gateway.kit.deps import Caller, CentreCaller, WriteSession
from gateway.kit.http import AUTHENTICATED, BAD_JSON, errors, parse_id
from gateway.kit.periods import period_end
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
    session: WriteSession,
    status: DocumentStatus | None = Query(None, description="The document's status"),
    centre: str | None = Query(None, description="centre code (staff only)"),
    period: str | None = Query(None, pattern=r"^\d{4}-(0[1-9]|1[0-2])$", description="YYYY-MM"),
    min_amount: Rials | None = Query(None, description="requested rials at least"),
    reason: DeductionReason = None,
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
    asked = (status, centre, period, min_amount, reason, national_id, limit, offset)
    query = urlencode([(k, v) for k, v in zip(SEARCH_PARAMS, asked, strict=True) if v is not None])
    shown = [d.id for d, _ in rows]
    reads.record_read(
        session, caller, "GET /v1/documents", documents=shown, query=query, total=total
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
                deducted=d.deduction_amount,
                deductions=d.deduction_amount,
                insurer_share=d.insurer_amount,
                url=f"/v1/documents/{d.id}",
            )
            for d, code in rows
        ],
    )


def period_bounds(period: str) -> tuple[date, date]:
    end = period_end(period)
    return end.replace(day=1), end


@router.get(
    "/documents/{document_id}",
    response_model=DocumentOut,
    responses=errors(*AUTHENTICATED, 404),
    summary="A document with its lines, pricing and history",
)
def get_document(document_id: str, caller: Caller, session: WriteSession) -> DocumentOut:
    key = parse_id(document_id)
    out = document_out(session, key, caller.centre_scope)
    reads.record_read(session, caller, "GET /v1/documents/{id}", documents=[key])
    return out


def document_out(session: Session, document_id: uuid.UUID, centre_scope: int | None) -> DocumentOut:
    view = document_view(session, document_id, centre_scope)
    if view is None:
        raise NotFoundError("Document")
    totals = view.totals
    return DocumentOut(
        id=str(view.id),
        submission_id=str(view.submission_id),
        centre_code=view.centre_code,
        external_id=view.external_id,
        kind=DocumentKind(view.kind),
        purpose=Purpose(view.purpose),
        status=DocumentStatus(view.status),
        patient_national_id=view.patient_national_id,
        insurance_number=view.insurance_number,
        physician_number=view.physician_number,
        service_date=view.service_date,
        admission_date=view.admission_date,
        discharge_date=view.discharge_date,
        referral_code=view.referral_code,
        tracking_code=view.tracking_code,
        package_code=view.package_code,
        tariff_version_id=view.tariff.version if view.tariff else None,
        review=view.review,
        pricing_notes=list(view.notes),
        deductions_by_reason=[ReasonTotalOut.model_validate(r) for r in reasons_json(view)],
        totals=TotalsOut(
            requested=view.requested,
            eligible=totals.eligible if totals else None,
            deducted=totals.deducted if totals else None,
            deductions=totals.deducted if totals else None,
            copayment=totals.copayment if totals else None,
            insurer_share=totals.insurer_share if totals else None,
        ),
        lines=[_line_out(line) for line in view.lines],
        problems=[ProblemOut(**p) for p in view.problems],
        reviews=[ReviewOut.model_validate(r, from_attributes=True) for r in view.reviews],
        appeals=[
            AppealOut(reason=a.reason, lines=list(a.lines), actor=a.actor, at=a.at)
            for a in view.appeals
        ],
        payment_order_id=view.payment_order_id,
        history=[EventOut.model_validate(e, from_attributes=True) for e in view.history],
    )


def _line_out(line: Line) -> LineOut:
    pricing = None
    if line.computation is not None:
        pricing = LinePricingOut.model_validate(pricing_json(line.computation))
    return LineOut(
        line_no=line.line_no,
        code_type=line.code_type,
        code=line.code,
        description=line.description,
        service_date=line.service_date,
        quantity=line.quantity,
        unit_price=line.unit_price,
        amount=line.amount,
        pricing=pricing,
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
def get_remittance(document_id: str, caller: Caller, session: WriteSession) -> RemittanceOut:
    view = document_view(session, parse_id(document_id), caller.centre_scope)
    if view is None:
        raise NotFoundError("Document")
    advice = advice_json(view)
    if advice is None:
        raise GatewayError(f"Document {document_id} is {view.status}; it is not priced yet.", 409)
    route = "GET /v1/documents/{id}/remittance"
    reads.record_read(session, caller, route, documents=[view.id])
    return RemittanceOut.model_validate(advice)


class VoidIn(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"reason": "Sent for the wrong patient; a corrected bill follows."}]
        }
    )
    reason: Annotated[
        str,
        StringConstraints(strip_whitespace=True, min_length=1, max_length=500),
        Field(description="Why the document is withdrawn (kept in its history)"),
    ]


@router.post(
    "/documents/{document_id}/void",
    response_model=DocumentOut,
    responses=errors(
        *AUTHENTICATED,
        400,
        403,
        404,
        409,
        422,
        c409="Voided already, or not voidable in its status (approved or later: appeal instead)",
        said={
            **BAD_JSON,
            403: "Only a centre's token may submit documents.",
            409: (
                "document.not-voidable",
                "Document 0b7e5c1e-8f4a-4d52-9a57-3c1f0f3b2a10 cannot be voided: it is "
                "APPROVED: an approved document is neither voided nor replaced; contest the "
                "decision with POST /v1/documents/{id}/appeal within the appeal window.",
            ),
            422: ("request.invalid", "String should have at least 1 character"),
        },
    ),
    summary="Void the centre's own document that is not yet approved (it becomes VOIDED)",
)
def void_document(
    document_id: str, body: VoidIn, caller: CentreCaller, session: WriteSession
) -> DocumentOut:
    """A voided document is never priced further or paid, and its number is free again.
    Voiding a document VOIDED already is a 409 (`document.already-voided`); an approved one
    is contested by appeal instead (docs/corrections.md)."""
    key = parse_id(document_id)
    assert caller.centre is not None
    documents.void(
        session,
        document_id=key,
        centre_id=caller.centre.id,
        reason=body.reason,
        actor=caller.actor,
    )
    return document_out(session, key, caller.centre.id)
