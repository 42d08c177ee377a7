"""Line-by-line pricing of one document against a tariff book. Pure and deterministic."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum

from gateway.domain.centres import CentreKind, Sector
from gateway.domain.documents import CareSetting, CodeType, Line
from gateway.domain.tariff import Component, ItemKind, TariffBook, TariffItem
from workers.pricing.money import round_rials


class Reason(StrEnum):
    """Stable deduction reason codes."""

    ABOVE_TARIFF = "above-tariff"
    NOT_IN_TARIFF = "not-in-tariff"
    NOT_COVERED = "not-covered"
    QUANTITY_ABOVE_LIMIT = "quantity-above-limit"


@dataclass(frozen=True, slots=True)
class CopayPolicy:
    """The patient's share of the eligible amount, by where and how care was given."""

    outpatient: Decimal = Decimal("0.30")
    inpatient: Decimal = Decimal("0.10")

    def rate(self, centre_kind: CentreKind, setting: CareSetting) -> Decimal:
        if centre_kind is CentreKind.OWNED:
            return Decimal(0)
        return self.inpatient if setting is CareSetting.INPATIENT else self.outpatient


@dataclass(frozen=True, slots=True)
class PricingRequest:
    centre_kind: CentreKind
    sector: Sector
    setting: CareSetting
    lines: list[Line]


@dataclass(frozen=True, slots=True)
class Deduction:
    reason: Reason
    amount: int
    detail: str


@dataclass(frozen=True, slots=True)
class LinePrice:
    line_no: int
    requested: int
    tariff_unit_price: int | None
    eligible: int
    copayment: int
    insurer_share: int
    deductions: tuple[Deduction, ...]
    explanation: str

    @property
    def deducted(self) -> int:
        return sum(d.amount for d in self.deductions)


@dataclass(slots=True)
class DocumentPrice:
    tariff_version_id: int
    copay_rate: Decimal
    lines: list[LinePrice] = field(default_factory=list)

    @property
    def requested(self) -> int:
        return sum(line.requested for line in self.lines)

    @property
    def eligible(self) -> int:
        return sum(line.eligible for line in self.lines)

    @property
    def deducted(self) -> int:
        return sum(line.deducted for line in self.lines)

    @property
    def copayment(self) -> int:
        return sum(line.copayment for line in self.lines)

    @property
    def insurer_share(self) -> int:
        return sum(line.insurer_share for line in self.lines)


_COMPONENTS = (
    (Component.PROFESSIONAL, "professional_rvu"),
    (Component.TECHNICAL, "technical_rvu"),
    (Component.ANESTHESIA, "anesthesia_rvu"),
)


def tariff_unit_price(
    item: TariffItem, book: TariffBook, sector: Sector, line: Line
) -> tuple[int | None, str]:
    """The tariff's price of one unit with how it was computed, or None and why not."""
    if item.kind is not ItemKind.SERVICE:
        if item.unit_price is None:
            return None, f"{item.code} has no unit price"
        return item.unit_price, f"{item.kind} unit price {item.unit_price:,} rials"
    total = Decimal(0)
    terms: list[str] = []
    for component, attribute in _COMPONENTS:
        units: Decimal = getattr(item, attribute)
        if not units:
            continue
        k = book.k(sector, component, line.service_date)
        if k is None:
            return None, f"no {component} K for {sector} on {line.service_date}"
        total += units * k
        terms.append(f"{units.normalize():f} {component} RVU x K {k:,}")
    price = round_rials(total)
    return price, " + ".join(terms or ["0 RVU"]) + f" = {price:,} rials per unit"


def price_document(request: PricingRequest, book: TariffBook, policy: CopayPolicy) -> DocumentPrice:
    """Price every line; a line's requested amount = eligible + its deductions, exactly."""
    rate = policy.rate(request.centre_kind, request.setting)
    result = DocumentPrice(tariff_version_id=book.version_id, copay_rate=rate)
    used_quantity: dict[str, int] = defaultdict(int)
    for line_no, line in enumerate(request.lines, start=1):
        result.lines.append(_price_line(line_no, line, request, book, rate, used_quantity))
    return result


def _price_line(
    line_no: int,
    line: Line,
    request: PricingRequest,
    book: TariffBook,
    rate: Decimal,
    used_quantity: dict[str, int],
) -> LinePrice:
    requested = line.quantity * line.unit_price
    item = book.item(line.code, line.service_date)
    if item is None or (line.code_type is CodeType.DRUG) != (item.kind is ItemKind.DRUG):
        detail = (
            f"{line.code_type} {line.code} is not in the tariff in force on {line.service_date}"
        )
        return _rejected_line(line_no, requested, Reason.NOT_IN_TARIFF, detail)
    if not item.covered:
        detail = f"{item.code} ({item.title}) is not covered"
        return _rejected_line(line_no, requested, Reason.NOT_COVERED, detail)
    unit, how = tariff_unit_price(item, book, request.sector, line)
    if unit is None:
        return _rejected_line(line_no, requested, Reason.NOT_IN_TARIFF, how)

    deductions: list[Deduction] = []
    allowed = line.quantity
    if item.max_quantity is not None:
        remaining = max(item.max_quantity - used_quantity[item.code], 0)
        allowed = min(line.quantity, remaining)
    used_quantity[item.code] += line.quantity
    eligible_unit = min(line.unit_price, unit)
    if line.unit_price > unit:
        excess = (line.unit_price - unit) * line.quantity
        deductions.append(
            Deduction(
                Reason.ABOVE_TARIFF,
                excess,
                f"requested {line.unit_price:,} per unit, tariff {unit:,}",
            )
        )
    if allowed < line.quantity:
        over = (line.quantity - allowed) * eligible_unit
        deductions.append(
            Deduction(
                Reason.QUANTITY_ABOVE_LIMIT,
                over,
                f"{line.quantity - allowed} unit(s) above the limit of {item.max_quantity} "
                "per document",
            )
        )
    eligible = eligible_unit * allowed
    copayment = round_rials(eligible * rate)
    return LinePrice(
        line_no=line_no,
        requested=requested,
        tariff_unit_price=unit,
        eligible=eligible,
        copayment=copayment,
        insurer_share=eligible - copayment,
        deductions=tuple(deductions),
        explanation=f"{how}; eligible {eligible_unit:,} x {allowed} = {eligible:,}; "
        f"co-payment {rate * 100:.0f}% = {copayment:,}",
    )


def _rejected_line(line_no: int, requested: int, reason: Reason, detail: str) -> LinePrice:
    return LinePrice(
        line_no=line_no,
        requested=requested,
        tariff_unit_price=None,
        eligible=0,
        copayment=0,
        insurer_share=0,
        deductions=(Deduction(reason, requested, detail),) if requested else (),
        explanation=f"deducted in full: {detail}",
    )
