"""Pricing arithmetic against a small hand-built tariff; every figure computed by hand.

Each rule alone, then combinations; every line must balance to the rial.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from gateway.domain.centres import CentreKind, Sector
from gateway.domain.documents import CareSetting, CodeType, Line
from gateway.domain.money import round_rials
from gateway.domain.registry import CentreInfo, Coverage
from gateway.domain.tariff import (
    Component,
    Grade,
    ItemKind,
    KCoefficient,
    PackageContent,
    PackagePrice,
    Setting,
    TariffBook,
    TariffItem,
)
from gateway.pricing.engine.adjudicate import CopayPolicy, PricingRequest, Reason, price_document

START = date(2024, 3, 20)
Y2025 = (date(2025, 3, 21), date(2026, 3, 20))
Y2026 = (date(2026, 3, 21), date(2027, 3, 20))

BOOK = TariffBook.build(
    7,
    "hand-made",
    [
        TariffItem("970000", "GP visit", ItemKind.SERVICE, START, professional_rvu=Decimal("1.5")),
        TariffItem(
            "800010",
            "CBC",
            ItemKind.SERVICE,
            START,
            professional_rvu=Decimal("0.2"),
            technical_rvu=Decimal("0.9"),
        ),
        TariffItem(
            "400100",
            "Appendectomy",
            ItemKind.SERVICE,
            START,
            professional_rvu=Decimal(25),
            technical_rvu=Decimal(10),
            anesthesia_rvu=Decimal(6),
        ),
        TariffItem(
            "600100",
            "Physiotherapy",
            ItemKind.SERVICE,
            START,
            professional_rvu=Decimal("0.8"),
            technical_rvu=Decimal("1.2"),
            max_quantity=10,
        ),
        TariffItem("111111", "Half rial", ItemKind.SERVICE, START, technical_rvu=Decimal("0.5")),
        TariffItem(
            "950100",
            "Cosmetic",
            ItemKind.SERVICE,
            START,
            professional_rvu=Decimal(35),
            covered=False,
        ),
        TariffItem(
            "2001001", "Amoxicillin", ItemKind.DRUG, START, date(2026, 3, 20), unit_price=4200
        ),
        TariffItem("2001001", "Amoxicillin", ItemKind.DRUG, date(2026, 3, 21), unit_price=5100),
        TariffItem(
            "970005",
            "Specialist visit",
            ItemKind.SERVICE,
            START,
            professional_rvu=Decimal("2.6"),
            referral_required=True,
        ),
        TariffItem(
            "300100",
            "Bed-day",
            ItemKind.SERVICE,
            START,
            technical_rvu=Decimal(6),
            setting=Setting.INPATIENT,
        ),
        TariffItem("2001007", "Cefazolin", ItemKind.DRUG, START, unit_price=62_000),
        TariffItem("P400100", "Appendectomy package", ItemKind.PACKAGE, START),
    ],
    [
        KCoefficient(Sector.PRIVATE, Component.PROFESSIONAL, 410_000, *Y2025),
        KCoefficient(Sector.PRIVATE, Component.PROFESSIONAL, 492_000, *Y2026),
        KCoefficient(Sector.PRIVATE, Component.TECHNICAL, 312_000, *Y2026),
        KCoefficient(Sector.PRIVATE, Component.ANESTHESIA, 528_000, *Y2026),
        KCoefficient(Sector.GOVERNMENTAL, Component.PROFESSIONAL, 246_000, *Y2026),
        KCoefficient(Sector.GOVERNMENTAL, Component.TECHNICAL, 5, *Y2026),
        KCoefficient(
            Sector.PRIVATE, Component.PROFESSIONAL, 590_000, *Y2026, grade=Grade.SUBSPECIALIST
        ),
    ],
    [
        PackagePrice("P400100", Sector.PRIVATE, 40_000_000, *Y2026),
        PackagePrice("P400100", Sector.GOVERNMENTAL, 57_600_000, *Y2026),
    ],
    [PackageContent("P400100", code) for code in ("400100", "300100", "2001007")],
)
OPEN_COVERAGE = (Coverage("0084575948", "12345678", date(2020, 1, 1)),)
D = date(2026, 11, 10)


def L(code: str, qty: int, unit: int, on: date = D, kind: CodeType = CodeType.SERVICE) -> Line:
    return Line(kind, code, qty, unit, qty * unit, on)


def centre(
    kind: CentreKind = CentreKind.CONTRACTED,
    sector: Sector = Sector.PRIVATE,
    contract: tuple[date | None, date | None] = (None, None),
) -> CentreInfo:
    return CentreInfo("C-1", "Centre", kind, sector, "Tehran", *contract)


def price(
    lines: list[Line],
    *,
    kind: CentreKind = CentreKind.CONTRACTED,
    sector: Sector = Sector.PRIVATE,
    setting: CareSetting = CareSetting.OUTPATIENT,
    **extra,
):
    request = PricingRequest(
        centre(kind, sector, extra.pop("contract", (None, None))),
        setting,
        lines,
        coverage=extra.pop("coverage", OPEN_COVERAGE),
        **extra,
    )
    return price_document(request, BOOK, CopayPolicy())


# (name, lines, centre kind, sector, setting,
#  expected per line: (tariff unit, eligible, copayment, insurer, {reason: amount}))
CASES = [
    (
        "below tariff, private outpatient 30%",
        [L("970000", 1, 650_000)],
        CentreKind.CONTRACTED,
        Sector.PRIVATE,
        CareSetting.OUTPATIENT,
        # 1.5 x 492000 = 738000 above 650000 asked; 30% of 650000 = 195000
        [(738_000, 650_000, 195_000, 455_000, {})],
    ),
    (
        "above tariff is deducted",
        [L("970000", 1, 800_000)],
        CentreKind.CONTRACTED,
        Sector.PRIVATE,
        CareSetting.OUTPATIENT,
        # 800000 - 738000 = 62000 above; 30% of 738000 = 221400
        [(738_000, 738_000, 221_400, 516_600, {Reason.ABOVE_TARIFF: 62_000})],
    ),
    (
        "two components: 0.2x492000 + 0.9x312000 = 379200",
        [L("800010", 2, 400_000)],
        CentreKind.CONTRACTED,
        Sector.PRIVATE,
        CareSetting.OUTPATIENT,
        # 2 x 379200 = 758400; (400000 - 379200) x 2 = 41600; 30% of 758400 = 227520
        [(379_200, 758_400, 227_520, 530_880, {Reason.ABOVE_TARIFF: 41_600})],
    ),
    (
        "three components, inpatient 10%",
        [L("400100", 1, 30_000_000)],
        CentreKind.CONTRACTED,
        Sector.PRIVATE,
        CareSetting.INPATIENT,
        # 25x492000 + 10x312000 + 6x528000 = 12300000 + 3120000 + 3168000 = 18588000;
        # 30000000 - 18588000 = 11412000 above; 10% of 18588000 = 1858800
        [(18_588_000, 18_588_000, 1_858_800, 16_729_200, {Reason.ABOVE_TARIFF: 11_412_000})],
    ),
    (
        "owned centre pays no co-payment",
        [L("970000", 1, 300_000)],
        CentreKind.OWNED,
        Sector.GOVERNMENTAL,
        CareSetting.OUTPATIENT,
        # 1.5 x 246000 = 369000 above 300000 asked; owned: no co-payment
        [(369_000, 300_000, 0, 300_000, {})],
    ),
    (
        "K of the old year before New Year (2026-03-20)",
        [L("970000", 1, 700_000, date(2026, 3, 20))],
        CentreKind.CONTRACTED,
        Sector.PRIVATE,
        CareSetting.OUTPATIENT,
        # 1.5 x 410000 = 615000; 700000 - 615000 = 85000; 30% of 615000 = 184500
        [(615_000, 615_000, 184_500, 430_500, {Reason.ABOVE_TARIFF: 85_000})],
    ),
    (
        "K of the new year from New Year (2026-03-21)",
        [L("970000", 1, 700_000, date(2026, 3, 21))],
        CentreKind.CONTRACTED,
        Sector.PRIVATE,
        CareSetting.OUTPATIENT,
        # 1.5 x 492000 = 738000 above 700000 asked; 30% of 700000 = 210000
        [(738_000, 700_000, 210_000, 490_000, {})],
    ),
    (
        "drug at the price in force",
        [L("2001001", 10, 6_000, kind=CodeType.DRUG)],
        CentreKind.CONTRACTED,
        Sector.PRIVATE,
        CareSetting.OUTPATIENT,
        # 10 x 5100 = 51000; (6000 - 5100) x 10 = 9000; 30% of 51000 = 15300
        [(5_100, 51_000, 15_300, 35_700, {Reason.ABOVE_TARIFF: 9_000})],
    ),
    (
        "drug at last year's price",
        [L("2001001", 10, 4_000, date(2025, 12, 1), CodeType.DRUG)],
        CentreKind.CONTRACTED,
        Sector.PRIVATE,
        CareSetting.OUTPATIENT,
        # 4000 asked below 4200; 10 x 4000 = 40000; 30% = 12000
        [(4_200, 40_000, 12_000, 28_000, {})],
    ),
    (
        "quantity limit across lines of one document",
        [L("600100", 6, 700_000), L("600100", 6, 700_000, date(2026, 11, 11))],
        CentreKind.CONTRACTED,
        Sector.PRIVATE,
        CareSetting.OUTPATIENT,
        # unit = 0.8x492000 + 1.2x312000 = 393600 + 374400 = 768000; requested unit below it;
        # 6 x 700000 = 4200000 (30% = 1260000); then 10 - 6 = 4 payable: 2800000 (30% =
        # 840000), 2 x 700000 = 1400000 above the limit
        [
            (768_000, 4_200_000, 1_260_000, 2_940_000, {}),
            (768_000, 2_800_000, 840_000, 1_960_000, {Reason.QUANTITY_ABOVE_LIMIT: 1_400_000}),
        ],
    ),
    (
        "code not in the tariff",
        [L("999999", 2, 100_000)],
        CentreKind.CONTRACTED,
        Sector.PRIVATE,
        CareSetting.OUTPATIENT,
        [(None, 0, 0, 0, {Reason.NOT_IN_TARIFF: 200_000})],  # 2 x 100000, whole
    ),
    (
        "drug code billed as a service",
        [L("2001001", 1, 5_000)],
        CentreKind.CONTRACTED,
        Sector.PRIVATE,
        CareSetting.OUTPATIENT,
        [(None, 0, 0, 0, {Reason.NOT_IN_TARIFF: 5_000})],
    ),
    (
        "service not covered",
        [L("950100", 1, 9_000_000)],
        CentreKind.CONTRACTED,
        Sector.PRIVATE,
        CareSetting.INPATIENT,
        [(None, 0, 0, 0, {Reason.NOT_COVERED: 9_000_000})],
    ),
    (
        "no K for the sector on that date",
        [L("970000", 1, 500_000)],
        CentreKind.CONTRACTED,
        Sector.CHARITY,
        CareSetting.OUTPATIENT,
        [(None, 0, 0, 0, {Reason.NOT_IN_TARIFF: 500_000})],
    ),
    (
        "half a rial rounds up: 0.5 x K 5 = 2.5 -> 3; co-payment 0",
        [L("111111", 1, 10)],
        CentreKind.OWNED,
        Sector.GOVERNMENTAL,
        CareSetting.OUTPATIENT,
        [(3, 3, 0, 3, {Reason.ABOVE_TARIFF: 7})],
    ),
    (
        "co-payment rounds half up: 5 x 30% = 1.5 -> 2",
        [L("111111", 5, 1)],
        CentreKind.CONTRACTED,
        Sector.GOVERNMENTAL,
        CareSetting.OUTPATIENT,
        [(3, 5, 2, 3, {})],
    ),
    (
        "owned centre, inpatient: co-payment 0",
        [L("400100", 1, 10_000_000)],
        CentreKind.OWNED,
        Sector.PRIVATE,
        CareSetting.INPATIENT,
        [(18_588_000, 10_000_000, 0, 10_000_000, {})],  # 10000000 asked, below 18588000
    ),
    (
        "inpatient-only service billed as outpatient care",
        [L("300100", 2, 1_000_000)],
        CentreKind.CONTRACTED,
        Sector.PRIVATE,
        CareSetting.OUTPATIENT,
        [(None, 0, 0, 0, {Reason.NOT_FOR_SETTING: 2_000_000})],  # 2 x 1000000, whole
    ),
    (
        "the same code on the same date twice in one document",
        [L("970000", 1, 700_000), L("970000", 1, 700_000)],
        CentreKind.CONTRACTED,
        Sector.PRIVATE,
        CareSetting.OUTPATIENT,
        # 738000 tariff, 700000 asked: 30% = 210000; the repeat deducted whole
        [
            (738_000, 700_000, 210_000, 490_000, {}),
            (None, 0, 0, 0, {Reason.DUPLICATE_LINE: 700_000}),
        ],
    ),
    (
        "K change across New Year in one document, with a quantity limit and a drug",
        [
            L("970000", 1, 800_000, date(2026, 3, 20)),
            L("970000", 1, 800_000, date(2026, 3, 21)),
            L("600100", 12, 800_000, date(2026, 3, 21)),
            L("2001001", 20, 5_000, date(2026, 3, 21), CodeType.DRUG),
        ],
        CentreKind.CONTRACTED,
        Sector.PRIVATE,
        CareSetting.OUTPATIENT,
        # 1.5 x 410000 = 615000 (old year); 1.5 x 492000 = 738000 (new year);
        # physiotherapy 768000 per unit, 10 payable of 12; amoxicillin 5100 per unit;
        # 800000 - 615000 = 185000 and 800000 - 738000 = 62000 above; physiotherapy
        # (800000 - 768000) x 12 = 384000 above, 2 x 768000 = 1536000 over the limit,
        # 10 x 768000 = 7680000 paid (30% = 2304000); 20 x 5000 = 100000 (30% = 30000)
        [
            (615_000, 615_000, 184_500, 430_500, {Reason.ABOVE_TARIFF: 185_000}),
            (738_000, 738_000, 221_400, 516_600, {Reason.ABOVE_TARIFF: 62_000}),
            (
                768_000,
                7_680_000,
                2_304_000,
                5_376_000,
                {Reason.ABOVE_TARIFF: 384_000, Reason.QUANTITY_ABOVE_LIMIT: 1_536_000},
            ),
            (5_100, 100_000, 30_000, 70_000, {}),
        ],
    ),
]


@pytest.mark.parametrize(
    ("lines", "kind", "sector", "setting", "expected"),
    [pytest.param(*case[1:], id=case[0]) for case in CASES],
)
def test_hand_computed_cases(lines, kind, sector, setting, expected) -> None:
    result = price(lines, kind=kind, sector=sector, setting=setting)
    got = [
        (
            p.tariff_unit_price,
            p.eligible,
            p.copayment,
            p.insurer_share,
            {d.reason: d.amount for d in p.deductions},
        )
        for p in result.lines
    ]
    assert got == expected
    for line, priced in zip(lines, result.lines, strict=True):
        assert priced.requested == line.quantity * line.unit_price
        assert priced.requested == priced.eligible + priced.deducted
        assert priced.eligible == priced.copayment + priced.insurer_share


def test_document_totals_are_sums_of_lines() -> None:
    result = price([L("970000", 1, 800_000), L("999999", 1, 50_000), L("800010", 1, 100_000)])
    assert result.requested == 950_000
    assert result.eligible == 738_000 + 0 + 100_000
    assert result.deducted == 62_000 + 50_000
    assert result.copayment == sum(line.copayment for line in result.lines)
    assert result.insurer_share == result.eligible - result.copayment
    assert result.tariff_version_id == 7


def test_pricing_is_deterministic() -> None:
    lines = [L("970000", 1, 800_000), L("600100", 12, 700_000)]
    assert price(lines) == price(lines)


def test_explanation_names_units_and_k() -> None:
    (line,) = price([L("800010", 1, 100_000)]).lines
    assert "0.2 professional RVU x K 492,000" in line.explanation
    assert "0.9 technical RVU x K 312,000" in line.explanation


@pytest.mark.parametrize(
    ("value", "rials"),
    [("2.5", 3), ("2.4999", 2), ("-2.5", -3), ("0.5", 1), ("1234567.5", 1234568), ("7", 7)],
)
def test_round_rials_is_half_up(value: str, rials: int) -> None:
    assert round_rials(Decimal(value)) == rials


def test_copay_policy_is_configurable() -> None:
    policy = CopayPolicy(outpatient=Decimal("0.25"), inpatient=Decimal("0.05"))
    assert policy.rate(CentreKind.CONTRACTED, CareSetting.OUTPATIENT) == Decimal("0.25")
    assert policy.rate(CentreKind.CONTRACTED, CareSetting.INPATIENT) == Decimal("0.05")
    assert policy.rate(CentreKind.OWNED, CareSetting.INPATIENT) == 0


NOV = date(2026, 11, 1)
# (name, lines, setting, request fields, expected per line as in CASES)
CONTEXT_CASES = [
    (
        "patient insured until 2026-11-05: later lines are not payable",
        [L("970000", 1, 700_000, date(2026, 11, 4)), L("800010", 1, 300_000)],
        CareSetting.OUTPATIENT,
        {"coverage": (Coverage("0084575948", "12345678", date(2020, 1, 1), date(2026, 11, 5)),)},
        [
            (738_000, 700_000, 210_000, 490_000, {}),
            (None, 0, 0, 0, {Reason.PATIENT_NOT_ELIGIBLE: 300_000}),
        ],
    ),
    (
        "patient not in the register at all",
        [L("970000", 1, 700_000)],
        CareSetting.OUTPATIENT,
        {"coverage": ()},
        [(None, 0, 0, 0, {Reason.PATIENT_NOT_ELIGIBLE: 700_000})],
    ),
    (
        "insured, but under another insurance number than the document gives",
        [L("970000", 1, 700_000)],
        CareSetting.OUTPATIENT,
        {"insurance_number": "87654321"},
        [(None, 0, 0, 0, {Reason.PATIENT_NOT_ELIGIBLE: 700_000})],
    ),
    (
        "a stay across a change of number: the earlier number is still the patient's",
        [L("970000", 1, 700_000)],
        CareSetting.OUTPATIENT,
        {
            "insurance_number": "12345678",
            "coverage": (
                Coverage("0084575948", "12345678", date(2020, 1, 1), date(2026, 11, 1)),
                Coverage("0084575948", "99999999", date(2026, 11, 2)),
            ),
        },
        [(738_000, 700_000, 210_000, 490_000, {})],
    ),
    (
        "insured under the number the document gives",
        [L("970000", 1, 700_000)],
        CareSetting.OUTPATIENT,
        {"insurance_number": "12345678"},
        [(738_000, 700_000, 210_000, 490_000, {})],
    ),
    (
        "received the day after the last day for filing",
        [L("970000", 1, 700_000), L("800010", 1, 300_000)],
        CareSetting.OUTPATIENT,
        {"filed_on": date(2027, 2, 9), "filing_deadline": date(2027, 2, 8)},
        [
            (None, 0, 0, 0, {Reason.SUBMISSION_LATE: 700_000}),
            (None, 0, 0, 0, {Reason.SUBMISSION_LATE: 300_000}),
        ],
    ),
    (
        "received on the last day for filing",
        [L("970000", 1, 700_000)],
        CareSetting.OUTPATIENT,
        {"filed_on": date(2027, 2, 8), "filing_deadline": date(2027, 2, 8)},
        [(738_000, 700_000, 210_000, 490_000, {})],
    ),
    (
        "not insured and late: the patient's coverage is named first",
        [L("970000", 1, 700_000)],
        CareSetting.OUTPATIENT,
        {"coverage": (), "filed_on": date(2027, 6, 1), "filing_deadline": date(2027, 2, 8)},
        [(None, 0, 0, 0, {Reason.PATIENT_NOT_ELIGIBLE: 700_000})],
    ),
    (
        "contract ended 2026-10-31",
        [L("970000", 1, 700_000, date(2026, 10, 31)), L("970000", 1, 700_000)],
        CareSetting.OUTPATIENT,
        {"contract": (date(2025, 1, 1), date(2026, 10, 31))},
        [
            (738_000, 700_000, 210_000, 490_000, {}),
            (None, 0, 0, 0, {Reason.OUTSIDE_CONTRACT: 700_000}),
        ],
    ),
    (
        "referral mandatory and missing",
        [L("970005", 1, 1_000_000), L("970000", 1, 700_000, NOV)],
        CareSetting.OUTPATIENT,
        {"referral_mandatory": True},
        [
            (None, 0, 0, 0, {Reason.MISSING_REFERRAL: 1_000_000}),  # 1 x 1000000, whole
            (738_000, 700_000, 210_000, 490_000, {}),  # 30% of 700000
        ],
    ),
    (
        "referral mandatory and present: 2.6 x 492000 = 1279200",
        [L("970005", 1, 1_500_000)],
        CareSetting.OUTPATIENT,
        {"referral_mandatory": True, "referral_code": "1000456789"},
        # 1500000 - 1279200 = 220800 above; 30% of 1279200 = 383760
        [(1_279_200, 1_279_200, 383_760, 895_440, {Reason.ABOVE_TARIFF: 220_800})],
    ),
    (
        "referral needed but the programme is not mandatory in the province",
        [L("970005", 1, 1_000_000)],
        CareSetting.OUTPATIENT,
        {"referral_mandatory": False},
        [(1_279_200, 1_000_000, 300_000, 700_000, {})],  # 30% of 1000000
    ),
    (
        "already billed for this patient in an earlier document",
        [L("970000", 1, 700_000), L("800010", 1, 300_000)],
        CareSetting.OUTPATIENT,
        {"billed_earlier": {("970000", D): "document V-1 of this centre"}},
        [
            (None, 0, 0, 0, {Reason.DUPLICATE_LINE: 700_000}),  # 1 x 700000, whole
            (379_200, 300_000, 90_000, 210_000, {}),  # 300000 below 379200; 30% = 90000
        ],
    ),
    (
        "subspecialist K: 1.5 x 590000 = 885000; technical K has no grade row",
        [L("970000", 1, 900_000), L("800010", 1, 500_000)],
        CareSetting.OUTPATIENT,
        {"grade": Grade.SUBSPECIALIST},
        # 800010: 0.2 x 590000 + 0.9 x 312000 = 118000 + 280800 = 398800
        [
            (885_000, 885_000, 265_500, 619_500, {Reason.ABOVE_TARIFF: 15_000}),
            (398_800, 398_800, 119_640, 279_160, {Reason.ABOVE_TARIFF: 101_200}),
        ],
    ),
    (
        "specialist without a grade row uses the sector's K",
        [L("970000", 1, 900_000)],
        CareSetting.OUTPATIENT,
        {"grade": Grade.SPECIALIST},
        # 1.5 x 492000 = 738000; 900000 - 738000 = 162000; 30% of 738000 = 221400
        [(738_000, 738_000, 221_400, 516_600, {Reason.ABOVE_TARIFF: 162_000})],
    ),
    (
        "private inpatient with package: 40,000,000 spread over the lines it covers",
        [
            L("400100", 1, 30_000_000),
            L("300100", 3, 5_000_000),
            L("2001007", 6, 62_000, kind=CodeType.DRUG),
            L("800010", 1, 400_000),
        ],
        CareSetting.INPATIENT,
        {"package_code": "P400100", "package_date": date(2026, 11, 9)},
        # a package line has no tariff unit price: the package is one price for them all;
        # covered lines ask 30000000 + 15000000 + 6 x 62000 = 45372000 > 40000000: paid
        # 30000000, then 10000000, then 0 in line order (10% co-payment); CBC is outside
        # the package: 379200 tariff, 400000 - 379200 = 20800 above, 10% = 37920
        [
            (None, 30_000_000, 3_000_000, 27_000_000, {}),
            (None, 10_000_000, 1_000_000, 9_000_000, {Reason.COVERED_BY_PACKAGE: 5_000_000}),
            (None, 0, 0, 0, {Reason.COVERED_BY_PACKAGE: 372_000}),
            (379_200, 379_200, 37_920, 341_280, {Reason.ABOVE_TARIFF: 20_800}),
        ],
    ),
    (
        # 30000000 + 10000000 = 40000000 asked < 57600000: as asked; 10% co-payment
        "package dearer than the lines it covers: the lines are paid as asked",
        [L("400100", 1, 30_000_000), L("300100", 2, 5_000_000)],
        CareSetting.INPATIENT,
        {"package_code": "P400100", "package_date": date(2026, 11, 9), "sector": "governmental"},
        [
            (None, 30_000_000, 3_000_000, 27_000_000, {}),
            (None, 10_000_000, 1_000_000, 9_000_000, {}),
        ],
    ),
    (
        # The referral programme's self-referral policy, patient pays the full tariff:
        # 970005 2.6 x 492000 = 1279200 (220800 above tariff), all of it the patient's;
        # CBC 300000 asked (under 379200), all of it the patient's.
        "self-referred specialist visit: the patient pays the full tariff",
        [L("970005", 1, 1_500_000), L("800010", 1, 300_000)],
        CareSetting.OUTPATIENT,
        {"referral_mandatory": True, "self_referral_rate": Decimal("1.00")},
        [
            (1_279_200, 1_279_200, 1_279_200, 0, {Reason.ABOVE_TARIFF: 220_800}),
            (379_200, 300_000, 300_000, 0, {}),
        ],
    ),
    (
        # A reduced insurer share (70% co-payment): 1000000 x 0.7 = 700000;
        # 333333 x 0.7 = 233333.1, rounded half up to 233333.
        "self-referred visit under a reduced insurer share",
        [L("970005", 1, 1_000_000), L("800010", 1, 333_333)],
        CareSetting.OUTPATIENT,
        {"referral_mandatory": True, "self_referral_rate": Decimal("0.70")},
        [
            (1_279_200, 1_000_000, 700_000, 300_000, {}),
            (379_200, 333_333, 233_333, 100_000, {}),
        ],
    ),
    (
        # An emergency needs no referral: the usual 30% of 1000000.
        "emergency specialist visit without a referral where the programme applies",
        [L("970005", 1, 1_000_000)],
        CareSetting.OUTPATIENT,
        {"referral_mandatory": True, "emergency": True},
        [(1_279_200, 1_000_000, 300_000, 700_000, {})],
    ),
    (
        # An owned centre's usual co-payment is nothing; the policy's 100% applies.
        "self-referred visit in an owned centre",
        [L("970005", 1, 1_000_000)],
        CareSetting.OUTPATIENT,
        {"referral_mandatory": True, "self_referral_rate": Decimal("1.00"), "kind": "owned"},
        [(1_279_200, 1_000_000, 1_000_000, 0, {})],
    ),
    (
        "package without a price for the sector: lines priced one by one",
        [L("400100", 1, 30_000_000)],
        CareSetting.INPATIENT,
        {"package_code": "P400100", "package_date": date(2026, 11, 9), "sector": "charity"},
        [(None, 0, 0, 0, {Reason.NOT_IN_TARIFF: 30_000_000})],
    ),
    (
        "a package's line refused before the package: not eligible is not covered by it",
        [L("400100", 1, 30_000_000, date(2026, 11, 9)), L("300100", 1, 5_000_000, D)],
        CareSetting.INPATIENT,
        {
            "package_code": "P400100",
            "package_date": date(2026, 11, 9),
            "coverage": (Coverage("0084575948", "1", date(2020, 1, 1), date(2026, 11, 9)),),
        },
        [
            (None, 30_000_000, 3_000_000, 27_000_000, {}),
            (None, 0, 0, 0, {Reason.PATIENT_NOT_ELIGIBLE: 5_000_000}),
        ],
    ),
]


@pytest.mark.parametrize(
    ("lines", "setting", "fields", "expected"),
    [pytest.param(*case[1:], id=case[0]) for case in CONTEXT_CASES],
)
def test_hand_computed_cases_with_context(lines, setting, fields, expected) -> None:
    fields = dict(fields)
    sector = Sector(fields.pop("sector", "private"))
    kind = CentreKind(fields.pop("kind", "contracted"))
    result = price(lines, kind=kind, sector=sector, setting=setting, **fields)
    got = [
        (
            p.tariff_unit_price,
            p.eligible,
            p.copayment,
            p.insurer_share,
            {d.reason: d.amount for d in p.deductions},
        )
        for p in result.lines
    ]
    assert got == expected
    for line, priced in zip(lines, result.lines, strict=True):
        assert priced.requested == line.quantity * line.unit_price
        assert priced.requested == priced.eligible + priced.deducted
        assert priced.eligible == priced.copayment + priced.insurer_share


def test_package_is_noted_on_the_document() -> None:
    result = price(
        [L("400100", 1, 30_000_000)],
        setting=CareSetting.INPATIENT,
        package_code="P400100",
        package_date=date(2026, 11, 9),
    )
    assert result.notes == [
        "package P400100 (Appendectomy package): 40,000,000 rials for private on 2026-11-09, "
        "in place of the lines it covers"
    ]
    assert "global package price 40,000,000 rials" in result.lines[0].explanation


def test_every_denial_names_its_reason_in_the_explanation() -> None:
    (line,) = price([L("970000", 1, 700_000)], coverage=()).lines
    assert line.explanation == "deducted in full: the patient is not insured on 2026-11-10"


def test_self_referred_lines_carry_their_reason() -> None:
    rate = {"referral_mandatory": True, "self_referral_rate": Decimal("1.00")}
    result = price([L("970005", 1, 1_000_000), L("800010", 1, 300_000)], **rate)
    assert [line.copay_reason for line in result.lines] == ["referral.self-referred"] * 2
    assert "co-payment 100.00% (referral.self-referred) = 1,000,000" in result.lines[0].explanation
    assert any(note.startswith("referral.self-referred") for note in result.notes)
    usual = price([L("970005", 1, 1_000_000)], referral_mandatory=True, referral_code="1")
    assert usual.lines[0].copay_reason is None
