"""Reading and checking a tariff book from its CSV files (format: schemas/tariff/README.md).

A book is all or nothing: any problem in any row refuses the whole import, and every
problem is reported with its file, line and column.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

from gateway.csvrows import RowReader, boolean, check_periods, csv_rows
from gateway.domain.centres import Sector
from gateway.domain.tariff import Component, ItemKind, KCoefficient, Setting, TariffItem
from validators.problems import Problem

SERVICES_FILE = "services.csv"
K_FILE = "k_coefficients.csv"
SERVICE_COLUMNS = (
    "code", "title", "kind", "professional_rvu", "technical_rvu", "anesthesia_rvu",
    "unit_price", "covered", "max_quantity", "referral_required", "setting",
    "valid_from", "valid_to",
)  # fmt: skip
K_COLUMNS = ("sector", "component", "value", "valid_from", "valid_to")

T = TypeVar("T")


@dataclass(slots=True)
class ParsedBook:
    items: list[TariffItem] = field(default_factory=list)
    ks: list[KCoefficient] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    sha256: str = ""


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
        if values["kind"] in (ItemKind.DRUG, ItemKind.PACKAGE) and unit_price is None:
            cells.bad("unit_price", f"is required for a {values['kind']}")
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
        valid_from = cells.get("valid_from", date.fromisoformat)
        valid_to = cells.get("valid_to", date.fromisoformat, required=False)
        if cells.ok and sector and component and value and valid_from:
            book.ks.append(KCoefficient(sector, component, value, valid_from, valid_to))


def parse_book(services_text: str, k_text: str) -> ParsedBook:
    """Every row of both files, or every problem found in them."""
    book = ParsedBook()
    book.sha256 = hashlib.sha256(services_text.encode() + b"\0" + k_text.encode()).hexdigest()
    parse_services(services_text, book)
    parse_k(k_text, book)
    check_periods(book.items, lambda i: i.code, SERVICES_FILE, "code", book.problems)
    check_periods(
        book.ks, lambda k: (k.sector.value, k.component.value), K_FILE, "K", book.problems
    )
    return book


def read_book(directory: Path) -> ParsedBook:
    missing = [name for name in (SERVICES_FILE, K_FILE) if not (directory / name).is_file()]
    if missing:
        book = ParsedBook()
        for name in missing:
            book.problems.append(
                Problem("tariff.missing-file", f"{name} not found", str(directory))
            )
        return book
    return parse_book(
        (directory / SERVICES_FILE).read_text(encoding="utf-8-sig"),
        (directory / K_FILE).read_text(encoding="utf-8-sig"),
    )
