"""Tariff import: the sample book loads; each kind of malformed book is refused clearly."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.admin.service import SAMPLE_TARIFF_DIR
from gateway.pricing.tariff_csv import book_files, parse_book, read_book, write_book

SERVICES = (SAMPLE_TARIFF_DIR / "services.csv").read_text()
KS = (SAMPLE_TARIFF_DIR / "k_coefficients.csv").read_text()
HEADER_S = SERVICES.splitlines()[0]
HEADER_K = "sector,component,value,valid_from,valid_to"  # grade is an optional column
HEADER_P = "code,sector,price,valid_from,valid_to"
HEADER_C = "package_code,item_code"
PACKAGE = "P1,Package,package,0,0,0,,true,1,false,inpatient,2024-03-20,"
VISIT = "970000,Visit,service,1,0,0,,true,1,false,outpatient,2024-03-20,"


def test_sample_book_loads_without_problems() -> None:
    book = read_book(SAMPLE_TARIFF_DIR)
    assert book.problems == []
    assert len(book.items) >= 30
    assert len(book.ks) >= 24
    years = {k.valid_from.year for k in book.ks}
    assert len(years) >= 2
    assert {k.grade for k in book.ks} > {None}
    assert book.package_prices
    assert book.package_contents


def test_export_then_import_gives_the_same_book(tmp_path: Path) -> None:
    book = read_book(SAMPLE_TARIFF_DIR).to_book(1, "sample")
    write_book(book, tmp_path)
    again = read_book(tmp_path)
    assert again.problems == []
    assert book_files(again.to_book(2, "again")) == book_files(book)
    assert sorted(again.items, key=repr) == sorted(book.all_items(), key=repr)


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
        (
            ["970000,Visit,service,1,0,0,5000,true,1,false,outpatient,2024-03-20,"],
            [],
            "tariff.invalid-value",
            "unit_price: must be empty for a service",
        ),
        (
            ["P1,Package,package,0,0,0,9000,true,1,false,inpatient,2024-03-20,"],
            [],
            "tariff.invalid-value",
            "unit_price: must be empty for a package",
        ),
        (
            ["970000,Visit,service,1,0,0,,true,0,false,outpatient,2024-03-20,"],
            [],
            "tariff.invalid-value",
            "max_quantity: must be at least 1",
        ),
        (
            ["970000,Visit,service,1,0,0,,true,1,false,everywhere,2024-03-20,"],
            [],
            "tariff.invalid-value",
            "setting",
        ),
    ],
)
def test_malformed_books_are_refused(services_rows, k_rows, code, fragment) -> None:
    book = parse_book("\n".join([HEADER_S, *services_rows]), "\n".join([HEADER_K, *k_rows]))
    assert [p.code for p in book.problems] == [code]
    assert fragment in book.problems[0].message


@pytest.mark.parametrize(
    ("k_rows", "fragment"),
    [
        (["private,professional,chief,5,2025-03-21,"], "grade"),
        (
            [
                "private,professional,subspecialist,5,2025-03-21,2026-03-20",
                "private,professional,subspecialist,6,2026-01-01,",
            ],
            "overlap",
        ),
    ],
)
def test_malformed_grade_ks_are_refused(k_rows, fragment) -> None:
    header = "sector,component,grade,value,valid_from,valid_to"
    book = parse_book("\n".join([HEADER_S, VISIT]), "\n".join([header, *k_rows]))
    assert len(book.problems) == 1
    assert fragment in book.problems[0].message


def test_a_grade_k_may_share_the_period_of_the_sector_k() -> None:
    header = "sector,component,grade,value,valid_from,valid_to"
    rows = ["private,professional,,5,2025-03-21,", "private,professional,specialist,6,2025-03-21,"]
    assert parse_book(HEADER_S, "\n".join([header, *rows])).problems == []


@pytest.mark.parametrize(
    ("services", "prices", "contents", "code", "fragment"),
    [
        ([PACKAGE], [], [], "tariff.package-without-price", "P1 has no price"),
        (
            [PACKAGE],
            ["P1,military,100,2024-03-20,"],
            [],
            "tariff.invalid-value",
            "sector",
        ),
        (
            [PACKAGE],
            ["P1,private,-100,2024-03-20,"],
            [],
            "tariff.invalid-value",
            "price: must not be negative",
        ),
        (
            [PACKAGE],
            ["P1,private,100,2024-03-20,", "P1,private,200,2025-03-20,"],
            [],
            "tariff.overlapping-periods",
            "overlap",
        ),
        (
            [PACKAGE, VISIT],
            ["P1,private,100,2024-03-20,", "P2,private,1,2024-03-20,"],
            [],
            "tariff.unknown-package",
            "P2",
        ),
        ([PACKAGE], ["P1,private,100,2024-03-20,"], ["P1,123456"], "tariff.unknown-code", "123456"),
        (
            [PACKAGE, VISIT],
            ["P1,private,100,2024-03-20,"],
            ["P9,970000"],
            "tariff.unknown-package",
            "P9",
        ),
    ],
)
def test_malformed_packages_are_refused(services, prices, contents, code, fragment) -> None:
    book = parse_book(
        "\n".join([HEADER_S, *services]),
        HEADER_K,
        "\n".join([HEADER_P, *prices]),
        "\n".join([HEADER_C, *contents]),
    )
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
