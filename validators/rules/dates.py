"""Date rules: nothing in the future, stays in order, lines inside the document's period,
and documents sent within the allowed window after care."""

from __future__ import annotations

from datetime import timedelta

from gateway.domain.documents import Document, period_of_care
from validators.context import RuleContext
from validators.problems import Problem
from validators.rules.paths import field_path, line_path


def check_dates(document: Document, context: RuleContext) -> list[Problem]:
    problems: list[Problem] = []

    def add(code: str, message: str, path: str) -> None:
        problems.append(Problem(code, message, path, document.line_no))

    named = [
        ("serviceDate", document.service_date if document.admission_date is None else None),
        ("admissionDate", document.admission_date),
        ("dischargeDate", document.discharge_date),
    ]
    for name, value in named:
        if value is not None and value > context.today:
            add("date.in-future", f"{name} {value} is in the future.", field_path(document, name))
    if (
        document.admission_date
        and document.discharge_date
        and document.discharge_date < document.admission_date
    ):
        add(
            "date.discharge-before-admission",
            f"Discharge {document.discharge_date} is before admission {document.admission_date}.",
            field_path(document, "dischargeDate"),
        )
    start, end = period_of_care(
        document.service_date, document.admission_date, document.discharge_date
    )
    for number, line in enumerate(document.lines, start=1):
        if not start <= line.service_date <= end:
            add(
                "date.line-outside-period",
                f"Line {number} is dated {line.service_date}, outside the document's period "
                f"{start} to {end}.",
                line_path(document, number, "serviceDate"),
            )
    deadline = end + timedelta(days=context.submission_window_days)
    if context.today > deadline:
        add(
            "date.submission-late",
            f"Sent on {context.today}, more than {context.submission_window_days} days after "
            f"{end}.",
            field_path(document, "dischargeDate" if document.discharge_date else "serviceDate"),
        )
    return problems
