"""Duplicate rules: a centre's document number is accepted once."""

from __future__ import annotations

from collections.abc import Collection

from gateway.domain.documents import Document
from validators.problems import Problem


def duplicates_within(documents: list[Document]) -> dict[int, Problem]:
    """Problems for every document whose number already appeared earlier in the same list."""
    first_seen: dict[str, Document] = {}
    found: dict[int, Problem] = {}
    for index, document in enumerate(documents):
        earlier = first_seen.setdefault(document.number, document)
        if earlier is not document:
            found[index] = Problem(
                "document.duplicate-in-submission",
                f"Document number {document.number} already appears at {earlier.path}.",
                f"{document.path}/documentNumber",
                document.line_no,
            )
    return found


def check_already_accepted(document: Document, accepted_numbers: Collection[str]) -> list[Problem]:
    if document.number not in accepted_numbers:
        return []
    return [
        Problem(
            "document.duplicate",
            f"Document number {document.number} was already accepted from this centre.",
            f"{document.path}/documentNumber",
            document.line_no,
        )
    ]
