"""Business validation of a schema-valid submission: envelope rules, then each document."""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass, field

from gateway.domain.documents import Document, Submission
from validators.problems import Problem, has_errors
from validators.rules.amounts import check_amounts
from validators.rules.duplicates import check_already_accepted, duplicates_within
from validators.rules.envelope import check_centre, check_document_count
from validators.rules.patient import check_national_id

DocumentRule = Callable[[Document], list[Problem]]
DOCUMENT_RULES: tuple[DocumentRule, ...] = (check_national_id, check_amounts)


@dataclass(slots=True)
class Report:
    """Envelope problems (any error refuses the whole submission) and each document's."""

    envelope: list[Problem] = field(default_factory=list)
    documents: list[list[Problem]] = field(default_factory=list)

    @property
    def refused(self) -> bool:
        return has_errors(self.envelope)


def validate_submission(
    submission: Submission,
    *,
    centre_code: str | None,
    accepted_numbers: Collection[str] = (),
    max_documents: int = 1_000_000,
) -> Report:
    """Every problem of every document, not only the first."""
    report = Report(
        envelope=check_centre(submission, centre_code)
        + check_document_count(submission, max_documents)
    )
    if report.refused:
        return report
    repeated = duplicates_within(submission.documents)
    for index, document in enumerate(submission.documents):
        problems = [p for rule in DOCUMENT_RULES for p in rule(document)]
        problems += check_already_accepted(document, accepted_numbers)
        if index in repeated:
            problems.append(repeated[index])
        report.documents.append(problems)
    return report
