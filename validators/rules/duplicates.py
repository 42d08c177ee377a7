"""Duplicate rules: a centre's document number is accepted once; the same patient, code
and date twice is suspicious (a warning). A national ID that fails its check digit names
no one (the FHIR door's filler for a Claim without one is such an ID), so it is never
taken for the same patient."""

from __future__ import annotations

from gateway.domain.documents import Document
from validators.context import RuleContext
from validators.problems import Problem, Severity
from validators.rules.paths import field_path, line_path
from validators.rules.patient import national_id_is_valid


def duplicates_within(documents: list[Document]) -> dict[int, list[Problem]]:
    """Problems per document index for numbers and services already met earlier in the list."""
    if len(documents) < 2:
        return {}  # only another document can repeat a number or a service
    first_number: dict[str, Document] = {}
    first_service: dict[tuple[str, str, object], Document] = {}
    found: dict[int, list[Problem]] = {}
    for index, document in enumerate(documents):
        earlier = first_number.setdefault(document.duplicate_key, document)
        if earlier is not document:
            found.setdefault(index, []).append(
                Problem(
                    "document.duplicate-in-submission",
                    f"Document number {document.number} already appears at {earlier.path}.",
                    field_path(document, "documentNumber"),
                    document.line_no,
                )
            )
            continue
        if not national_id_is_valid(document.patient.national_id):
            continue
        for number, line in enumerate(document.lines, start=1):
            key = (document.patient.national_id, line.code, line.service_date)
            other = first_service.setdefault(key, document)
            if other is not document:
                found.setdefault(index, []).append(
                    _possible_duplicate(
                        document, number, f"document {other.number} of this submission"
                    )
                )
    return found


def check_already_accepted(document: Document, context: RuleContext) -> list[Problem]:
    problems: list[Problem] = []
    if document.duplicate_key in context.accepted_numbers:
        problems.append(
            Problem(
                "document.duplicate",
                f"Document number {document.number} was already accepted from this centre.",
                field_path(document, "documentNumber"),
                document.line_no,
            )
        )
    stored = context.stored_services
    if stored and national_id_is_valid(document.patient.national_id):
        national_id = document.patient.national_id
        for number, line in enumerate(document.lines, start=1):
            if (national_id, line.code, line.service_date) in stored:
                problems.append(_possible_duplicate(document, number, "an earlier document"))
    return problems


def _possible_duplicate(document: Document, number: int, where: str) -> Problem:
    line = document.lines[number - 1]
    return Problem(
        "line.possible-duplicate",
        f"Line {number}: {line.code} on {line.service_date} for this patient is also billed "
        f"in {where}.",
        line_path(document, number, "code"),
        document.line_no,
        Severity.WARNING,
    )
