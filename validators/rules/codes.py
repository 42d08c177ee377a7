"""Code rules: each code in the tariff in force on its date, quantities within limits, a
surgery package's code a priced package.

All are warnings: the document is accepted, the centre is told now, and pricing deducts
what the tariff does not pay, with the same reason (a package it cannot price leaves the
lines to be priced one by one, as pricing's note on the document says).
"""

from __future__ import annotations

from datetime import date

from gateway.domain.documents import CodeType, Document
from gateway.domain.tariff import ItemKind, TariffBook, TariffItem
from validators.context import RuleContext
from validators.problems import Problem, Severity
from validators.rules.paths import field_path, line_path
from validators.tariffs import tariff_index

_DRUG_LINE, _DRUG_ITEM = CodeType.DRUG, ItemKind.DRUG


def check_codes(document: Document, context: RuleContext) -> list[Problem]:
    book = context.tariff
    if book is None:
        return []
    package = document.package_code
    problems = [] if package is None else _package(document, package, book, context)
    used: dict[str, int] = {}
    index = tariff_index(book)
    day: date | None = None
    items: dict[str, TariffItem | None] = {}
    for number, line in enumerate(document.lines, start=1):
        if line.service_date != day:
            day, items = line.service_date, index.on(line.service_date)
        item = items[line.code]
        if item is None or (line.code_type is _DRUG_LINE) != (item.kind is _DRUG_ITEM):
            problems.append(
                Problem(
                    "line.code-not-in-tariff",
                    f"Line {number}: {line.code_type} {line.code} is not in the tariff in force on "
                    f"{line.service_date}; it will be deducted.",
                    line_path(document, number, "code"),
                    document.line_no,
                    Severity.WARNING,
                )
            )
            continue
        total = used[item.code] = used.get(item.code, 0) + line.quantity
        if item.max_quantity is not None and total > item.max_quantity:
            problems.append(
                Problem(
                    "line.quantity-above-limit",
                    f"Line {number}: {total} unit(s) of {item.code} in this document; "
                    f"the tariff pays at most {item.max_quantity}.",
                    line_path(document, number, "quantity"),
                    document.line_no,
                    Severity.WARNING,
                )
            )
    return problems


def _package(
    document: Document, code: str, book: TariffBook, context: RuleContext
) -> list[Problem]:
    """The package is priced as pricing will price it: a covered package item in force on
    the admission (else service) date, with a price for the centre's sector when known."""
    on = document.admission_date or document.service_date
    item = book.item(code, on)
    if item is None or item.kind is not ItemKind.PACKAGE or not item.covered:
        why = "is not a covered package in the tariff in force on"
    elif context.centre is not None and book.package_price(code, context.centre.sector, on) is None:
        why = f"has no price for the {context.centre.sector} sector on"
    else:
        return []
    return [
        Problem(
            "document.package-not-in-tariff",
            f"Package {code} {why} {on}; its lines will be priced one by one.",
            field_path(document, "packageCode"),
            document.line_no,
            Severity.WARNING,
        )
    ]
