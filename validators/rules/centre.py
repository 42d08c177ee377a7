"""Centre rules: a known centre, under contract on the date of service."""

from __future__ import annotations

from gateway.domain.documents import Document
from validators.context import RuleContext
from validators.problems import Problem
from validators.rules.paths import field_path


def check_contract(document: Document, context: RuleContext) -> list[Problem]:
    centre = context.centre
    if centre is None or centre.under_contract(document.service_date):
        return []
    period = f"{centre.contract_from or '...'} to {centre.contract_to or '...'}"
    return [
        Problem(
            "centre.contract-inactive",
            f"Centre {centre.code} has no contract in force on {document.service_date} "
            f"(contract: {period}).",
            field_path(
                document, "serviceDate" if document.admission_date is None else "admissionDate"
            ),
            document.line_no,
        )
    ]
