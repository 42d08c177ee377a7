"""Who pays the patient's share of an approved document, as pure arithmetic.

After the basic insurer's pricing a line leaves the patient a share: the co-payment and
what the insurer does not cover. Supplementary policies in force on the service date pay
from it in policy order, each a share of what is left of the co-payment and of the
uncovered part, within what is left of its annual ceiling for the person. What remains
may then be covered by a charity fund for an enrolled patient, within the patient's
yearly ceiling and what the matching donations still hold, drawn from the most specific
earmark first, then the oldest donation.

Every figure is integer rials. A share of a line's part is rounded once
(``round_rials``); a ceiling or a fund's cover is spread over the lines with
``allocate``, so the parts add up to the whole exactly and deterministically.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum

from gateway.domain.money import allocate, round_rials

# The basic insurer's deductions that leave the patient owing the amount: a service the
# insurer does not cover. Deductions for the centre's own errors (above tariff, duplicate,
# missing referral...) are not the patient's to pay and pass to no further payer.
UNCOVERED_REASONS = frozenset({"not-covered"})


@dataclass(frozen=True, slots=True)
class ShareLine:
    """A line's patient share, by part: the co-payment and the uncovered amount."""

    line_no: int
    copayment: int
    uncovered: int

    @property
    def patient_share(self) -> int:
        return self.copayment + self.uncovered


@dataclass(frozen=True, slots=True)
class Policy:
    """A supplementary policy in force on the service date, with what it paid this year."""

    policy_id: int
    insurer: str
    copay_share: Decimal  # 0..1 of what is left of the co-payment
    uncovered_share: Decimal  # 0..1 of what is left of the uncovered amount
    annual_ceiling: int | None  # None: no ceiling
    used: int = 0

    @property
    def ceiling_left(self) -> int | None:
        if self.annual_ceiling is None:
            return None
        return max(self.annual_ceiling - self.used, 0)


@dataclass(frozen=True, slots=True)
class PolicyPayment:
    """What one policy pays, per line (line number, amount), and whether its ceiling cut it."""

    policy_id: int
    insurer: str
    lines: tuple[tuple[int, int], ...]
    capped: bool

    @property
    def total(self) -> int:
        return sum(amount for _, amount in self.lines)


@dataclass(frozen=True, slots=True)
class SupplementarySplit:
    payments: tuple[PolicyPayment, ...]
    remaining: tuple[ShareLine, ...]  # what is left of each line after every policy


def split_supplementary(
    lines: Sequence[ShareLine], policies: Sequence[Policy]
) -> SupplementarySplit:
    """The supplementary policies' payments, in the order given, and what remains."""
    left = list(lines)
    payments = []
    for policy in policies:
        parts: list[int] = []
        for line in left:
            parts.append(min(round_rials(policy.copay_share * line.copayment), line.copayment))
            parts.append(min(round_rials(policy.uncovered_share * line.uncovered), line.uncovered))
        ceiling = policy.ceiling_left
        capped = ceiling is not None and sum(parts) > ceiling
        if capped:
            assert ceiling is not None
            parts = allocate(ceiling, parts)
        paid = []
        for n, line in enumerate(left):
            copay, uncovered = parts[2 * n], parts[2 * n + 1]
            paid.append((line.line_no, copay + uncovered))
            left[n] = ShareLine(line.line_no, line.copayment - copay, line.uncovered - uncovered)
        payments.append(PolicyPayment(policy.policy_id, policy.insurer, tuple(paid), capped))
    return SupplementarySplit(tuple(payments), tuple(left))


class DiagnosisGroup(StrEnum):
    """The hard-to-treat groups a charity programme may cover."""

    CANCER = "cancer"
    THALASSAEMIA = "thalassaemia"
    HAEMOPHILIA = "haemophilia"
    DIALYSIS = "dialysis"
    MULTIPLE_SCLEROSIS = "multiple-sclerosis"
    EPIDERMOLYSIS_BULLOSA = "epidermolysis-bullosa"
    AUTISM = "autism"
    KIDNEY_TRANSPLANT = "kidney-transplant"


class EarmarkKind(StrEnum):
    """What a donation may be earmarked for, the most specific first."""

    CENTRE = "centre"
    DIAGNOSIS_GROUP = "diagnosis-group"
    PROGRAMME = "programme"
    PROVINCE = "province"


SPECIFICITY = {
    EarmarkKind.CENTRE: 4,
    EarmarkKind.DIAGNOSIS_GROUP: 3,
    EarmarkKind.PROGRAMME: 2,
    EarmarkKind.PROVINCE: 1,
}


@dataclass(frozen=True, slots=True)
class FundCase:
    """One approved document of an enrolled patient, as the fund sees it."""

    programme: str
    province: str | None  # the centre's province
    diagnosis_group: str
    centre: str
    ceiling_left: int  # the patient's yearly ceiling in the programme less what it paid


@dataclass(frozen=True, slots=True)
class Donation:
    donation_id: int
    available: int
    received_on: date
    earmark_kind: EarmarkKind | None = None
    earmark_value: str | None = None

    @property
    def specificity(self) -> int:
        return 0 if self.earmark_kind is None else SPECIFICITY[self.earmark_kind]

    def matches(self, case: FundCase) -> bool:
        wanted = {
            None: self.earmark_value,
            EarmarkKind.CENTRE: case.centre,
            EarmarkKind.DIAGNOSIS_GROUP: case.diagnosis_group,
            EarmarkKind.PROGRAMME: case.programme,
            EarmarkKind.PROVINCE: case.province,
        }[self.earmark_kind]
        return wanted == self.earmark_value


def draw_order(donations: Sequence[Donation], case: FundCase) -> list[Donation]:
    """The donations that may pay for the case, in the order they are drawn from."""
    usable = [d for d in donations if d.available > 0 and d.matches(case)]
    return sorted(usable, key=lambda d: (-d.specificity, d.received_on, d.donation_id))


@dataclass(frozen=True, slots=True)
class Draw:
    donation_id: int
    line_no: int
    amount: int


@dataclass(frozen=True, slots=True)
class FundAllocation:
    """What the fund covers per line, from which donation, and what stays with the patient.
    ``short`` says the donations' balance, not the patient's ceiling, limited the cover."""

    draws: tuple[Draw, ...]
    covered: tuple[tuple[int, int], ...]
    remaining: tuple[tuple[int, int], ...]
    short: bool
    ceiling_reached: bool

    @property
    def total(self) -> int:
        return sum(amount for _, amount in self.covered)


def allocate_fund(
    owed: Sequence[tuple[int, int]], case: FundCase, donations: Sequence[Donation]
) -> FundAllocation:
    """Cover what remains of each line (line number, amount) from the matching donations."""
    wanted = sum(amount for _, amount in owed)
    pool = draw_order(donations, case)
    balance = sum(d.available for d in pool)
    limit = min(wanted, max(case.ceiling_left, 0))
    total = min(limit, balance)
    parts = allocate(total, [amount for _, amount in owed]) if wanted else [0] * len(owed)
    covered = tuple((line_no, part) for (line_no, _), part in zip(owed, parts, strict=True))
    draws: list[Draw] = []
    sources = iter(pool)
    source: Donation | None = None
    held = 0
    for line_no, part in covered:
        need = part
        while need:
            if not held:
                source = next(sources)
                held = source.available
            assert source is not None
            take = min(need, held)
            draws.append(Draw(source.donation_id, line_no, take))
            need -= take
            held -= take
    return FundAllocation(
        draws=tuple(draws),
        covered=covered,
        remaining=tuple(
            (line_no, amount - part) for (line_no, amount), part in zip(owed, parts, strict=True)
        ),
        short=balance < limit,
        ceiling_reached=limit < wanted,
    )


def donation_draws(draws: Sequence[Draw]) -> dict[int, int]:
    """What each donation gives, summed over the lines."""
    out: dict[int, int] = {}
    for draw in draws:
        out[draw.donation_id] = out.get(draw.donation_id, 0) + draw.amount
    return out


# Ceilings count per insurance year, which starts at Nowruz; the gateway takes 21 March.
YEAR_START = (3, 21)


def benefit_year(on: date) -> tuple[date, date]:
    """The first and last day of the insurance year that ``on`` falls in."""
    starts = date(on.year, *YEAR_START)
    if on < starts:
        starts = date(on.year - 1, *YEAR_START)
    return starts, date.fromordinal(date(starts.year + 1, *YEAR_START).toordinal() - 1)
