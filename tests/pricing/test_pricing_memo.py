"""What pricing remembers to go fast never changes what it computes."""

from __future__ import annotations

import itertools
from datetime import date
from decimal import Decimal

from gateway.admin.service import SAMPLE_TARIFF_DIR
from gateway.domain.centres import CentreKind, Sector
from gateway.domain.documents import CareSetting, CodeType, Line
from gateway.domain.registry import CentreInfo, Coverage
from gateway.domain.tariff import Component, Grade, ItemKind, KCoefficient, TariffBook, TariffItem
from gateway.pricing.engine.adjudicate import CopayPolicy, PricingRequest, price_document
from gateway.pricing.engine.memo import ByIdentity
from gateway.pricing.engine.rules import tariff_unit_price, unit_price_in_force
from gateway.pricing.tariff_csv import read_book

DAYS = (
    date(2025, 3, 20),
    date(2025, 3, 21),
    date(2026, 3, 20),
    date(2026, 3, 21),
    date(2027, 1, 1),
)


def request(sector: Sector, grade: Grade | None = None) -> PricingRequest:
    centre = CentreInfo("C1", "Centre", CentreKind.CONTRACTED, sector)
    return PricingRequest(centre=centre, setting=CareSetting.OUTPATIENT, lines=[], grade=grade)


def test_remembered_unit_prices_equal_computed_ones_for_the_whole_sample_book() -> None:
    book = read_book(SAMPLE_TARIFF_DIR).to_book(1, "sample")
    codes = {item.code for item in book.all_items()}
    for code, sector, grade, on in itertools.product(codes, Sector, (None, *Grade), DAYS):
        item = book.item(code, on)
        if item is None:
            continue
        asked = request(sector, grade)
        assert unit_price_in_force(item, book, asked, on) == tariff_unit_price(
            item, book, asked, on
        )


def book_with_k(value: int) -> TariffBook:
    visit = TariffItem(
        "970000", "GP visit", ItemKind.SERVICE, date(2024, 1, 1), professional_rvu=Decimal("1.5")
    )
    k = KCoefficient(Sector.PRIVATE, Component.PROFESSIONAL, value, date(2024, 1, 1))
    return TariffBook.build(1, "same version id, another book", [visit], [k])


def test_another_book_is_not_answered_from_the_first_ones_memory() -> None:
    asked, on = request(Sector.PRIVATE), date(2026, 11, 1)
    first, second = book_with_k(400_000), book_with_k(500_000)
    item = first.item("970000", on)
    assert item is not None
    assert unit_price_in_force(item, first, asked, on) == tariff_unit_price(item, first, asked, on)
    price = unit_price_in_force(item, second, asked, on)
    assert getattr(price, "price", None) == 750_000


def test_equal_rates_written_differently_explain_differently() -> None:
    line = Line(CodeType.SERVICE, "970000", 1, 600_000, 600_000, date(2026, 11, 1))
    book = book_with_k(400_000)
    coverage = [Coverage("1", "1", date(2020, 1, 1))]
    centre = CentreInfo("C1", "Centre", CentreKind.CONTRACTED, Sector.PRIVATE)
    asked = PricingRequest(
        centre=centre, setting=CareSetting.OUTPATIENT, lines=[line], coverage=coverage
    )
    texts = [
        price_document(asked, book, CopayPolicy(outpatient=rate)).lines[0].explanation
        for rate in (Decimal("0.3"), Decimal("0.30"))
    ]
    assert texts[0].endswith("co-payment 30.0% = 180,000")
    assert texts[1].endswith("co-payment 30.00% = 180,000")


def test_by_identity_tells_equal_keys_apart_and_forgets_when_full() -> None:
    calls: list[Decimal] = []

    def compute(value: Decimal) -> str:
        calls.append(value)
        return str(value)

    memo = ByIdentity(compute, limit=2)
    a, b, c = Decimal("0.3"), Decimal("0.30"), Decimal(1)
    assert [memo(a), memo(b), memo(a)] == ["0.3", "0.30", "0.3"]
    assert len(calls) == 2
    memo(c)  # full: forgets what it knew
    memo(a)
    assert len(calls) == 4
