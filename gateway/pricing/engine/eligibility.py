"""Eligibility before care: what the door and pricing would make of care not yet billed.

Pure. Nothing here restates a rule: the patient's coverage is judged by the submission
check's ``coverage_on``, the centre's contract by ``CentreInfo.under_contract``, each
service by pricing's own line rules (run on a one-unit line dated the day of care), the
referral by pricing's ``missing_referral`` and the co-payment by pricing's ``CopayPolicy``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from gateway.domain.documents import CareSetting, CodeType, Line
from gateway.domain.registry import CentreInfo, Coverage, CoverageGap, coverage_on
from gateway.domain.tariff import TariffBook, TariffItem
from gateway.pricing.engine.adjudicate import CopayPolicy
from gateway.pricing.engine.rules import (
    Denial,
    LineState,
    PricingRequest,
    Reason,
    Rule,
    duplicate_line,
    missing_referral,
    not_covered,
    not_for_setting,
    not_in_tariff,
    submission_late,
    unit_price_in_force,
)
from validators.rules.patient import national_id_is_valid

# Pricing's line rules that judge the service itself, in pricing's order. The others
# (contract, coverage, filing window) judge the patient and the centre, answered once.
SERVICE_RULES: tuple[Rule, ...] = (not_in_tariff, not_covered, not_for_setting, duplicate_line)


@dataclass(frozen=True, slots=True)
class Finding:
    """Why something is not covered: a stable code, words, and the request field."""

    code: str
    message: str
    path: str


@dataclass(frozen=True, slots=True)
class Inquiry:
    """One question: this patient, under this number, at this centre, on this day.

    ``coverage`` is the patient's registered periods; ``billed_on_day`` the codes that
    live bills of the patient already list on ``on``, each with words naming the bill.
    ``filed_on`` and ``filing_window_days`` judge whether a bill for outpatient care on
    ``on`` sent today would be late (a stay's window runs from a discharge not yet known).
    """

    centre: CentreInfo
    setting: CareSetting
    national_id: str
    insurance_number: str
    on: date
    coverage: Sequence[Coverage]
    referral_mandatory: bool
    billed_on_day: Mapping[str, str]
    filed_on: date | None = None  # the day a bill would be received (today); None: unchecked
    filing_window_days: int = 90


@dataclass(frozen=True, slots=True)
class ServiceAnswer:
    code_type: CodeType
    code: str
    title: str | None
    covered: bool
    reasons: tuple[Finding, ...]
    referral_required: bool
    quantity_limit: int | None  # per document, as pricing counts it


@dataclass(frozen=True, slots=True)
class Answer:
    covered: bool
    reasons: tuple[Finding, ...]
    coverage: Coverage | None
    copay_rate: Decimal
    services: tuple[ServiceAnswer, ...]


def assess(
    inquiry: Inquiry,
    services: Sequence[tuple[CodeType, str]],
    book: TariffBook | None,
    policy: CopayPolicy,
) -> Answer:
    """The patient's cover at the centre on the day, and each asked service's."""
    request = _request(inquiry)
    period, reasons = _patient(inquiry, request)
    answers = tuple(
        _service(index, code_type, code, inquiry.on, book, request)
        for index, (code_type, code) in enumerate(services)
    )
    return Answer(
        covered=not reasons,
        reasons=tuple(reasons),
        coverage=period,
        copay_rate=policy.rate(inquiry.centre.kind, inquiry.setting),
        services=answers,
    )


def _request(inquiry: Inquiry) -> PricingRequest:
    """What pricing would know of a bill for this care, sent today."""
    window = timedelta(days=inquiry.filing_window_days)
    late = (
        inquiry.filed_on is not None
        and inquiry.setting is CareSetting.OUTPATIENT
        and inquiry.on <= date.max - window  # a day later than that is not yet late
    )
    return PricingRequest(
        centre=inquiry.centre,
        setting=inquiry.setting,
        lines=(),
        referral_mandatory=inquiry.referral_mandatory,
        coverage=inquiry.coverage,
        billed_earlier={(code, inquiry.on): words for code, words in inquiry.billed_on_day.items()},
        insurance_number=inquiry.insurance_number,
        filed_on=inquiry.filed_on if late else None,
        filing_deadline=inquiry.on + window if late else None,
    )


def _patient(inquiry: Inquiry, request: PricingRequest) -> tuple[Coverage | None, list[Finding]]:
    """The door's judgement of the patient and the centre on the day (its problem codes)."""
    reasons: list[Finding] = []
    period: Coverage | None = None
    if not national_id_is_valid(inquiry.national_id):
        message = f"National ID {inquiry.national_id} fails its check digit."
        reasons.append(Finding("patient.national-id-checksum", message, "/national_id"))
    else:
        period, gap = coverage_on(inquiry.coverage, inquiry.insurance_number, inquiry.on)
        if gap is CoverageGap.NOT_INSURED:
            message = f"Patient {inquiry.national_id} is not covered on {inquiry.on}."
            reasons.append(Finding("patient.not-eligible", message, "/service_date"))
        elif gap is CoverageGap.NUMBER_MISMATCH:
            message = (
                f"Insurance number {inquiry.insurance_number} is not the one registered for "
                f"patient {inquiry.national_id} on {inquiry.on}."
            )
            reasons.append(
                Finding("patient.insurance-number-mismatch", message, "/insurance_number")
            )
    centre = inquiry.centre
    if not centre.under_contract(inquiry.on):
        span = f"{centre.contract_from or '...'} to {centre.contract_to or '...'}"
        message = f"Centre {centre.code} has no contract in force on {inquiry.on} ({span})."
        reasons.append(Finding("centre.contract-inactive", message, "/service_date"))
    probe = Line(CodeType.SERVICE, "", 1, 0, 0, inquiry.on)
    late = submission_late(probe, None, request, LineState())
    if late is not None:  # the door refuses such a bill, and pricing would deduct it
        reasons.append(Finding("date.submission-late", late.detail, "/service_date"))
    return period, reasons


def _service(
    index: int,
    code_type: CodeType,
    code: str,
    on: date,
    book: TariffBook | None,
    request: PricingRequest,
) -> ServiceAnswer:
    path = f"/services/{index}/code"
    if book is None:
        finding = Finding("tariff.unavailable", "No tariff book is imported yet.", path)
        return ServiceAnswer(code_type, code, None, False, (finding,), False, None)
    probe = Line(code_type, code, 1, 0, 0, on)
    item = book.item(code, on)
    denials = [
        denial
        for rule in SERVICE_RULES
        if (denial := rule(probe, item, request, LineState())) is not None
    ]
    if denials and denials[0].reason is Reason.NOT_IN_TARIFF:
        # Not this code as this kind (a drug asked as a service): what the tariff says of
        # another kind's row would mislead.
        denials, item = denials[:1], None
    if item is not None and not denials:
        priced = unit_price_in_force(item, book, request, on)
        if isinstance(priced, Denial):  # no K for the centre's sector on the day
            denials.append(priced)
    return ServiceAnswer(
        code_type=code_type,
        code=code,
        title=None if item is None else item.title,
        covered=not denials,
        reasons=tuple(Finding(d.reason.value, d.detail, path) for d in denials),
        referral_required=missing_referral(probe, item, request, LineState()) is not None,
        quantity_limit=_limit(item),
    )


def _limit(item: TariffItem | None) -> int | None:
    return None if item is None else item.max_quantity
