"""Response models: the public shape of the API, as the OpenAPI document shows it."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, Field

from gateway.domain.documents import DocumentKind, Purpose
from gateway.domain.lifecycle import DocumentStatus
from gateway.domain.review import ReviewAction

BatchStatus = Literal["received", "processing", "done", "failed"]


def _in_utc(value: datetime) -> datetime:
    """Times are stored in UTC; SQLite gives them back without their zone."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


Instant = Annotated[datetime, AfterValidator(_in_utc)]


class ProblemOut(BaseModel):
    code: str = Field(examples=["schema.pattern"])
    message: str
    path: str | None = Field(None, description="XPath for XML input, JSON pointer for JSON")
    line: int | None = Field(None, description="Line in the XML source")
    severity: Literal["error", "warning"] = "error"


class ErrorResponse(BaseModel):
    errors: list[ProblemOut]


class DocumentSummary(BaseModel):
    id: str
    external_id: str = Field(description="The centre's own document number")
    kind: DocumentKind
    status: DocumentStatus
    outcome: Literal["ACCEPTED", "ACCEPTED_WITH_WARNINGS", "REJECTED"] = Field(
        description="ACCEPTED, ACCEPTED_WITH_WARNINGS or REJECTED (like an X12 999 acknowledgement)"
    )
    path: str = Field(description="Where the document stands in the submission")
    errors: list[ProblemOut]
    warnings: list[ProblemOut]
    referrals_issued: list[str] = Field(
        default_factory=list,
        description="The codes of the referrals a level-1 visit's referralsIssued issued, in "
        "their order (docs/referrals.md)",
    )
    url: str


class SubmissionOut(BaseModel):
    id: str
    status: Literal["ACCEPTED", "PARTIALLY_ACCEPTED", "REJECTED"]
    format: str
    received_at: Instant
    document_count: int
    accepted_count: int
    rejected_count: int
    documents: list[DocumentSummary]
    url: str


class DeductionOut(BaseModel):
    reason: str
    amount: int
    detail: str


class TermOut(BaseModel):
    component: str = Field(description="professional, technical or anesthesia")
    units: str = Field(description="relative-value units, as a decimal string")
    k: int = Field(description="rials per unit (K) for the sector, year and grade")
    amount: int = Field(
        description="units x K in whole rials, rounded half up (the line's tariff unit "
        "price rounds the exact sum of its terms once)"
    )


class PayerShareOut(BaseModel):
    kind: Literal["supplementary", "fund", "patient"] = Field(
        description="a supplementary insurer, the charity fund, or the patient (what remains)"
    )
    payer: str = Field(description="the insurer's code, the programme's code, or patient")
    amount: int


class LinePricingOut(BaseModel):
    requested: int
    price_basis: str | None = Field(
        description="rvu (units x K), drug (unit price), package (global package); "
        "null when the line is deducted in full"
    )
    terms: list[TermOut]
    tariff_unit_price: int | None
    allowed_quantity: int
    eligible: int
    deductions: list[DeductionOut]
    copay_rate: str
    copay_reason: str | None = Field(
        default=None,
        description="Why the co-payment rate is not the centre's usual one: "
        "referral.self-referred (a specialist visit without a family-physician referral, "
        "priced under the referral programme's self-referral policy); null otherwise",
        examples=[None],
    )
    copayment: int
    insurer_share: int
    explanation: str
    patient_share: int = Field(
        description="the co-payment and the deductions the patient owes (not-covered)"
    )
    payers: list[PayerShareOut] = Field(
        description="who pays the patient share once the document is approved "
        "(docs/payers.md); empty when no further payer has a part"
    )
    patient_pays: int = Field(description="what is left to the patient after those payers")


class LineOut(BaseModel):
    line_no: int
    code_type: str
    code: str
    description: str | None
    service_date: date
    quantity: int
    unit_price: int
    amount: int
    pricing: LinePricingOut | None = Field(
        None, description="How the line was priced, figure by figure; null until priced"
    )


class EventOut(BaseModel):
    from_status: DocumentStatus | None
    to_status: DocumentStatus
    actor: str
    reason: str
    at: Instant


class ReasonTotalOut(BaseModel):
    reason: str
    amount: int


class CentreRef(BaseModel):
    code: str
    name: str


class PatientRef(BaseModel):
    national_id: str
    insurance_number: str


class TariffRef(BaseModel):
    version: int
    label: str


class RemittanceTotalsOut(BaseModel):
    requested: int
    eligible: int
    deducted: int
    copayment: int
    insurer_share: int


class AdviceLineOut(LinePricingOut):
    line_no: int
    code_type: str
    code: str
    description: str | None
    service_date: date
    quantity: int
    unit_price: int


class RemittanceOut(BaseModel):
    """A priced document's remittance advice (the role of an X12 835)."""

    document_id: str
    external_id: str
    kind: DocumentKind
    purpose: Purpose = Field(
        description="claim, or an estimate (preauthorization, predetermination)"
    )
    status: DocumentStatus
    centre: CentreRef
    patient: PatientRef
    service_date: date
    admission_date: date | None
    discharge_date: date | None
    package_code: str | None
    tariff: TariffRef
    priced_at: Instant | None
    review: str | None
    notes: list[str]
    totals: RemittanceTotalsOut
    deductions_by_reason: list[ReasonTotalOut]
    payers: list[PayerShareOut] = Field(
        description="each further payer's share of the patient share of the whole document"
    )
    payer_notes: list[str] = Field(
        description="what the split says: a yearly ceiling reached, a fund short"
    )
    lines: list[AdviceLineOut]


DEDUCTIONS_ALIAS = "Deprecated alias of `deducted`, kept for this version (see CHANGELOG.md)."


class TotalsOut(BaseModel):
    requested: int
    eligible: int | None
    deducted: int | None = Field(description="Deducted in all, every reason together")
    deductions: int | None = Field(deprecated=True, description=DEDUCTIONS_ALIAS)
    copayment: int | None
    insurer_share: int | None


class DocumentListItem(BaseModel):
    id: str
    centre_code: str
    external_id: str
    kind: DocumentKind
    status: DocumentStatus
    service_date: date
    patient_national_id: str
    requested: int
    eligible: int | None
    deducted: int | None = Field(description="Deducted in all, every reason together")
    deductions: int | None = Field(deprecated=True, description=DEDUCTIONS_ALIAS)
    insurer_share: int | None
    url: str


class DocumentPage(BaseModel):
    total: int = Field(description="How many documents match, in all pages")
    limit: int
    offset: int
    items: list[DocumentListItem]


class ReviewOut(BaseModel):
    line_no: int
    action: ReviewAction
    reason: str | None
    quantity: int | None
    eligible: int | None
    note: str
    actor: str
    at: Instant


class AppealOut(BaseModel):
    reason: str
    lines: list[int]
    actor: str
    at: Instant


class DocumentOut(BaseModel):
    id: str
    submission_id: str
    centre_code: str
    external_id: str
    kind: DocumentKind
    purpose: Purpose = Field(
        description="claim (a bill), or preauthorization / predetermination: an estimate "
        "asked through the FHIR door, priced and never settled"
    )
    status: DocumentStatus
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
    review: str | None = Field(description="Why pricing approved it or sent it to review")
    pricing_notes: list[str]
    totals: TotalsOut
    deductions_by_reason: list[ReasonTotalOut]
    lines: list[LineOut]
    problems: list[ProblemOut]
    reviews: list[ReviewOut] = Field(description="Auditors' line reviews, oldest first")
    appeals: list[AppealOut]
    payment_order_id: int | None
    history: list[EventOut]


class BatchOut(BaseModel):
    id: str
    status: BatchStatus
    format: str
    size: int = Field(description="Bytes of the file, decompressed")
    sha256: str = Field(description="SHA-256 of the file, decompressed")
    received_at: Instant
    started_at: Instant | None
    finished_at: Instant | None
    documents_read: int = Field(description="Documents stored so far, accepted or rejected")
    accepted: int
    rejected: int
    priced: int = Field(description="Documents that pricing has reached (priced or later)")
    errors: list[ProblemOut] = Field(
        description="Why the batch failed, located in the file (envelope problems)"
    )
    submission_id: str = Field(description="The submission its documents belong to")
    url: str
    acknowledgement_url: str | None = Field(
        description="Per-document outcomes, once the batch is done (JSON; CSV at .csv)"
    )
