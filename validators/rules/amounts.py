"""Amount rules: a line's amount is quantity x unit price; the total is the sum of lines."""

from __future__ import annotations

from gateway.domain.documents import Document
from validators.context import RuleContext
from validators.problems import Problem
from validators.rules.paths import field_path, line_path


def check_amounts(document: Document, _: RuleContext) -> list[Problem]:
    problems: list[Problem] = []
    total = 0
    for number, line in enumerate(document.lines, start=1):
        total += line.amount
        expected = line.quantity * line.unit_price
        if line.amount != expected:
            problems.append(
                Problem(
                    "line.amount-mismatch",
                    f"Line {number}: amount {line.amount:,} is not quantity {line.quantity} x "
                    f"unit price {line.unit_price:,} = {expected:,}.",
                    line_path(document, number, "amount"),
                    document.line_no,
                )
            )
    if document.total_amount != total:
        problems.append(
            Problem(
                "document.total-mismatch",
                f"totalAmount {document.total_amount:,} is not the sum of the lines, {total:,}.",
                field_path(document, "totalAmount"),
                document.line_no,
            )
        )
    return problems
