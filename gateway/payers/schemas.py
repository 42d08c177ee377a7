"""Request and response models of the payers' API (finance and staff)."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, Field

from gateway.domain.payers import DiagnosisGroup, EarmarkKind

PERIOD = r"^\d{4}-(0[1-9]|1[0-2])$"
CODE = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,39}$"


class ProgrammeIn(BaseModel):
    code: str = Field(pattern=CODE, examples=["TEH-HARD"])
    name: str = Field(min_length=1, max_length=200, examples=["Tehran hard-to-treat patients"])
    province: str | None = Field(
        None, max_length=60, description="null: a national programme", examples=["Tehran"]
    )
    diagnosis_groups: list[DiagnosisGroup] = Field(min_length=1)
    patient_annual_ceiling: int = Field(ge=0, le=10**15, description="rials per patient a year")
    centres: list[str] = Field(
        default_factory=list, description="centre codes it pays; empty: every centre it reaches"
    )


class ProgrammeOut(BaseModel):
    code: str
    name: str
    province: str | None
    diagnosis_groups: list[DiagnosisGroup]
    patient_annual_ceiling: int
    centres: list[str]


class EnrolmentIn(BaseModel):
    programme: str = Field(pattern=CODE, examples=["TEH-HARD"])
    national_id: str = Field(pattern=r"^\d{10}$", examples=["0013542419"])
    diagnosis_group: DiagnosisGroup
    valid_from: date
    valid_to: date | None = None


class EnrolmentOut(BaseModel):
    id: int
    programme: str
    diagnosis_group: DiagnosisGroup
    valid_from: date
    valid_to: date | None


class DonationIn(BaseModel):
    donor: str = Field(min_length=1, max_length=200, examples=["Mr Ahmadi"])
    amount: int = Field(gt=0, le=10**15, description="rials", examples=[10_000_000_000])
    received_on: date
    earmark_kind: EarmarkKind | None = None
    earmark_value: str | None = Field(None, max_length=60)
    message: str = Field("", max_length=2000)


class DonationOut(BaseModel):
    receipt_number: str
    donor: str
    amount: int
    received_on: date
    earmark_kind: EarmarkKind | None
    earmark_value: str | None
    message: str
    given: int = Field(description="what has left it for patients' care, net of reversals")
    held: int = Field(description="what it still holds")


class ReportRowOut(BaseModel):
    month: str
    centre: str
    document_kind: str
    line_kind: str
    patients: int
    services: int
    amount: int


class DonorReportOut(BaseModel):
    donation: DonationOut
    total: int = Field(description="the sum of the rows: exactly what left the donation")
    rows: list[ReportRowOut]


class StatementLineOut(BaseModel):
    document_id: str
    external_id: str
    centre: str
    service_date: date
    patient_national_id: str
    insurance_number: str
    policy: str | None
    line_no: int
    code_type: str
    code: str
    amount: int


class InsurerStatementOut(BaseModel):
    insurer: str
    period: str
    documents: int
    total: int
    lines: list[StatementLineOut]
