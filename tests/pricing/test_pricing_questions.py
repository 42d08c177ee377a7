"""The seven questions of docs/pricing.md, each as a case computed by hand beside its figures.

The book here is small and made for the questions: a physiotherapy code with a limit of
10 a document, a bed-day with a limit of 2 inside a package, and a grade K for one
component only (specialist: technical; subspecialist: professional).
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest

from gateway.domain.centres import CentreKind, Sector
from gateway.domain.documents import CareSetting, CodeType, DocumentKind, Line
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
from tests import factories as f
from tests.validators.test_rules import BOOK as SAMPLE_BOOK
from tests.validators.test_rules import CONTEXT, check, codes

START, D = date(2024, 3, 20), date(2026, 11, 10)
Y2026 = (date(2026, 3, 21), date(2027, 3, 20))
P, T, A = Component.PROFESSIONAL, Component.TECHNICAL, Component.ANESTHESIA

BOOK = TariffBook.build(
    8,
    "questions",
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
            "600100",
            "Physiotherapy",
            ItemKind.SERVICE,
            START,
            professional_rvu=Decimal("0.8"),
            technical_rvu=Decimal("1.2"),
            max_quantity=10,
        ),
        TariffItem(
            "400100",
            "Appendectomy",
            ItemKind.SERVICE,
            START,
            professional_rvu=Decimal(25),
            technical_rvu=Decimal(10),
            anesthesia_rvu=Decimal(6),
            max_quantity=1,
        ),
        TariffItem(
            "300100",
            "Bed-day",
            ItemKind.SERVICE,
            START,
            technical_rvu=Decimal(6),
            setting=Setting.INPATIENT,
            max_quantity=2,
        ),
        TariffItem("P400100", "Appendectomy package", ItemKind.PACKAGE, START),
    ],
    [
        KCoefficient(Sector.PRIVATE, P, 492_000, *Y2026),
        KCoefficient(Sector.PRIVATE, T, 312_000, *Y2026),
        KCoefficient(Sector.PRIVATE, A, 528_000, *Y2026),
        KCoefficient(Sector.PRIVATE, T, 350_000, *Y2026, grade=Grade.SPECIALIST),
        KCoefficient(Sector.PRIVATE, P, 590_000, *Y2026, grade=Grade.SUBSPECIALIST),
    ],
    [
        PackagePrice("P400100", Sector.PRIVATE, 40_000_000, *Y2026),
        PackagePrice("P400100", Sector.GOVERNMENTAL, 57_600_000, *Y2026),
    ],
    [PackageContent("P400100", code) for code in ("400100", "300100")],
)


def L(code: str, qty: int, unit: int, on: date = D) -> Line:
    return Line(CodeType.SERVICE, code, qty, unit, qty * unit, on)


def price(lines: list[Line], **fields: Any) -> list[tuple[Any, ...]]:
    """Per line: (tariff unit price, allowed quantity, eligible, co-payment, insurer,
    {reason: amount}); every line must balance."""
    centre = CentreInfo(
        "C-1",
        "Centre",
        fields.pop("kind", CentreKind.CONTRACTED),
        fields.pop("sector", Sector.PRIVATE),
        "Tehran",
    )
    request = PricingRequest(
        centre,
        fields.pop("setting", CareSetting.OUTPATIENT),
        lines,
        coverage=fields.pop("coverage", (Coverage("0084575948", "1", date(2020, 1, 1)),)),
        **fields,
    )
    result = price_document(request, BOOK, CopayPolicy())
    for line in result.lines:
        assert line.requested == line.eligible + line.deducted
        assert line.eligible == line.copayment + line.insurer_share
    return [
        (
            p.tariff_unit_price,
            p.allowed_quantity,
            p.eligible,
            p.copayment,
            p.insurer_share,
            {d.reason: d.amount for d in p.deductions},
        )
        for p in result.lines
    ]


def test_q1_a_refused_line_does_not_count_toward_the_limit() -> None:
    # physiotherapy unit = 0.8 x 492,000 + 1.2 x 312,000 = 393,600 + 374,400 = 768,000;
    # 700,000 asked per unit, below it; limit 10 a document
    got = price(
        [
            L("600100", 6, 700_000),  # 6 paid: 6 x 700,000 = 4,200,000; 30% = 1,260,000
            L("600100", 6, 700_000),  # same code and date: duplicate, counts for nothing
            L("600100", 6, 700_000, D + timedelta(days=1)),  # 10 - 6 = 4 payable of 6
        ]
    )
    assert got == [
        (768_000, 6, 4_200_000, 1_260_000, 2_940_000, {}),
        (None, 0, 0, 0, 0, {Reason.DUPLICATE_LINE: 4_200_000}),  # 6 x 700,000
        # 4 x 700,000 = 2,800,000; 30% = 840,000; 2 over x 700,000 = 1,400,000
        (768_000, 4, 2_800_000, 840_000, 1_960_000, {Reason.QUANTITY_ABOVE_LIMIT: 1_400_000}),
    ]


def test_q1_the_warning_counts_every_line_pricing_may_still_refuse() -> None:
    """The submission check counts the units of every line of a code in the tariff; it
    cannot know what pricing will refuse. Sample book: CBC, limit 2 a document."""
    document = f.outpatient_visit([f.line("800010", 2, 300_000), f.line("800010", 1, 300_000)])
    assert codes(check(document, context=CONTEXT)) == [["line.quantity-above-limit"]]
    lines = [L("800010", 2, 300_000), L("800010", 1, 300_000)]  # the same day twice
    request = PricingRequest(
        CentreInfo("C-1", "Centre", CentreKind.CONTRACTED, Sector.PRIVATE, "Tehran"),
        CareSetting.OUTPATIENT,
        lines,
        coverage=(Coverage("0084575948", "1", date(2020, 1, 1)),),
    )
    second = price_document(request, SAMPLE_BOOK, CopayPolicy()).lines[1]
    # deducted whole as a duplicate (1 x 300,000), not as a quantity above the limit
    assert {d.reason: d.amount for d in second.deductions} == {Reason.DUPLICATE_LINE: 300_000}


PACKAGE = {"package_code": "P400100", "package_date": D, "setting": CareSetting.INPATIENT}


def test_q2_q6_the_limit_holds_inside_a_package_dearer_than_the_lines() -> None:
    # governmental package 57,600,000; bed-day limit 2: within limits 30,000,000 +
    # 2 x 5,000,000 = 40,000,000 asked, below the package: paid as asked; inpatient 10%
    got = price(
        [L("400100", 1, 30_000_000), L("300100", 3, 5_000_000)],
        sector=Sector.GOVERNMENTAL,
        **PACKAGE,
    )
    assert got == [
        (None, 1, 30_000_000, 3_000_000, 27_000_000, {}),
        # 2 x 5,000,000 = 10,000,000; 10% = 1,000,000; the third day 5,000,000 deducted
        (None, 2, 10_000_000, 1_000_000, 9_000_000, {Reason.QUANTITY_ABOVE_LIMIT: 5_000_000}),
    ]


def test_q2_q6_the_limit_holds_inside_a_package_cheaper_than_the_lines() -> None:
    # private package 40,000,000; within limits 32,000,000 + 2 x 5,000,000 = 42,000,000;
    # min(40,000,000, 42,000,000) = 40,000,000 spread in line order: 32,000,000 then
    # 40,000,000 - 32,000,000 = 8,000,000
    got = price([L("400100", 1, 32_000_000), L("300100", 3, 5_000_000)], **PACKAGE)
    assert got == [
        (None, 1, 32_000_000, 3_200_000, 28_800_000, {}),  # 10% of 32,000,000
        # 15,000,000 asked = 8,000,000 paid + 5,000,000 above the limit
        # + (10,000,000 - 8,000,000) = 2,000,000 beyond the line's part of the package
        (
            None,
            2,
            8_000_000,
            800_000,
            7_200_000,
            {Reason.QUANTITY_ABOVE_LIMIT: 5_000_000, Reason.COVERED_BY_PACKAGE: 2_000_000},
        ),
    ]


@pytest.mark.parametrize(
    ("kind", "rate"),
    [
        (DocumentKind.OUTPATIENT_VISIT, Decimal("0.30")),
        (DocumentKind.PRESCRIPTION, Decimal("0.30")),
        (DocumentKind.PARACLINICAL, Decimal("0.30")),
        (DocumentKind.INPATIENT_BILL, Decimal("0.10")),
        (DocumentKind.SURGERY_PACKAGE, Decimal("0.10")),
    ],
)
def test_q3_the_document_type_sets_the_care_setting_and_the_rate(
    kind: DocumentKind, rate: Decimal
) -> None:
    assert CopayPolicy().rate(CentreKind.CONTRACTED, kind.setting) == rate
    assert CopayPolicy().rate(CentreKind.OWNED, kind.setting) == 0
    # CBC, 0.2 x 492,000 + 0.9 x 312,000 = 98,400 + 280,800 = 379,200 a unit, 300,000 asked:
    # 30% of 300,000 = 90,000 outpatient; 10% = 30,000 inpatient
    copayment = {Decimal("0.30"): 90_000, Decimal("0.10"): 30_000}[rate]
    ((*_, paid, copaid, insurer, _),) = price([L("800010", 1, 300_000)], setting=kind.setting)
    assert (paid, copaid, insurer) == (300_000, copayment, 300_000 - copayment)


@pytest.mark.parametrize(
    ("grade", "expected"),
    [
        # 0.2 x 492,000 + 0.9 x 312,000 = 98,400 + 280,800 = 379,200; 500,000 - 379,200
        # = 120,800 above; 30% of 379,200 = 113,760
        (None, (379_200, 1, 379_200, 113_760, 265_440, {Reason.ABOVE_TARIFF: 120_800})),
        # no general-grade row: the sector's K for every component, as above
        (Grade.GENERAL, (379_200, 1, 379_200, 113_760, 265_440, {Reason.ABOVE_TARIFF: 120_800})),
        # technical has a specialist K: 0.2 x 492,000 + 0.9 x 350,000 = 98,400 + 315,000
        # = 413,400; 500,000 - 413,400 = 86,600; 30% = 124,020
        (
            Grade.SPECIALIST,
            (413_400, 1, 413_400, 124_020, 289_380, {Reason.ABOVE_TARIFF: 86_600}),
        ),
        # professional has a subspecialist K: 0.2 x 590,000 + 0.9 x 312,000 = 118,000 +
        # 280,800 = 398,800; 500,000 - 398,800 = 101,200; 30% = 119,640
        (
            Grade.SUBSPECIALIST,
            (398_800, 1, 398_800, 119_640, 279_160, {Reason.ABOVE_TARIFF: 101_200}),
        ),
    ],
)
def test_q4_a_grade_k_replaces_its_own_component_only(
    grade: Grade | None, expected: tuple[Any, ...]
) -> None:
    assert price([L("800010", 1, 500_000)], grade=grade) == [expected]


def test_q7_a_service_another_centre_billed_first_is_deducted() -> None:
    earlier = {("970000", D): "document 1b2c of another centre"}
    got = price([L("970000", 1, 700_000), L("800010", 1, 300_000)], billed_earlier=earlier)
    assert got == [
        (None, 0, 0, 0, 0, {Reason.DUPLICATE_LINE: 700_000}),  # 1 x 700,000, whole
        # 379,200 a unit, 300,000 asked; 30% = 90,000
        (379_200, 1, 300_000, 90_000, 210_000, {}),
    ]
