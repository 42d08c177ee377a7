"""Envelope rules: what makes a whole submission unacceptable."""

from __future__ import annotations

from gateway.domain.documents import Submission
from validators.problems import Problem


def check_centre(submission: Submission, authenticated_code: str | None) -> list[Problem]:
    """The header must name the centre whose token sent it (None: offline, unknown sender)."""
    if authenticated_code is None or submission.centre_code == authenticated_code:
        return []
    return [
        Problem(
            "centre.mismatch",
            f"The header names centre {submission.centre_code}, but the token belongs to "
            f"centre {authenticated_code}.",
            f"{submission.path}/header/centreCode",
        )
    ]


def check_document_count(submission: Submission, limit: int) -> list[Problem]:
    if len(submission.documents) <= limit:
        return []
    return [
        Problem(
            "submission.too-many-documents",
            f"{len(submission.documents)} documents in one submission; at most {limit} are "
            "accepted here (send monthly batches to /v1/batches).",
            f"{submission.path}/documents",
        )
    ]
