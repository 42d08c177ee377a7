"""Which priced documents a person reviews: the criteria, in order, and a seeded sample.

A document goes to review when its requested amount is above a threshold, when its
deductions are a large share of what it requested, or when the sample draws it; every
other document is approved automatically. The sample is a seeded draw per document,
keyed by centre, month and document number, so it picks the configured percentage of
each centre's documents per month and gives the same answer however often it is asked.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from decimal import Decimal

from gateway.pricing.engine.adjudicate import DocumentPrice


@dataclass(frozen=True, slots=True)
class ReviewPolicy:
    amount_threshold: int = 500_000_000  # rials requested
    deduction_share: Decimal = Decimal("0.25")  # deductions / requested
    sample_percent: Decimal = Decimal("5")
    seed: str = "rasa-review"


@dataclass(frozen=True, slots=True)
class ReviewDecision:
    review: bool
    criterion: str  # amount | deductions | sample | none
    reason: str


def sample_draw(seed: str, centre_code: str, month: str, document_number: str) -> Decimal:
    """A number in [0, 100) fixed by its inputs: the document's place in the sample."""
    key = f"{seed}\x1f{centre_code}\x1f{month}\x1f{document_number}".encode()
    value = int.from_bytes(hashlib.sha256(key).digest()[:8], "big")
    return (Decimal(value) * 100 / Decimal(2**64)).quantize(Decimal("0.0001"))


def decide(
    price: DocumentPrice,
    *,
    centre_code: str,
    month: str,
    document_number: str,
    policy: ReviewPolicy,
) -> ReviewDecision:
    requested, deducted = price.requested, price.deducted
    if requested > policy.amount_threshold:
        return ReviewDecision(
            True,
            "amount",
            f"requested {requested:,} rials is above the review threshold of "
            f"{policy.amount_threshold:,}",
        )
    if requested and Decimal(deducted) / requested > policy.deduction_share:
        share = Decimal(deducted) * 100 / requested
        return ReviewDecision(
            True,
            "deductions",
            f"deductions are {share:.1f}% of the requested amount, above "
            f"{policy.deduction_share * 100:g}%",
        )
    draw = sample_draw(policy.seed, centre_code, month, document_number)
    if draw < policy.sample_percent:
        return ReviewDecision(
            True,
            "sample",
            f"drawn in the {policy.sample_percent:g}% review sample of {centre_code} for {month} "
            f"(draw {draw})",
        )
    return ReviewDecision(
        False,
        "none",
        f"approved automatically: below the amount and deduction thresholds, not drawn "
        f"in the {policy.sample_percent:g}% sample (draw {draw})",
    )
