"""Reading and checking a tariff book from its CSV files (format: schemas/tariff/README.md).

A book is all or nothing: any problem in any row refuses the whole import, and every
problem is reported with its file, line and column.
"""

from __future__ import annotations

import csv
import hashlib
import io
import itertools
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, TypeVar

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


class _RowReader:
    """Converts one CSV row's cells, noting a problem per bad cell."""

    def __init__(self, file: str, line: int, row: dict[str, str], problems: list[Problem]):
        self.file, self.line, self.row, self.problems = file, line, row, problems
        self.ok = True

    def _bad(self, column: str, message: str) -> None:
        self.ok = False
        self.problems.append(
            Problem(
                "tariff.invalid-value", f"{column}: {message}", f"{self.file}:{column}", self.line
            )
        )

    def get(self, column: str, convert: Callable[[str], T], *, required: bool = True) -> T | None:
        raw = (self.row.get(column) or "").strip()
        if not raw:
            if required:
                self._bad(column, "is required")
            return None
        try:
            return convert(raw)
        except (ValueError, InvalidOperation) as exc:
            self._bad(column, f"{raw!r} is not valid ({exc})")
            return None

    def non_negative(self, column: str, value: Decimal | int | None) -> None:
        if value is not None and value < 0:
            self._bad(column, f"must not be negative, got {value}")


def _boolean(raw: str) -> bool:
    lowered = raw.lower()
    if lowered in ("true", "yes", "1"):
        return True
    if lowered in ("false", "no", "0"):
        return False
    raise ValueError("expected true or false")


def _rows(
    text: str, file: str, columns: tuple[str, ...], problems: list[Problem]
) -> Iterable[tuple[int, dict[str, str]]]:
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in columns if c not in (reader.fieldnames or [])]
    if missing:
        message = f"missing column(s): {', '.join(missing)}"
        problems.append(Problem("tariff.missing-column", message, file, 1))
        return
    for row in reader:
        yield reader.line_num, row


def parse_services(text: str, book: ParsedBook) -> None:
    for line, row in _rows(text, SERVICES_FILE, SERVICE_COLUMNS, book.problems):
        cells = _RowReader(SERVICES_FILE, line, row, book.problems)
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
            "covered": cells.get("covered", _boolean),
            "referral_required": cells.get("referral_required", _boolean),
            "setting": cells.get("setting", Setting),
            "valid_from": cells.get("valid_from", date.fromisoformat),
            "valid_to": cells.get("valid_to", date.fromisoformat, required=False),
        }
        if values["kind"] in (ItemKind.DRUG, ItemKind.PACKAGE) and unit_price is None:
            cells._bad("unit_price", f"is required for a {values['kind']}")
        if max_quantity is not None and max_quantity < 1:
            cells._bad("max_quantity", "must be at least 1 when given")
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
    for line, row in _rows(text, K_FILE, K_COLUMNS, book.problems):
        cells = _RowReader(K_FILE, line, row, book.problems)
        sector = cells.get("sector", Sector)
        component = cells.get("component", Component)
        value = cells.get("value", int)
        if value is not None and value <= 0:
            cells._bad("value", "must be positive")
        valid_from = cells.get("valid_from", date.fromisoformat)
        valid_to = cells.get("valid_to", date.fromisoformat, required=False)
        if cells.ok and sector and component and value and valid_from:
            book.ks.append(KCoefficient(sector, component, value, valid_from, valid_to))


def _check_periods(
    rows: list[T], key: Callable[[T], Any], file: str, what: str, problems: list[Problem]
) -> None:
    groups: dict[Any, list[Any]] = defaultdict(list)
    for row in rows:
        groups[key(row)].append(row)
    for group_key, members in groups.items():
        members.sort(key=lambda r: r.valid_from)
        for row in members:
            if row.valid_to is not None and row.valid_to < row.valid_from:
                message = f"{what} {group_key}: valid_to {row.valid_to} is before valid_from"
                problems.append(Problem("tariff.bad-period", message, file))
        for earlier, later in itertools.pairwise(members):
            if earlier.valid_to is None or later.valid_from <= earlier.valid_to:
                message = (
                    f"{what} {group_key}: periods from {earlier.valid_from} and "
                    f"{later.valid_from} overlap"
                )
                problems.append(Problem("tariff.overlapping-periods", message, file))


def parse_book(services_text: str, k_text: str) -> ParsedBook:
    """Every row of both files, or every problem found in them."""
    book = ParsedBook()
    book.sha256 = hashlib.sha256(services_text.encode() + b"\0" + k_text.encode()).hexdigest()
    parse_services(services_text, book)
    parse_k(k_text, book)
    _check_periods(book.items, lambda i: i.code, SERVICES_FILE, "code", book.problems)
    _check_periods(
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
