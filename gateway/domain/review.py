"""An auditor's review of one priced line, as pure arithmetic.

The auditor never types totals: they accept a line, reduce it (to a payable quantity or a
payable amount, never above what the tariff allowed) or deny it, with a reason code. The
line's eligible amount, co-payment and insurer share then follow from the same rules as
pricing (``round_rials`` once, at line level), and the reduction becomes a deduction
under the auditor's reason. A later review of the same line replaces the earlier one.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from gateway.domain.money import round_rials

REVIEW_PREFIX = "review-"


class ReviewAction(StrEnum):
    ACCEPT = "accept"
    REDUCE = "reduce"
    DENY = "deny"


class ReviewReason(StrEnum):
    """Stable reason codes of review deductions."""

    NOT_NECESSARY = "review-not-medically-necessary"
    NOT_DOCUMENTED = "review-not-documented"
    UNBUNDLED = "review-unbundled"
    UPCODED = "review-upcoded"
    QUANTITY = "review-quantity-not-justified"
    OTHER = "review-other"


class ReviewError(ValueError):
    """A review the line does not admit; the message says why, the code and the values
    name it for a reader of another language."""

    def __init__(self, message: str, *, code: str, **params: int) -> None:
        super().__init__(message)
        self.code = code
        self.params: dict[str, object] = dict(params)


@dataclass(frozen=True, slots=True)
class PricedLine:
    """A line as pricing left it (before any review)."""

    requested: int
    eligible: int
    allowed_quantity: int
    copay_rate: Decimal
    unit_based: bool  # True when eligible = unit x allowed quantity (not a package share)


@dataclass(frozen=True, slots=True)
class ReviewedLine:
    eligible: int
    copayment: int
    insurer_share: int
    review_deduction: int  # under the review's reason; 0 when accepted


def review_line(
    line: PricedLine,
    action: ReviewAction,
    *,
    quantity: int | None = None,
    amount: int | None = None,
) -> ReviewedLine:
    if action is ReviewAction.ACCEPT:
        eligible = line.eligible
    elif action is ReviewAction.DENY:
        eligible = 0
    else:
        eligible = _reduced(line, quantity, amount)
    copayment = round_rials(eligible * line.copay_rate)
    return ReviewedLine(eligible, copayment, eligible - copayment, line.eligible - eligible)


def _reduced(line: PricedLine, quantity: int | None, amount: int | None) -> int:
    if (quantity is None) == (amount is None):
        raise ReviewError(
            "A reduction gives either a payable quantity or a payable amount.",
            code="review.one-figure",
        )
    if quantity is not None:
        if not line.unit_based or line.allowed_quantity == 0:
            raise ReviewError(
                "This line is not paid by the unit; reduce it by amount.", code="review.not-by-unit"
            )
        if not 0 <= quantity < line.allowed_quantity:
            raise ReviewError(
                f"The payable quantity must be from 0 to {line.allowed_quantity - 1} "
                f"(pricing allowed {line.allowed_quantity}).",
                code="review.quantity-range",
                highest=line.allowed_quantity - 1,
                allowed=line.allowed_quantity,
            )
        return line.eligible // line.allowed_quantity * quantity
    assert amount is not None
    if not 0 <= amount < line.eligible:
        raise ReviewError(
            f"The payable amount must be from 0 to {line.eligible - 1:,} rials "
            f"(pricing allowed {line.eligible:,}).",
            code="review.amount-range",
            highest=line.eligible - 1,
            allowed=line.eligible,
        )
    return amount
