"""The document model: what a submission carries, independent of XML, JSON or FHIR."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum


class DocumentKind(StrEnum):
    OUTPATIENT_VISIT = "outpatientVisit"
    PRESCRIPTION = "prescription"
    PARACLINICAL = "paraclinical"
    INPATIENT_BILL = "inpatientBill"
    SURGERY_PACKAGE = "surgeryPackage"

    @property
    def setting(self) -> CareSetting:
        if self in (DocumentKind.INPATIENT_BILL, DocumentKind.SURGERY_PACKAGE):
            return CareSetting.INPATIENT
        return CareSetting.OUTPATIENT


class CareSetting(StrEnum):
    OUTPATIENT = "outpatient"
    INPATIENT = "inpatient"


def period_of_care(
    service_date: date, admission_date: date | None, discharge_date: date | None
) -> tuple[date, date]:
    """First and last day of care: the stay for an admission, else the service date. The
    filing window runs from the last day (the date rules and pricing both count so)."""
    if admission_date is not None:
        return admission_date, discharge_date or admission_date
    return service_date, service_date


class Purpose(StrEnum):
    """What a document asks: to be paid (a bill), or what would be paid (an estimate, from a
    FHIR Claim whose use is preauthorization or predetermination)."""

    CLAIM = "claim"
    PREAUTHORIZATION = "preauthorization"
    PREDETERMINATION = "predetermination"

    @property
    def is_estimate(self) -> bool:
        return self is not Purpose.CLAIM


class CodeType(StrEnum):
    SERVICE = "service"
    DRUG = "drug"


@dataclass(frozen=True, slots=True)
class Patient:
    national_id: str
    insurance_number: str
    full_name: str | None = None
    birth_date: date | None = None
    gender: str | None = None


@dataclass(frozen=True, slots=True)
class Physician:
    medical_council_number: str
    full_name: str | None = None
    grade: str = "general"
    specialty: str | None = None


@dataclass(slots=True)
class Line:
    """One billed line; money in integer rials. (Not frozen: thousands are built per second
    and a frozen dataclass pays for every field it sets.)"""

    code_type: CodeType
    code: str
    quantity: int
    unit_price: int
    amount: int
    service_date: date
    description: str | None = None


@dataclass(frozen=True, slots=True)
class IssuedReferral:
    """A referral a level-1 visit's family physician issues for the patient."""

    level: int
    reason: str
    specialty: str | None = None
    reason_text: str | None = None
    visits: int = 1


@dataclass(frozen=True, slots=True)
class ReferralFeedback:
    """A specialist visit's feedback to the family physician who referred the patient."""

    diagnosis: str
    findings: str
    plan: str
    back_to_level1: bool


def number_key(number: str, identifier_system: str) -> str:
    # A space never occurs in a document number, so the pair cannot be mistaken.
    return f"{number} {identifier_system}" if identifier_system else number


@dataclass(slots=True)
class Document:
    """A treatment document; ``path`` locates it in the submission it came in."""

    kind: DocumentKind
    number: str
    patient: Patient
    physician: Physician
    service_date: date
    total_amount: int
    lines: list[Line]
    path: str
    line_no: int | None = None
    referral_code: str | None = None
    tracking_code: str | None = None
    category: str | None = None
    package_code: str | None = None
    admission_date: date | None = None
    discharge_date: date | None = None
    identifier_system: str = ""  # of a FHIR Claim's identifier; its number is the value
    # The number of the centre's document this one replaces (voided if this is accepted),
    # and for a FHIR Claim the system of the identifier that number is the value of.
    replaces: str | None = None
    replaces_system: str = ""
    # The referral programme: a visit the patient came to without a referral, and an
    # emergency (which never needs one).
    self_referred: bool = False
    emergency: bool = False
    referrals_issued: list[IssuedReferral] = field(default_factory=list)
    referral_feedback: ReferralFeedback | None = None

    @property
    def duplicate_key(self) -> str:
        """What makes a document the same as another of its centre: its number, and for a
        FHIR Claim the system of the identifier the number is the value of."""
        return number_key(self.number, self.identifier_system)

    @property
    def replaces_key(self) -> str | None:
        """The duplicate key of the document this one replaces, if it replaces one."""
        if self.replaces is None:
            return None
        return number_key(self.replaces, self.replaces_system)

    @property
    def requested_amount(self) -> int:
        return sum(line.amount for line in self.lines)


@dataclass(slots=True)
class Submission:
    centre_code: str
    created_at: datetime
    documents: list[Document] = field(default_factory=list)
    submission_number: str | None = None
    software: str | None = None
    path: str = ""  # the root's path: "/submission" in XML, "" (the JSON root) in JSON
