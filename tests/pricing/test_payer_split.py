"""Who pays the patient's share: hand-computed cases for the supplementary split and the
charity fund's allocation, beside the pricing tables (docs/payers.md repeats them)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from gateway.domain import ledger
from gateway.domain.money import allocate
from gateway.domain.payers import (
    Donation,
    EarmarkKind,
    FundCase,
    Policy,
    ShareLine,
    allocate_fund,
    benefit_year,
    donation_draws,
    split_supplementary,
)

D = Decimal
# The patient's share of a private outpatient visit: line 1 a co-payment of 30% of
# 650000 (the pricing table's first case), line 2 a service the basic insurer does not
# cover (400000 deducted as not-covered).
VISIT = [ShareLine(1, 195_000, 0), ShareLine(2, 0, 400_000)]
ALBORZ = Policy(11, "ALBORZ-SUP", D("0.7"), D("0.5"), 50_000_000, used=0)
DANA = Policy(12, "DANA-SUP", D("1"), D("0.3"), None)

# (name, lines, policies, expected payments {policy: [(line, amount)]}, remaining per
#  line as (copayment, uncovered), expected capped policies)
SPLIT_CASES = [
    (
        "one policy",
        VISIT,
        [ALBORZ],
        # 0.7 x 195000 = 136500; 0.5 x 400000 = 200000
        {11: [(1, 136_500), (2, 200_000)]},
        [(58_500, 0), (0, 200_000)],
        set(),
    ),
    (
        "two policies in policy order",
        VISIT,
        [ALBORZ, DANA],
        # then DANA: 1 x 58500 = 58500; 0.3 x 200000 = 60000
        {11: [(1, 136_500), (2, 200_000)], 12: [(1, 58_500), (2, 60_000)]},
        [(0, 0), (0, 140_000)],
        set(),
    ),
    (
        "a share rounds half up once per part",
        [ShareLine(1, 195_001, 0)],
        [ALBORZ],
        # 0.7 x 195001 = 136500.7 -> 136501
        {11: [(1, 136_501)]},
        [(58_500, 0)],
        set(),
    ),
    (
        "ceiling reached mid-year",
        [ShareLine(1, 375_000, 0), ShareLine(2, 125_000, 0)],
        [Policy(13, "ALBORZ-SUP", D("0.8"), D("0.8"), 10_000_000, used=9_899_999)],
        # 0.8 x 375000 = 300000, 0.8 x 125000 = 100000: 400000 above the 100001 left.
        # Spread: running 300000 of 400000 x 100001 = 75000.75 -> 75001; then 100001.
        {13: [(1, 75_001), (2, 25_000)]},
        [(299_999, 0), (100_000, 0)],
        {13},
    ),
    (
        "ceiling already used up pays nothing",
        VISIT,
        [Policy(14, "ALBORZ-SUP", D("0.7"), D("0.5"), 10_000_000, used=10_000_000), DANA],
        {14: [(1, 0), (2, 0)], 12: [(1, 195_000), (2, 120_000)]},
        [(0, 0), (0, 280_000)],
        {14},
    ),
]


@pytest.mark.parametrize(
    ("lines", "policies", "payments", "remaining", "capped"),
    [pytest.param(*case[1:], id=case[0]) for case in SPLIT_CASES],
)
def test_supplementary_split_cases(lines, policies, payments, remaining, capped) -> None:
    split = split_supplementary(lines, policies)
    assert {p.policy_id: list(p.lines) for p in split.payments} == payments
    assert [(line.copayment, line.uncovered) for line in split.remaining] == remaining
    assert {p.policy_id for p in split.payments if p.capped} == capped
    for n, line in enumerate(lines):
        paid = sum(p.lines[n][1] for p in split.payments)
        assert paid + split.remaining[n].patient_share == line.patient_share


# What remains of a visit's two lines after supplementary cover: 198500 in all.
OWED = [(1, 58_500), (2, 140_000)]
THAL = FundCase("TEH-HARD", "Tehran", "thalassaemia", "DEMO-001", ceiling_left=5_000_000)
GENERAL = Donation(1, 10_000_000, date(2026, 1, 5))
THAL_GIFT = Donation(2, 50_000, date(2026, 6, 1), EarmarkKind.DIAGNOSIS_GROUP, "thalassaemia")
OTHER_CENTRE = Donation(3, 500_000, date(2025, 12, 1), EarmarkKind.CENTRE, "CHR-ISF-07")
OLD_GENERAL = Donation(4, 30_000, date(2025, 11, 1))

# (name, case, donations, covered per line, draws (donation, line, amount), short,
#  ceiling reached)
FUND_CASES = [
    (
        "enrolled patient fully covered",
        THAL,
        [GENERAL],
        [(1, 58_500), (2, 140_000)],
        [(1, 1, 58_500), (1, 2, 140_000)],
        False,
        False,
    ),
    (
        "partly covered: the patient's ceiling",
        FundCase("TEH-HARD", "Tehran", "thalassaemia", "DEMO-001", ceiling_left=100_000),
        [GENERAL],
        # 100000 x 58500 / 198500 = 29471.03 -> 29471; 100000 - 29471 = 70529
        [(1, 29_471), (2, 70_529)],
        [(1, 1, 29_471), (1, 2, 70_529)],
        False,
        True,
    ),
    (
        "an earmark that matches goes first",
        THAL,
        [GENERAL, THAL_GIFT, OTHER_CENTRE],
        # THAL_GIFT (diagnosis group, specificity 3) gives 50000 to line 1, then the
        # general gift 8500 to line 1 and 140000 to line 2; the other centre's is not used
        [(1, 58_500), (2, 140_000)],
        [(2, 1, 50_000), (1, 1, 8_500), (1, 2, 140_000)],
        False,
        False,
    ),
    (
        "an earmark that does not match is passed over; the oldest goes first",
        FundCase("TEH-HARD", "Tehran", "haemophilia", "DEMO-001", ceiling_left=5_000_000),
        [GENERAL, THAL_GIFT, OLD_GENERAL],
        # OLD_GENERAL (2025-11-01) before GENERAL (2026-01-05); THAL_GIFT does not match
        [(1, 58_500), (2, 140_000)],
        [(4, 1, 30_000), (1, 1, 28_500), (1, 2, 140_000)],
        False,
        False,
    ),
    (
        "the fund runs short: what is there is spread, the rest stays with the patient",
        THAL,
        [Donation(5, 100_000, date(2026, 2, 1))],
        [(1, 29_471), (2, 70_529)],
        [(5, 1, 29_471), (5, 2, 70_529)],
        True,
        False,
    ),
    (
        "an empty fund covers nothing",
        THAL,
        [Donation(6, 0, date(2026, 2, 1)), OTHER_CENTRE],
        [(1, 0), (2, 0)],
        [],
        True,
        False,
    ),
]


@pytest.mark.parametrize(
    ("case", "donations", "covered", "draws", "short", "ceiling"),
    [pytest.param(*c[1:], id=c[0]) for c in FUND_CASES],
)
def test_fund_allocation_cases(case, donations, covered, draws, short, ceiling) -> None:
    allocation = allocate_fund(OWED, case, donations)
    assert list(allocation.covered) == covered
    assert [(d.donation_id, d.line_no, d.amount) for d in allocation.draws] == draws
    assert allocation.short is short
    assert allocation.ceiling_reached is ceiling
    assert [
        a + b for (_, a), (_, b) in zip(allocation.covered, allocation.remaining, strict=True)
    ] == [
        58_500,
        140_000,
    ]
    gifts = {d.donation_id: d.available for d in donations}
    for donation_id, given in donation_draws(allocation.draws).items():
        assert given <= gifts[donation_id]


def _approved_with_fund() -> list[ledger.TransferDraft]:
    split = split_supplementary(VISIT, [ALBORZ])
    owed = [(line.line_no, line.patient_share) for line in split.remaining]
    fund = allocate_fund(owed, THAL, [GENERAL, THAL_GIFT])
    return ledger.split_transfers(
        document="doc-1",
        round_no=1,
        centre="DEMO-001",
        split=split,
        programme="TEH-HARD",
        fund=fund,
    )


def test_split_transfers_balance_and_carry_each_payer() -> None:
    drafts = _approved_with_fund()
    assert [d.key for d in drafts] == [
        "split/doc-1/1/policy-11",
        "split/doc-1/1/fund-TEH-HARD",
    ]  # the fund covers all that ALBORZ leaves: no patient transfer
    assert [ledger.per_line(d) for d in drafts] == [
        {1: 136_500, 2: 200_000},  # ALBORZ
        {1: 58_500, 2: 200_000},  # the fund: THAL_GIFT 50000 + GENERAL 8500, GENERAL 200000
    ]
    gifts = [ledger.donation(1, 10_000_000, "R-1"), ledger.donation(2, 50_000, "R-2")]
    assert ledger.balances(gifts + drafts) == {
        "donors": -10_050_000,
        "donation:1": 10_000_000 - 8_500 - 200_000,
        "donation:2": 0,
        "fund:TEH-HARD": 0,
        "insurer:ALBORZ-SUP": -336_500,
        "centre:DEMO-001": 595_000,  # the whole patient share, 195000 + 400000
    }


def test_reversal_after_a_denied_appeal_restores_every_balance() -> None:
    gifts = [ledger.donation(1, 10_000_000, "R-1"), ledger.donation(2, 50_000, "R-2")]
    drafts = _approved_with_fund()
    undone = [ledger.reversal(d) for d in drafts]
    assert [u.key for u in undone] == [f"reverse/{d.key}" for d in drafts]
    after = ledger.balances(gifts + drafts + undone)
    assert after == {
        "donors": -10_050_000,
        "donation:1": 10_000_000,
        "donation:2": 50_000,
        "fund:TEH-HARD": 0,
        "insurer:ALBORZ-SUP": 0,
        "centre:DEMO-001": 0,
    }


def test_a_transfer_that_does_not_balance_is_refused() -> None:
    with pytest.raises(ledger.UnbalancedError):
        ledger.transfer(
            "x", "split", "a", [ledger.Posting("a", debit=5), ledger.Posting("b", credit=4)]
        )
    with pytest.raises(ledger.UnbalancedError):
        ledger.TransferDraft("y", "split", "a", (ledger.Posting("a", debit=5, credit=5),)).check()


@pytest.mark.parametrize(
    ("total", "weights", "parts"),
    [
        (100_001, [300_000, 0, 100_000, 0], [75_001, 0, 25_000, 0]),
        (10, [1, 1, 1], [3, 4, 3]),  # 3.33 -> 3, 6.67 -> 7, 10
        (0, [5, 5], [0, 0]),
        (0, [0, 0], [0, 0]),
    ],
)
def test_allocate_is_exact_and_in_order(total, weights, parts) -> None:
    assert allocate(total, weights) == parts
    assert sum(parts) == total


@pytest.mark.parametrize(
    ("on", "year"),
    [
        (date(2026, 3, 21), (date(2026, 3, 21), date(2027, 3, 20))),
        (date(2026, 3, 20), (date(2025, 3, 21), date(2026, 3, 20))),
        (date(2026, 11, 10), (date(2026, 3, 21), date(2027, 3, 20))),
        (date(2024, 2, 29), (date(2023, 3, 21), date(2024, 3, 20))),
    ],
)
def test_ceilings_count_per_insurance_year_from_21_march(on: date, year: tuple[date, date]) -> None:
    assert benefit_year(on) == year
