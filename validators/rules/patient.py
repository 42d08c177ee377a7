"""Patient rules: the national ID's check digit, and coverage on the date of service."""

from __future__ import annotations

from operator import mul

from gateway.domain.documents import Document
from gateway.domain.registry import CoverageGap, coverage_on
from validators.context import RuleContext
from validators.problems import Problem
from validators.rules.paths import field_path

_WEIGHTS = range(10, 1, -1)


def national_id_is_valid(code: str) -> bool:
    """The Iranian national-code check: weights 10..2 over nine digits, modulo 11."""
    if len(code) != 10 or not code.isdigit() or len(set(code)) == 1:
        return False
    total: int = sum(map(mul, map(int, code[:9]), _WEIGHTS)) % 11
    check = int(code[9])
    return check == total if total < 2 else check == 11 - total


def check_national_id(document: Document, _: RuleContext) -> list[Problem]:
    if national_id_is_valid(document.patient.national_id):
        return []
    return [
        Problem(
            "patient.national-id-checksum",
            f"National ID {document.patient.national_id} fails its check digit.",
            field_path(document, "patient/nationalId"),
            document.line_no,
        )
    ]


def check_eligibility(document: Document, context: RuleContext) -> list[Problem]:
    """Covered on the service date (the admission date for a stay), under that number."""
    patient = document.patient
    if context.coverages is None or not national_id_is_valid(patient.national_id):
        return []  # an ID that fails its check digit is reported once, by its own rule
    on = document.admission_date or document.service_date
    periods = context.coverages.get(patient.national_id, [])
    _, gap = coverage_on(periods, patient.insurance_number, on)
    if gap is CoverageGap.NOT_INSURED:
        return [
            Problem(
                "patient.not-eligible",
                f"Patient {patient.national_id} is not covered on {on}.",
                field_path(document, "patient/nationalId"),
                document.line_no,
            )
        ]
    if gap is CoverageGap.NUMBER_MISMATCH:
        return [
            Problem(
                "patient.insurance-number-mismatch",
                f"Insurance number {patient.insurance_number} is not the one registered for "
                f"patient {patient.national_id}.",
                field_path(document, "patient/insuranceNumber"),
                document.line_no,
            )
        ]
    return []
