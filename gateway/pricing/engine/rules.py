"""Pricing rules: pure functions, each behind one stable reason code.

A *denial* rule refuses a whole line (the requested amount is deducted in full under its
reason); the first denial that applies wins, in the order of ``DENIALS``. The partial
rules (above tariff, quantity above limit) then cut what remains of a line that is paid.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from enum import StrEnum

from gateway.domain.documents import CareSetting, CodeType, Line
from gateway.domain.money import round_rials
from gateway.domain.registry import CentreInfo, Coverage
from gateway.domain.tariff import Component, Grade, ItemKind, TariffBook, TariffItem


class Reason(StrEnum):
    """Stable deduction reason codes (documented in docs/pricing.md)."""

    OUTSIDE_CONTRACT = "outside-contract"
    PATIENT_NOT_ELIGIBLE = "patient-not-eligible"
    SUBMISSION_LATE = "submission-late"
    NOT_IN_TARIFF = "not-in-tariff"
    NOT_COVERED = "not-covered"
    NOT_FOR_SETTING = "not-for-setting"
    MISSING_REFERRAL = "missing-referral"
    DUPLICATE_LINE = "duplicate-line"
    COVERED_BY_PACKAGE = "covered-by-package"
    ABOVE_TARIFF = "above-tariff"
    QUANTITY_ABOVE_LIMIT = "quantity-above-limit"


@dataclass(frozen=True, slots=True)
class PricingRequest:
    """Everything pricing needs about one document, read before pricing starts.

    ``coverage`` is the patient's coverage periods from the register; ``insurance_number``
    the number the document gives, which must be one of the patient's (None: not
    checked); ``billed_earlier`` the (code, service date) pairs that bills of this patient
    received before this document list, each with words naming the earliest such bill.
    ``filed_on`` is the day the document was received and ``filing_deadline`` the last day
    it could be (None: not checked).
    """

    centre: CentreInfo
    setting: CareSetting
    lines: Sequence[Line]
    grade: Grade | None = None
    referral_code: str | None = None
    referral_mandatory: bool = False
    coverage: Sequence[Coverage] = ()
    package_code: str | None = None
    package_date: date | None = None
    billed_earlier: Mapping[tuple[str, date], str] = field(default_factory=dict)
    insurance_number: str | None = None
    filed_on: date | None = None
    filing_deadline: date | None = None
    # The referral programme: a self-referred visit where the programme applies is paid
    # with this co-payment rate instead of being refused; an emergency needs no referral.
    self_referral_rate: Decimal | None = None
    emergency: bool = False


@dataclass(frozen=True, slots=True)
class Denial:
    reason: Reason
    detail: str


@dataclass(slots=True)
class LineState:
    """What the rules learn about one line as they run over the document in order."""

    seen: set[tuple[str, date]] = field(default_factory=set)


def outside_contract(
    line: Line, item: TariffItem | None, request: PricingRequest, state: LineState
) -> Denial | None:
    if request.centre.under_contract(line.service_date):
        return None
    centre = request.centre
    period = f"{centre.contract_from or '...'} to {centre.contract_to or '...'}"
    return Denial(
        Reason.OUTSIDE_CONTRACT,
        f"service on {line.service_date} is outside {centre.code}'s contract ({period})",
    )


def patient_not_eligible(
    line: Line, item: TariffItem | None, request: PricingRequest, state: LineState
) -> Denial | None:
    on = line.service_date
    in_force = [c for c in request.coverage if c.in_force(on)]
    if not in_force:
        return Denial(Reason.PATIENT_NOT_ELIGIBLE, f"the patient is not insured on {on}")
    # The number must be one of the patient's (a stay may run across a change of number,
    # so not necessarily the one in force on this line's date).
    number = request.insurance_number
    if number is None or any(c.insurance_number == number for c in request.coverage):
        return None
    return Denial(
        Reason.PATIENT_NOT_ELIGIBLE,
        f"insurance number {number} is not one the patient is registered under",
    )


def submission_late(
    line: Line, item: TariffItem | None, request: PricingRequest, state: LineState
) -> Denial | None:
    filed, deadline = request.filed_on, request.filing_deadline
    if filed is None or deadline is None or filed <= deadline:
        return None
    return Denial(
        Reason.SUBMISSION_LATE,
        f"received on {filed}, after the last day for filing this document ({deadline})",
    )


def not_in_tariff(
    line: Line, item: TariffItem | None, request: PricingRequest, state: LineState
) -> Denial | None:
    if item is not None and (line.code_type is CodeType.DRUG) == (item.kind is ItemKind.DRUG):
        return None
    return Denial(
        Reason.NOT_IN_TARIFF,
        f"{line.code_type} {line.code} is not in the tariff in force on {line.service_date}",
    )


def not_covered(
    line: Line, item: TariffItem | None, request: PricingRequest, state: LineState
) -> Denial | None:
    if item is None or item.covered:
        return None
    return Denial(Reason.NOT_COVERED, f"{item.code} ({item.title}) is not covered")


def not_for_setting(
    line: Line, item: TariffItem | None, request: PricingRequest, state: LineState
) -> Denial | None:
    if item is None or item.applies_to(request.setting.value):
        return None
    return Denial(
        Reason.NOT_FOR_SETTING,
        f"{item.code} is payable only in {item.setting} care, this is {request.setting} care",
    )


def missing_referral(
    line: Line, item: TariffItem | None, request: PricingRequest, state: LineState
) -> Denial | None:
    if item is None or not item.referral_required or not request.referral_mandatory:
        return None
    if request.emergency or request.self_referral_rate is not None:
        return None
    if request.referral_code:
        return None
    return Denial(
        Reason.MISSING_REFERRAL,
        f"{item.code} needs a family-physician referral in {request.centre.province}; "
        "the document has none",
    )


def duplicate_line(
    line: Line, item: TariffItem | None, request: PricingRequest, state: LineState
) -> Denial | None:
    key = (line.code, line.service_date)
    earlier = request.billed_earlier.get(key)
    if earlier is not None:
        return Denial(
            Reason.DUPLICATE_LINE,
            f"{line.code} on {line.service_date} is already billed for this patient in {earlier}",
        )
    if key in state.seen:
        return Denial(
            Reason.DUPLICATE_LINE,
            f"{line.code} on {line.service_date} is billed on an earlier line of this document",
        )
    state.seen.add(key)
    return None


Rule = Callable[[Line, TariffItem | None, PricingRequest, LineState], Denial | None]

# The order matters: the first rule that refuses a line names the reason.
DENIALS: tuple[Rule, ...] = (
    outside_contract,
    patient_not_eligible,
    submission_late,
    not_in_tariff,
    not_covered,
    not_for_setting,
    missing_referral,
    duplicate_line,
)


def first_denial(
    line: Line, item: TariffItem | None, request: PricingRequest, state: LineState
) -> Denial | None:
    for rule in DENIALS:
        denial = rule(line, item, request, state)
        if denial is not None:
            return denial
    return None


@dataclass(frozen=True, slots=True)
class Term:
    """One component of a service's unit price: units x K."""

    component: Component
    units: Decimal
    k: int


@dataclass(frozen=True, slots=True)
class UnitPrice:
    """The tariff's price of one unit, and what it was made of."""

    basis: str  # "rvu" for services, "drug" or "package" for fixed prices
    price: int
    terms: tuple[Term, ...] = ()


_COMPONENTS = (
    (Component.PROFESSIONAL, "professional_rvu"),
    (Component.TECHNICAL, "technical_rvu"),
    (Component.ANESTHESIA, "anesthesia_rvu"),
)


def tariff_unit_price(
    item: TariffItem, book: TariffBook, request: PricingRequest, on: date
) -> UnitPrice | Denial:
    """round(prof RVU x K_prof + tech RVU x K_tech + anesth RVU x K_anesth), or a drug's
    price in force; a missing K or price is a denial (the tariff cannot price it)."""
    if item.kind is not ItemKind.SERVICE:
        if item.unit_price is None:
            return Denial(Reason.NOT_IN_TARIFF, f"{item.code} has no unit price on {on}")
        return UnitPrice(item.kind.value, item.unit_price)
    sector = request.centre.sector
    total = Decimal(0)
    terms: list[Term] = []
    for component, attribute in _COMPONENTS:
        units: Decimal = getattr(item, attribute)
        if not units:
            continue
        k = book.k(sector, component, on, request.grade)
        if k is None:
            return Denial(Reason.NOT_IN_TARIFF, f"no {component} K for {sector} on {on}")
        total += units * k
        terms.append(Term(component, units, k))
    return UnitPrice("rvu", round_rials(total), tuple(terms))


_unit_prices: tuple[TariffBook | None, dict[tuple[object, ...], UnitPrice | Denial]] = (None, {})


def unit_price_in_force(
    item: TariffItem, book: TariffBook, request: PricingRequest, on: date
) -> UnitPrice | Denial:
    """``tariff_unit_price`` of the book's item in force on ``on``, remembered per book:
    within one book the answer depends only on the item, the date, the sector and the
    physician grade, and a batch asks the same few hundred questions tens of thousands
    of times."""
    global _unit_prices  # one memo, replaced whole when the book changes
    owner, memo = _unit_prices
    if owner is not book:
        memo = {}
        _unit_prices = (book, memo)
    key = (item.code, item.valid_from, on, request.centre.sector, request.grade)
    found = memo.get(key)
    if found is None:
        if len(memo) > 100_000:
            memo.clear()
        found = memo[key] = tariff_unit_price(item, book, request, on)
    return found


def above_tariff(line: Line, unit: int) -> Denial | None:
    if line.unit_price <= unit:
        return None
    return Denial(Reason.ABOVE_TARIFF, f"requested {line.unit_price:,} per unit, tariff {unit:,}")


def payable_quantity(line: Line, item: TariffItem, used: int) -> int:
    """How many of the line's units fit under the item's per-document limit, given the
    units of the same code already paid on earlier lines."""
    if item.max_quantity is None:
        return line.quantity
    return max(0, min(line.quantity, item.max_quantity - used))
