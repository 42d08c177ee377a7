"""Amount rules: a line's amount is quantity x unit price; the total is the sum of lines."""

from __future__ import annotations

from gateway.domain.documents import Document
from validators.problems import Problem


def check_amounts(document: Document) -> list[Problem]:
    problems: list[Problem] = []
    lines_path = f"{document.path}/lines"
    for number, line in enumerate(document.lines, start=1):
        expected = line.quantity * line.unit_price
        if line.amount != expected:
            problems.append(
                Problem(
                    "line.amount-mismatch",
                    f"Line {number}: amount {line.amount:,} is not quantity {line.quantity} x "
                    f"unit price {line.unit_price:,} = {expected:,}.",
                    _line_path(lines_path, number, document) + "/amount",
                    document.line_no,
                )
            )
    total = sum(line.amount for line in document.lines)
    if document.total_amount != total:
        problems.append(
            Problem(
                "document.total-mismatch",
                f"totalAmount {document.total_amount:,} is not the sum of the lines, {total:,}.",
                f"{document.path}/totalAmount",
                document.line_no,
            )
        )
    return problems


def _line_path(lines_path: str, number: int, document: Document) -> str:
    # XML paths are XPaths (line[n], 1-based); JSON paths are pointers (0-based).
    if document.path.startswith("/submission"):
        return f"{lines_path}/line[{number}]" if len(document.lines) > 1 else f"{lines_path}/line"
    return f"{lines_path}/{number - 1}"
