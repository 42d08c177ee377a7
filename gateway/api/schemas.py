"""Response models: the public shape of the API, as the OpenAPI document shows it."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, Field


class ProblemOut(BaseModel):
    code: str = Field(examples=["schema.pattern"])
    message: str
    path: str | None = Field(None, description="XPath for XML input, JSON pointer for JSON")
    line: int | None = Field(None, description="Line in the XML source")
    severity: str = "error"


class ErrorResponse(BaseModel):
    errors: list[ProblemOut]


class DocumentSummary(BaseModel):
    id: str
    external_id: str = Field(description="The centre's own document number")
    kind: str
    status: str
    outcome: str = Field(
        description="ACCEPTED, ACCEPTED_WITH_WARNINGS or REJECTED (like an X12 999 acknowledgement)"
    )
    path: str = Field(description="Where the document stands in the submission")
    errors: list[ProblemOut]
    warnings: list[ProblemOut]
    url: str


class SubmissionOut(BaseModel):
    id: str
    status: str = Field(description="ACCEPTED, PARTIALLY_ACCEPTED or REJECTED")
    format: str
    received_at: datetime
    document_count: int
    accepted_count: int
    rejected_count: int
    documents: list[DocumentSummary]
    url: str


class DeductionOut(BaseModel):
    reason: str
    amount: int
    detail: str


class LineOut(BaseModel):
    line_no: int
    code_type: str
    code: str
    description: str | None
    service_date: date
    quantity: int
    unit_price: int
    amount: int
    pricing: dict[str, Any] | None = Field(
        None,
        description="requested, tariff_unit_price, eligible, deductions, co-payment, "
        "insurer share and how they were computed; null until priced",
    )


class EventOut(BaseModel):
    from_status: str | None
    to_status: str
    actor: str
    reason: str
    at: datetime


class TotalsOut(BaseModel):
    requested: int
    eligible: int | None
    deductions: int | None
    copayment: int | None
    insurer_share: int | None


class DocumentOut(BaseModel):
    id: str
    submission_id: str
    centre_code: str
    external_id: str
    kind: str
    status: str
    patient_national_id: str
    insurance_number: str
    physician_number: str
    service_date: date
    admission_date: date | None
    discharge_date: date | None
    referral_code: str | None
    tracking_code: str | None
    package_code: str | None
    tariff_version_id: int | None
    totals: TotalsOut
    lines: list[LineOut]
    problems: list[ProblemOut]
    history: list[EventOut]
