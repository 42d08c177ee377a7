"""Reading, checking and writing a tariff book as CSV files (format: schemas/tariff/README.md).

A book is all or nothing: any problem in any row refuses the whole import, and every
problem is reported with its file, line and column.
"""

from __future__ import annotations

import csv
import hashlib
import io
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

from gateway.domain.centres import Sector
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
from gateway.kit.csvrows import RowReader, boolean, check_periods, csv_rows
from validators.problems import Problem

SERVICES_FILE = "services.csv"
K_FILE = "k_coefficients.csv"
PACKAGE_PRICES_FILE = "package_prices.csv"
PACKAGE_CONTENTS_FILE = "package_contents.csv"
FILES = (SERVICES_FILE, K_FILE, PACKAGE_PRICES_FILE, PACKAGE_CONTENTS_FILE)
REQUIRED_FILES = (SERVICES_FILE, K_FILE)
SERVICE_COLUMNS = (
    "code", "title", "kind", "professional_rvu", "technical_rvu", "anesthesia_rvu",
    "unit_price", "covered", "max_quantity", "referral_required", "setting",
    "valid_from", "valid_to",
)  # fmt: skip
K_COLUMNS = ("sector", "component", "value", "valid_from", "valid_to")
K_EXPORT_COLUMNS = ("sector", "component", "grade", "value", "valid_from", "valid_to")
PACKAGE_PRICE_COLUMNS = ("code", "sector", "price", "valid_from", "valid_to")
PACKAGE_CONTENT_COLUMNS = ("package_code", "item_code")

T = TypeVar("T")


@dataclass(slots=True)
class ParsedBook:
    items: list[TariffItem] = field(default_factory=list)
    ks: list[KCoefficient] = field(default_factory=list)
    package_prices: list[PackagePrice] = field(default_factory=list)
    package_contents: list[PackageContent] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    sha256: str = ""

    def to_book(self, version_id: int, label: str) -> TariffBook:
        return TariffBook.build(
            version_id, label, self.items, self.ks, self.package_prices, self.package_contents
        )


def parse_services(text: str, book: ParsedBook) -> None:
    for line, row in csv_rows(text, SERVICES_FILE, SERVICE_COLUMNS, book.problems):
        cells = RowReader(SERVICES_FILE, line, row, book.problems)
        units = {c: cells.get(c, Decimal) for c in SERVICE_COLUMNS[3:6]}
        for column, value in units.items():
            cells.non_negative(column, value)
        unit_price = cells.get("unit_price", int, required=False)
        cells.non_negative("unit_price", unit_price)
        max_quantity = cells.get("max_quantity", int, required=False)
        values: dict[str, Any] = {
            "code": cells.get("code", str),
            "title": cells.get("title", str),
            "kind": cells.get("kind", ItemKind),
            "covered": cells.get("covered", boolean),
            "referral_required": cells.get("referral_required", boolean),
            "setting": cells.get("setting", Setting),
            "valid_from": cells.get("valid_from", date.fromisoformat),
            "valid_to": cells.get("valid_to", date.fromisoformat, required=False),
        }
        if values["kind"] is ItemKind.DRUG and unit_price is None:
            cells.bad("unit_price", "is required for a drug")
        if values["kind"] is ItemKind.SERVICE and unit_price is not None:
            cells.bad("unit_price", "must be empty for a service (its price is RVUs x K)")
        if values["kind"] is ItemKind.PACKAGE and unit_price is not None:
            cells.bad("unit_price", f"must be empty for a package (see {PACKAGE_PRICES_FILE})")
        if max_quantity is not None and max_quantity < 1:
            cells.bad("max_quantity", "must be at least 1 when given")
        if not cells.ok:
            continue
        book.items.append(
            TariffItem(
                professional_rvu=units["professional_rvu"] or Decimal(0),
                technical_rvu=units["technical_rvu"] or Decimal(0),
                anesthesia_rvu=units["anesthesia_rvu"] or Decimal(0),
                unit_price=unit_price,
                max_quantity=max_quantity,
                **values,
            )
        )


def parse_k(text: str, book: ParsedBook) -> None:
    for line, row in csv_rows(text, K_FILE, K_COLUMNS, book.problems):
        cells = RowReader(K_FILE, line, row, book.problems)
        sector = cells.get("sector", Sector)
        component = cells.get("component", Component)
        value = cells.get("value", int)
        if value is not None and value <= 0:
            cells.bad("value", "must be positive")
        grade = cells.get("grade", Grade, required=False)
        valid_from = cells.get("valid_from", date.fromisoformat)
        valid_to = cells.get("valid_to", date.fromisoformat, required=False)
        if cells.ok and sector and component and value and valid_from:
            book.ks.append(KCoefficient(sector, component, value, valid_from, valid_to, grade))


def parse_package_prices(text: str, book: ParsedBook) -> None:
    for line, row in csv_rows(text, PACKAGE_PRICES_FILE, PACKAGE_PRICE_COLUMNS, book.problems):
        cells = RowReader(PACKAGE_PRICES_FILE, line, row, book.problems)
        code = cells.get("code", str)
        sector = cells.get("sector", Sector)
        price = cells.get("price", int)
        cells.non_negative("price", price)
        valid_from = cells.get("valid_from", date.fromisoformat)
        valid_to = cells.get("valid_to", date.fromisoformat, required=False)
        if cells.ok and code and sector and price is not None and valid_from:
            book.package_prices.append(PackagePrice(code, sector, price, valid_from, valid_to))


def parse_package_contents(text: str, book: ParsedBook) -> None:
    file = PACKAGE_CONTENTS_FILE
    for line, row in csv_rows(text, file, PACKAGE_CONTENT_COLUMNS, book.problems):
        cells = RowReader(file, line, row, book.problems)
        package_code = cells.get("package_code", str)
        item_code = cells.get("item_code", str)
        if cells.ok and package_code and item_code:
            book.package_contents.append(PackageContent(package_code, item_code))


def _check_packages(book: ParsedBook) -> None:
    """Package prices and contents name packages of services.csv, contents name codes of the
    book, and every package has at least one price."""
    kinds: dict[str, set[ItemKind]] = {}
    for item in book.items:
        kinds.setdefault(item.code, set()).add(item.kind)
    packages = {code for code, k in kinds.items() if ItemKind.PACKAGE in k}
    priced = {price.code for price in book.package_prices}
    for price in book.package_prices:
        if price.code not in packages:
            book.problems.append(
                Problem(
                    "tariff.unknown-package",
                    f"{price.code} is not a package of {SERVICES_FILE}",
                    f"{PACKAGE_PRICES_FILE}:code",
                )
            )
    for content in book.package_contents:
        if content.package_code not in packages:
            book.problems.append(
                Problem(
                    "tariff.unknown-package",
                    f"{content.package_code} is not a package of {SERVICES_FILE}",
                    f"{PACKAGE_CONTENTS_FILE}:package_code",
                )
            )
        item_kinds = kinds.get(content.item_code, set())
        if not item_kinds or ItemKind.PACKAGE in item_kinds:
            book.problems.append(
                Problem(
                    "tariff.unknown-code",
                    f"{content.item_code} is not a service or drug of {SERVICES_FILE}",
                    f"{PACKAGE_CONTENTS_FILE}:item_code",
                )
            )
    if any(p.path and p.path.startswith(PACKAGE_PRICES_FILE) for p in book.problems):
        return  # a price row was refused; "no price" would only repeat it
    for code in sorted(packages - priced):
        book.problems.append(
            Problem(
                "tariff.package-without-price",
                f"package {code} has no price in {PACKAGE_PRICES_FILE}",
                f"{SERVICES_FILE}:code",
            )
        )


def parse_book(
    services_text: str, k_text: str, package_prices_text: str = "", package_contents_text: str = ""
) -> ParsedBook:
    """Every row of every file, or every problem found in them."""
    book = ParsedBook()
    texts = (services_text, k_text, package_prices_text, package_contents_text)
    book.sha256 = hashlib.sha256(b"\0".join(t.encode() for t in texts)).hexdigest()
    parse_services(services_text, book)
    parse_k(k_text, book)
    if package_prices_text:
        parse_package_prices(package_prices_text, book)
    if package_contents_text:
        parse_package_contents(package_contents_text, book)
    check_periods(book.items, lambda i: i.code, SERVICES_FILE, "code", book.problems)
    check_periods(
        book.ks,
        lambda k: (k.sector.value, k.component.value, k.grade.value if k.grade else "any grade"),
        K_FILE,
        "K",
        book.problems,
    )
    check_periods(
        book.package_prices,
        lambda p: (p.code, p.sector.value),
        PACKAGE_PRICES_FILE,
        "package price",
        book.problems,
    )
    _check_packages(book)
    return book


def read_book(directory: Path) -> ParsedBook:
    """The book in a folder: services.csv and k_coefficients.csv, and the package files
    when the book has packages."""
    missing = [name for name in REQUIRED_FILES if not (directory / name).is_file()]
    if missing:
        book = ParsedBook()
        for name in missing:
            book.problems.append(
                Problem("tariff.missing-file", f"{name} not found", str(directory))
            )
        return book
    texts = [
        (directory / name).read_text(encoding="utf-8-sig") if (directory / name).is_file() else ""
        for name in FILES
    ]
    return parse_book(*texts)


def _when(day: date | None) -> str:
    return day.isoformat() if day else ""


def _units(value: Decimal) -> str:
    return f"{value.normalize():f}"


def _item_row(i: TariffItem) -> tuple[object, ...]:
    price = "" if i.unit_price is None else i.unit_price
    limit = "" if i.max_quantity is None else i.max_quantity
    units = (_units(i.professional_rvu), _units(i.technical_rvu), _units(i.anesthesia_rvu))
    flags = (price, str(i.covered).lower(), limit, str(i.referral_required).lower())
    return (i.code, i.title, i.kind.value, *units, *flags, i.setting.value, *_period(i))


def _k_row(k: KCoefficient) -> tuple[object, ...]:
    grade = k.grade.value if k.grade else ""
    return (k.sector.value, k.component.value, grade, k.value, *_period(k))


def _period(row: TariffItem | KCoefficient | PackagePrice) -> tuple[str, str]:
    return _when(row.valid_from), _when(row.valid_to)


def _table(columns: tuple[str, ...], rows: list[tuple[object, ...]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows(rows)
    return out.getvalue()


def book_files(book: TariffBook) -> dict[str, str]:
    """The book as the CSV files ``read_book`` reads, rows in a stable order."""
    items = sorted(book.all_items(), key=lambda i: (i.code, i.valid_from))
    ks = sorted(book.all_ks(), key=lambda k: (k.sector, k.component, k.grade or "", k.valid_from))
    prices = sorted(book.all_package_prices(), key=lambda p: (p.code, p.sector, p.valid_from))
    contents = sorted(book.all_package_contents(), key=lambda c: (c.package_code, c.item_code))
    return {
        SERVICES_FILE: _table(SERVICE_COLUMNS, [_item_row(i) for i in items]),
        K_FILE: _table(K_EXPORT_COLUMNS, [_k_row(k) for k in ks]),
        PACKAGE_PRICES_FILE: _table(
            PACKAGE_PRICE_COLUMNS,
            [(p.code, p.sector.value, p.price, *_period(p)) for p in prices],
        ),
        PACKAGE_CONTENTS_FILE: _table(
            PACKAGE_CONTENT_COLUMNS, [(c.package_code, c.item_code) for c in contents]
        ),
    }


def write_book(book: TariffBook, directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in book_files(book).items():
        path = directory / name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written
