"""Tariff import: the sample book loads; each kind of malformed book is refused clearly."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.admin import SAMPLE_TARIFF_DIR
from workers.pricing.tariff_csv import parse_book, read_book

SERVICES = (SAMPLE_TARIFF_DIR / "services.csv").read_text()
KS = (SAMPLE_TARIFF_DIR / "k_coefficients.csv").read_text()
HEADER_S = SERVICES.splitlines()[0]
HEADER_K = KS.splitlines()[0]


def test_sample_book_loads_without_problems() -> None:
    book = read_book(SAMPLE_TARIFF_DIR)
    assert book.problems == []
    assert len(book.items) >= 30
    assert len(book.ks) >= 24
    years = {k.valid_from.year for k in book.ks}
    assert len(years) >= 2


@pytest.mark.parametrize(
    ("services_rows", "k_rows", "code", "fragment"),
    [
        (
            ["970000,Visit,service,-1,0,0,,true,1,false,outpatient,2024-03-20,"],
            [],
            "tariff.invalid-value",
            "professional_rvu: must not be negative",
        ),
        (
            ["970000,Visit,service,1,0,0,,maybe,1,false,outpatient,2024-03-20,"],
            [],
            "tariff.invalid-value",
            "covered",
        ),
        (
            ["970000,Visit,gadget,1,0,0,,true,1,false,outpatient,2024-03-20,"],
            [],
            "tariff.invalid-value",
            "kind",
        ),
        (
            ["2001001,Drug,drug,0,0,0,,true,1,false,both,2024-03-20,"],
            [],
            "tariff.invalid-value",
            "unit_price: is required for a drug",
        ),
        (
            [
                "970000,Visit,service,1,0,0,,true,1,false,outpatient,2024-03-20,",
                "970000,Visit,service,1,0,0,,true,1,false,outpatient,2025-01-01,",
            ],
            [],
            "tariff.overlapping-periods",
            "overlap",
        ),
        (
            ["970000,Visit,service,1,0,0,,true,1,false,outpatient,2024-13-01,"],
            [],
            "tariff.invalid-value",
            "valid_from",
        ),
        (
            [],
            ["military,professional,1000,2025-03-21,2026-03-20"],
            "tariff.invalid-value",
            "sector",
        ),
        (
            [],
            ["private,professional,-5,2025-03-21,2026-03-20"],
            "tariff.invalid-value",
            "value: must be positive",
        ),
        (
            [],
            [
                "private,professional,5,2025-03-21,2026-03-20",
                "private,professional,6,2026-03-01,2027-03-20",
            ],
            "tariff.overlapping-periods",
            "overlap",
        ),
        (
            [],
            ["private,professional,5,2026-03-21,2025-03-20"],
            "tariff.bad-period",
            "before valid_from",
        ),
    ],
)
def test_malformed_books_are_refused(services_rows, k_rows, code, fragment) -> None:
    book = parse_book("\n".join([HEADER_S, *services_rows]), "\n".join([HEADER_K, *k_rows]))
    assert [p.code for p in book.problems] == [code]
    assert fragment in book.problems[0].message


def test_problems_name_file_and_line() -> None:
    rows = [
        "970000,Visit,service,1,0,0,,true,1,false,outpatient,2024-03-20,",
        "970001,Visit,service,x,0,0,,true,1,false,outpatient,2024-03-20,",
    ]
    (problem,) = parse_book("\n".join([HEADER_S, *rows]), HEADER_K).problems
    assert problem.path == "services.csv:professional_rvu"
    assert problem.line == 3


def test_missing_column_and_missing_file(tmp_path: Path) -> None:
    book = parse_book("code,title\n1,x", HEADER_K)
    assert [p.code for p in book.problems] == ["tariff.missing-column"]
    assert [p.code for p in read_book(tmp_path).problems] == ["tariff.missing-file"] * 2
