"""Review sampling: thresholds first, then a seeded sample of the configured share."""

from __future__ import annotations

from decimal import Decimal

import pytest

from gateway.pricing.engine.adjudicate import Deduction, DocumentPrice, LinePrice, Reason
from gateway.pricing.engine.review import ReviewPolicy, decide, sample_draw

POLICY = ReviewPolicy(
    amount_threshold=10_000_000, deduction_share=Decimal("0.25"), sample_percent=Decimal(5)
)


def priced(requested: int, deducted: int = 0) -> DocumentPrice:
    deductions = (Deduction(Reason.ABOVE_TARIFF, deducted, "x"),) if deducted else ()
    eligible = requested - deducted
    line = LinePrice(1, "970000", requested, None, 1, eligible, Decimal(0), 0, eligible, deductions)
    return DocumentPrice(1, Decimal(0), [line])


def decision(price: DocumentPrice, number: str = "D-1", policy: ReviewPolicy = POLICY):
    return decide(price, centre_code="C-1", month="2026-11", document_number=number, policy=policy)


def test_amount_above_threshold_goes_to_review() -> None:
    got = decision(priced(10_000_001))
    assert (got.review, got.criterion) == (True, "amount")
    assert "10,000,001" in got.reason


def test_amount_at_threshold_does_not() -> None:
    policy = ReviewPolicy(10_000_000, Decimal("0.25"), Decimal(0))
    assert decision(priced(10_000_000), policy=policy).review is False


@pytest.mark.parametrize(("deducted", "review"), [(250_000, False), (250_001, True)])
def test_deduction_share_threshold(deducted: int, review: bool) -> None:
    policy = ReviewPolicy(10_000_000, Decimal("0.25"), Decimal(0))
    got = decision(priced(1_000_000, deducted), policy=policy)
    assert got.review is review
    assert got.criterion == ("deductions" if review else "none")


def test_sample_is_seeded_and_repeatable() -> None:
    first = [decision(priced(100_000), f"D-{n}") for n in range(2000)]
    again = [decision(priced(100_000), f"D-{n}") for n in range(2000)]
    assert first == again
    sampled = sum(d.review for d in first)
    assert all(d.criterion == "sample" for d in first if d.review)
    assert 60 <= sampled <= 140  # 5% of 2000 = 100, well inside a binomial's spread


def test_sample_differs_by_centre_month_and_seed() -> None:
    base = sample_draw("s", "C-1", "2026-11", "D-1")
    assert 0 <= base < 100
    assert base != sample_draw("s", "C-2", "2026-11", "D-1")
    assert base != sample_draw("s", "C-1", "2026-12", "D-1")
    assert base != sample_draw("t", "C-1", "2026-11", "D-1")


def test_zero_percent_samples_nothing_and_hundred_samples_all() -> None:
    none = ReviewPolicy(10**12, Decimal(1), Decimal(0))
    every = ReviewPolicy(10**12, Decimal(1), Decimal(100))
    assert not any(decision(priced(1000), str(n), none).review for n in range(200))
    assert all(decision(priced(1000), str(n), every).review for n in range(200))
