"""GET of one document: status, lines with their pricing explained, history."""

from __future__ import annotations

from collections import defaultdict

from fastapi import APIRouter

from gateway.api.deps import Caller, ReadSession
from gateway.api.schemas import (
    DocumentOut,
    ErrorResponse,
    EventOut,
    LineOut,
    LinePricingOut,
    ProblemOut,
    ReasonTotalOut,
    RemittanceOut,
    TotalsOut,
)
from gateway.api.submissions import ERRORS, parse_id
from gateway.errors import GatewayError, NotFoundError
from gateway.remittance import advice_line, advice_of, pricing_json
from gateway.storage import repository

router = APIRouter(prefix="/v1", tags=["documents"])


@router.get(
    "/documents/{document_id}",
    response_model=DocumentOut,
    responses=ERRORS,
    summary="A document with its lines, pricing and history",
)
def get_document(document_id: str, caller: Caller, session: ReadSession) -> DocumentOut:
    found = repository.get_document(session, parse_id(document_id), caller.centre_scope)
    if found is None:
        raise NotFoundError("Document")
    lines = []
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
