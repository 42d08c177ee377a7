"""The referral programme's request and response models."""

from __future__ import annotations

from datetime import date, datetime
from enum import IntEnum
from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints

from gateway.domain.referrals import ReferralStatus

Icd10 = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Z][0-9]{2}(\.[0-9A-Z]{1,4})?$"),
    Field(description="An ICD-10 code", examples=["I20.9"]),
]
CouncilNumber = Annotated[str, StringConstraints(pattern=r"^[A-Z]{0,2}[0-9]{2,8}$")]
NationalId = Annotated[str, StringConstraints(pattern=r"^[0-9]{10}$")]
Specialty = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z\-]{1,39}$")]


class ReferredLevel(IntEnum):
    SPECIALIST = 2
    SUBSPECIALIST = 3


class ReferralIn(BaseModel):
    physician: CouncilNumber = Field(
        description="The issuing family physician's medical-council number", examples=["112233"]
    )
    patient: NationalId = Field(
        description="The national ID of a patient on the physician's list",
        examples=["0013542419"],
    )
    level: ReferredLevel = Field(
        description="Level of care referred to: 2 specialist, 3 sub-specialist"
    )
    specialty: Specialty | None = Field(
        default=None,
        description="The specialty referred to; any when absent",
        examples=["cardiology"],
    )
    reason: Icd10
    reason_text: str | None = Field(default=None, max_length=500)
    issued_on: date | None = Field(default=None, description="The day of issue; today when absent")
    visits: int = Field(default=1, ge=1, le=12, description="How many visits it covers")


class FeedbackIn(BaseModel):
    diagnosis: Icd10
    findings: str = Field(min_length=1, max_length=4000)
    plan: str = Field(min_length=1, max_length=4000)
    back_to_level1: bool = Field(
        description="Whether the patient goes back to the family physician's care"
    )


class FeedbackOut(BaseModel):
    diagnosis: str
    findings: str
    plan: str
    back_to_level1: bool
    given_at: datetime
    centre: str | None = Field(description="The code of the centre that gave it")


class ReferralOut(BaseModel):
    code: str = Field(description="The referral code (14 digits, the last a Luhn check digit)")
    status: ReferralStatus
    issuing_centre: str
    physician: str
    patient: str
    level: ReferredLevel
    specialty: str | None
    reason: str
    reason_text: str | None
    issued_on: date
    valid_until: date
    visits: int
    visits_used: int
    source: str = Field(description="How it was issued: api, document or fhir")
    feedback: FeedbackOut | None


class ReferralPage(BaseModel):
    items: list[ReferralOut]
    total: int
    limit: int
    offset: int
