"""The eligibility inquiry's request and answer, as the OpenAPI document shows them.

Field patterns are the submission XSD's (national ID, insurance number, tariff code), so
an inquiry takes exactly the values a document may carry.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from gateway.domain.documents import CodeType, DocumentKind

MAX_SERVICES = 100


class VisitSetting(StrEnum):
    """The kind of care asked about; it sets the co-payment rate and the items' setting
    check, as the document type does in pricing (docs/pricing.md, question 3)."""

    OUTPATIENT = "outpatient"
    INPATIENT = "inpatient"
    PARACLINICAL = "paraclinical"
    PRESCRIPTION = "prescription"
    SURGERY_PACKAGE = "surgery_package"

    @property
    def document_kind(self) -> DocumentKind:
        return _KINDS[self]


_KINDS = {
    VisitSetting.OUTPATIENT: DocumentKind.OUTPATIENT_VISIT,
    VisitSetting.INPATIENT: DocumentKind.INPATIENT_BILL,
    VisitSetting.PARACLINICAL: DocumentKind.PARACLINICAL,
    VisitSetting.PRESCRIPTION: DocumentKind.PRESCRIPTION,
    VisitSetting.SURGERY_PACKAGE: DocumentKind.SURGERY_PACKAGE,
}


class ServiceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code_type: CodeType
    code: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9.\-]{0,19}$", examples=["970005"])


class EligibilityIn(BaseModel):
    """Who, under which number, on which day, in which kind of care; the centre is the
    token's, never named in the body."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "national_id": "6383233564",
                    "insurance_number": "55501234",
                    "service_date": "2026-11-25",
                    "setting": "outpatient",
                    "services": [
                        {"code_type": "service", "code": "970005"},
                        {"code_type": "service", "code": "600100"},
                    ],
                }
            ]
        },
    )

    national_id: str = Field(pattern=r"^[0-9]{10}$", examples=["6383233564"])
    insurance_number: str = Field(pattern=r"^[0-9]{6,16}$", examples=["55501234"])
    service_date: date = Field(description="The day of care asked about (YYYY-MM-DD)")
    setting: VisitSetting = VisitSetting.OUTPATIENT
    services: list[ServiceIn] = Field(default_factory=list, max_length=MAX_SERVICES)


class ReasonOut(BaseModel):
    code: str = Field(examples=["patient.not-eligible"])
    message: str
    path: str = Field(description="JSON pointer to the request field the reason is about")


class CoverageOut(BaseModel):
    """The register's period in force on the day under the number asked about."""

    insurance_number: str
    valid_from: date
    valid_to: date | None = Field(description="Last day covered; null: open-ended")


class ServiceOut(BaseModel):
    code_type: CodeType
    code: str
    title: str | None = Field(description="The tariff's title; null when not in the tariff")
    covered: bool = Field(description="The tariff pays this code in this setting on the day")
    reasons: list[ReasonOut] = Field(description="Why not: pricing's deduction reason codes")
    referral_required: bool = Field(
        description="A family-physician referral code must be on the document (the item needs "
        "one and the referral programme's rollout table applies to the centre on the day: "
        "docs/referrals.md)"
    )
    quantity_limit: int | None = Field(
        description="Units of this code the tariff pays per document; null: no limit"
    )
    quantity_period: str = Field(description="The month quantity_used counts (YYYY-MM)")
    quantity_used: int = Field(
        description="Units of this code already billed for the patient in that month, by any "
        "centre, in documents not rejected or voided"
    )
    quantity_left: int | None = Field(
        description="Units a document for the day can still be paid: 0 when the code is "
        "already billed for the patient that day (pricing deducts it as duplicate-line), "
        "else quantity_limit"
    )


_ANSWER_EXAMPLE: dict[str, JsonValue] = {
    "inquiry_id": "1d0c5d43-8a8e-4b61-9f0e-6f3c2f1f7a52",
    "covered": True,
    "reasons": [],
    "centre_code": "DEMO-001",
    "service_date": "2026-11-25",
    "setting": "outpatient",
    "coverage": {"insurance_number": "55501234", "valid_from": "2024-01-01",
                 "valid_to": "2027-03-20"},
    "copayment_rate": "0.30",
    "copayment_rate_percent": "30",
    "services": [
        {"code_type": "service", "code": "970005", "title": "Specialist visit",
         "covered": True, "reasons": [], "referral_required": True, "quantity_limit": 1,
         "quantity_period": "2026-11", "quantity_used": 0, "quantity_left": 1},
        {"code_type": "service", "code": "300100", "title": "General ward bed-day",
         "covered": False,
         "reasons": [{"code": "not-for-setting", "path": "/services/1/code",
                      "message": "300100 is payable only in inpatient care, this is "
                                 "outpatient care"}],
         "referral_required": False, "quantity_limit": 60, "quantity_period": "2026-11",
         "quantity_used": 0, "quantity_left": 60},
    ],
}  # fmt: skip


class EligibilityOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [_ANSWER_EXAMPLE]})

    inquiry_id: str = Field(description="Names this inquiry in the audit trail")
    covered: bool = Field(
        description="The patient is insured under that number on the day and the centre "
        "may bill for it; nothing is paid otherwise, whatever the services' answers"
    )
    reasons: list[ReasonOut] = Field(description="Why not: the submission check's problem codes")
    centre_code: str
    service_date: date
    setting: VisitSetting
    coverage: CoverageOut | None
    copayment_rate: str = Field(
        description="The patient's share of the eligible amount at this centre in this "
        "setting, exactly as pricing applies it",
        examples=["0.30"],
    )
    copayment_rate_percent: str = Field(examples=["30"])
    services: list[ServiceOut]
