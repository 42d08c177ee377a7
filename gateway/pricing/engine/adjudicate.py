"""Line-by-line pricing of one document against a tariff book. Pure and deterministic.

Every line balances exactly: requested = eligible + deductions, and eligible =
co-payment + insurer share. Document totals are sums of lines.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from gateway.domain.centres import CentreKind
from gateway.domain.documents import CareSetting, Line
from gateway.domain.money import round_rials
from gateway.domain.tariff import TariffBook
from gateway.pricing.engine.memo import ByIdentity
from gateway.pricing.engine.rules import (
    Denial,
    LineState,
    PricingRequest,
    Reason,
    Term,
    UnitPrice,
    above_tariff,
    first_denial,
    payable_quantity,
    unit_price_in_force,
)

__all__ = [
    "SELF_REFERRED",
    "CopayPolicy",
    "Deduction",
    "DocumentPrice",
    "LinePrice",
    "PricingRequest",
    "Reason",
    "price_document",
]

_ZERO = Decimal(0)
# The reason code on each line of a self-referred visit priced under the referral
# programme's self-referral policy (docs/referrals.md).
SELF_REFERRED = "referral.self-referred"


@dataclass(frozen=True, slots=True)
class CopayPolicy:
    """The patient's share of the eligible amount, by centre kind and care setting."""

    outpatient: Decimal = Decimal("0.30")
    inpatient: Decimal = Decimal("0.10")
    owned_outpatient: Decimal = _ZERO
    owned_inpatient: Decimal = _ZERO

    def rate(self, centre_kind: CentreKind, setting: CareSetting) -> Decimal:
        rates: Mapping[tuple[CentreKind, CareSetting], Decimal] = {
            (CentreKind.OWNED, CareSetting.OUTPATIENT): self.owned_outpatient,
            (CentreKind.OWNED, CareSetting.INPATIENT): self.owned_inpatient,
            (CentreKind.CONTRACTED, CareSetting.OUTPATIENT): self.outpatient,
            (CentreKind.CONTRACTED, CareSetting.INPATIENT): self.inpatient,
        }
        return rates[(centre_kind, setting)]


# Deductions and line prices are built tens of thousands of times a second and never
# changed: plain slotted classes (a frozen dataclass pays for every field it sets).
@dataclass(slots=True)
class Deduction:
    reason: Reason
    amount: int
    detail: str


@dataclass(slots=True)
class LinePrice:
    """A priced line with the figures that explain it."""

    line_no: int
    code: str
    requested: int
    unit: UnitPrice | None
    allowed_quantity: int
    eligible: int
    copay_rate: Decimal
    copayment: int
    insurer_share: int
    deductions: tuple[Deduction, ...]
    copay_reason: str | None = None  # why the rate differs from the centre's usual one

    @property
    def tariff_unit_price(self) -> int | None:
        """The tariff's price of one unit; None when the line is refused, or paid within a
        package (the package has one price for all its lines, not a price per unit)."""
        unit = self.unit
        return None if unit is None or unit.basis == "package" else unit.price

    @property
    def deducted(self) -> int:
        return sum(d.amount for d in self.deductions)

    @property
    def explanation(self) -> str:
        return explain(self)


@dataclass(slots=True)
class DocumentPrice:
    tariff_version_id: int
    copay_rate: Decimal
    lines: list[LinePrice] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

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


@dataclass(frozen=True, slots=True)
class _Package:
    code: str
    price: int
    contents: frozenset[str]


def price_document(request: PricingRequest, book: TariffBook, policy: CopayPolicy) -> DocumentPrice:
    """Price every line of one document, in order."""
    rate = policy.rate(request.centre.kind, request.setting)
    copay_reason = None
    if request.self_referral_rate is not None and request.self_referral_rate > rate:
        rate, copay_reason = request.self_referral_rate, SELF_REFERRED
    result = DocumentPrice(tariff_version_id=book.version_id, copay_rate=rate)
    package = _package(request, book, result.notes)
    state = LineState()
    used: dict[str, int] = defaultdict(int)
    priced: dict[int, LinePrice] = {}
    in_package: list[tuple[int, Line, int, int | None]] = []
    for line_no, line in enumerate(request.lines, start=1):
        requested = line.quantity * line.unit_price
        item = book.item(line.code, line.service_date)
        denial = first_denial(line, item, request, state)
        if denial is None and item is not None:
            if package is not None and line.code in package.contents:
                # The per-document limit holds inside a package too: units beyond it do
                # not raise the amount the package's price is capped at.
                allowed = payable_quantity(line, item, used[item.code])
                used[item.code] += line.quantity
                in_package.append((line_no, line, allowed, item.max_quantity))
                continue
            unit = unit_price_in_force(item, book, request, line.service_date)
            if isinstance(unit, UnitPrice):
                allowed = payable_quantity(line, item, used[item.code])
                used[item.code] += line.quantity
                priced[line_no] = _paid_line(
                    line_no, line, requested, unit, (allowed, item.max_quantity), rate
                )
                continue
            denial = unit
        assert denial is not None
        priced[line_no] = _denied_line(line_no, line, requested, denial, rate)
    if package is not None:
        priced.update(_package_lines(package, in_package, rate))
    result.lines = [priced[n] for n in sorted(priced)]
    if copay_reason is not None:
        for priced_line in result.lines:
            priced_line.copay_reason = copay_reason
        result.notes.append(
            f"{SELF_REFERRED}: a specialist visit without a family-physician referral; "
            f"the patient pays {_percent(rate)}% under the programme's self-referral policy"
        )
    return result


def _package(request: PricingRequest, book: TariffBook, notes: list[str]) -> _Package | None:
    code, on = request.package_code, request.package_date
    if code is None or on is None:
        return None
    item = book.item(code, on)
    price = book.package_price(code, request.centre.sector, on)
    if item is None or not item.covered or price is None:
        notes.append(
            f"package {code} has no price for {request.centre.sector} on {on}; "
            "lines are priced one by one"
        )
        return None
    notes.append(
        f"package {code} ({item.title}): {price:,} rials for {request.centre.sector} on {on}, "
        "in place of the lines it covers"
    )
    return _Package(code, price, book.package_contents(code))


def _paid_line(
    line_no: int,
    line: Line,
    requested: int,
    unit: UnitPrice,
    quantity: tuple[int, int | None],
    rate: Decimal,
) -> LinePrice:
    allowed, limit = quantity
    deductions: list[Deduction] = []
    excess = above_tariff(line, unit.price)
    eligible_unit = min(line.unit_price, unit.price)
    if excess is not None:
        amount = (line.unit_price - unit.price) * line.quantity
        deductions.append(Deduction(excess.reason, amount, excess.detail))
    if allowed < line.quantity:
        over = line.quantity - allowed
        if over * eligible_unit:
            deductions.append(
                Deduction(
                    Reason.QUANTITY_ABOVE_LIMIT,
                    over * eligible_unit,
                    f"{over} unit(s) of {line.code} above the limit of {limit} per document",
                )
            )
    eligible = eligible_unit * allowed
    copayment = round_rials(eligible * rate)
    return LinePrice(
        line_no=line_no,
        code=line.code,
        requested=requested,
        unit=unit,
        allowed_quantity=allowed,
        eligible=eligible,
        copay_rate=rate,
        copayment=copayment,
        insurer_share=eligible - copayment,
        deductions=tuple(deductions),
    )


def _denied_line(
    line_no: int, line: Line, requested: int, denial: Denial, rate: Decimal
) -> LinePrice:
    deductions = (Deduction(denial.reason, requested, denial.detail),) if requested else ()
    return LinePrice(
        line_no=line_no,
        code=line.code,
        requested=requested,
        unit=None,
        allowed_quantity=0,
        eligible=0,
        copay_rate=rate,
        copayment=0,
        insurer_share=0,
        deductions=deductions,
    )


def _package_lines(
    package: _Package, lines: list[tuple[int, Line, int, int | None]], rate: Decimal
) -> dict[int, LinePrice]:
    """The package's price, capped at what its covered lines request within their quantity
    limits, is spread over those lines in order; units beyond a limit are deducted as
    ``quantity-above-limit``, and what a line requests beyond its part of the package as
    ``covered-by-package``."""
    within = [allowed * line.unit_price for _, line, allowed, _ in lines]
    remaining = min(package.price, sum(within))
    unit = UnitPrice("package", package.price)
    result: dict[int, LinePrice] = {}
    for (line_no, line, allowed, limit), asked in zip(lines, within, strict=True):
        requested = line.quantity * line.unit_price
        eligible = min(asked, remaining)
        remaining -= eligible
        deductions: list[Deduction] = []
        if requested > asked:
            over = line.quantity - allowed
            deductions.append(
                Deduction(
                    Reason.QUANTITY_ABOVE_LIMIT,
                    requested - asked,
                    f"{over} unit(s) of {line.code} above the limit of {limit} per document",
                )
            )
        if asked > eligible:
            deductions.append(
                Deduction(
                    Reason.COVERED_BY_PACKAGE,
                    asked - eligible,
                    f"{line.code} is paid within package {package.code} "
                    f"({package.price:,} rials for all the lines it covers)",
                )
            )
        copayment = round_rials(eligible * rate)
        result[line_no] = LinePrice(
            line_no=line_no,
            code=line.code,
            requested=requested,
            unit=unit,
            allowed_quantity=allowed,
            eligible=eligible,
            copay_rate=rate,
            copayment=copayment,
            insurer_share=eligible - copayment,
            deductions=tuple(deductions),
        )
    return result


def _describe(unit: UnitPrice) -> str:
    if unit.basis == "rvu":
        terms = " + ".join(_term(t) for t in unit.terms) or "0 RVU"
        return f"{terms} = {unit.price:,} rials per unit"
    if unit.basis == "package":
        return f"global package price {unit.price:,} rials"
    return f"{unit.basis} unit price {unit.price:,} rials"


# Units are shared by the lines they price (see unit_price_in_force): so are their words.
describe_unit = ByIdentity(_describe)


def _term(term: Term) -> str:
    return f"{term.units.normalize():f} {term.component} RVU x K {term.k:,}"


def explain(line: LinePrice) -> str:
    """The line's computation in plain words, from its figures alone."""
    unit = line.unit
    if unit is None:
        reasons = "; ".join(d.detail for d in line.deductions) or "nothing requested"
        return f"deducted in full: {reasons}"
    parts = [describe_unit(unit)]
    if unit.basis == "package":
        parts.append(f"share of the package paid on this line {line.eligible:,}")
    else:
        allowed = line.allowed_quantity
        eligible_unit = line.eligible // allowed if allowed else 0
        parts.append(f"eligible {eligible_unit:,} x {allowed} = {line.eligible:,}")
    for d in line.deductions:
        parts.append(f"{d.reason} -{d.amount:,} ({d.detail})")
    why = f" ({line.copay_reason})" if line.copay_reason else ""
    parts.append(f"co-payment {_percent(line.copay_rate)}%{why} = {line.copayment:,}")
    return "; ".join(parts)


# Written as the rate's own digits (0.30 as "30.00"), once per rate object.
_percent: ByIdentity[Decimal, str] = ByIdentity(lambda rate: f"{rate * 100:g}")
