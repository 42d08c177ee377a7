"""Patient rules."""

from __future__ import annotations

from gateway.domain.documents import Document
from validators.problems import Problem


def national_id_is_valid(code: str) -> bool:
    """The Iranian national-code check: weights 10..2 over nine digits, modulo 11."""
    if len(code) != 10 or not code.isdigit() or len(set(code)) == 1:
        return False
    total = sum(int(code[i]) * (10 - i) for i in range(9)) % 11
    check = int(code[9])
    return check == total if total < 2 else check == 11 - total


def check_national_id(document: Document) -> list[Problem]:
    if national_id_is_valid(document.patient.national_id):
        return []
    return [
        Problem(
            "patient.national-id-checksum",
            f"National ID {document.patient.national_id} fails its check digit.",
            _child_path(document, "patient/nationalId"),
            document.line_no,
        )
    ]


def _child_path(document: Document, relative: str) -> str:
    return f"{document.path}/{relative}"
