"""Business validation of a schema-valid submission: envelope rules, then each document.

Every rule family is a module of ``validators/rules``; each rule is a pure function of a
document and the RuleContext, returning its problems (errors reject the document,
warnings are kept and shown).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from gateway.domain.documents import Document, Submission
from validators.context import RuleContext
from validators.problems import Problem, has_errors
from validators.rules.amounts import check_amounts
from validators.rules.centre import check_contract
from validators.rules.codes import check_codes
from validators.rules.dates import check_dates
from validators.rules.duplicates import check_already_accepted, duplicates_within
from validators.rules.envelope import check_centre, check_document_count
from validators.rules.patient import check_eligibility, check_national_id
from validators.rules.referral import check_referral

DocumentRule = Callable[[Document, RuleContext], list[Problem]]
DOCUMENT_RULES: tuple[DocumentRule, ...] = (
    check_national_id,
    check_eligibility,
    check_contract,
    check_dates,
    check_amounts,
    check_codes,
    check_referral,
    check_already_accepted,
)


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
    context: RuleContext,
    *,
    centre_code: str | None,
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
        problems = [p for rule in DOCUMENT_RULES for p in rule(document, context)]
        problems += repeated.get(index, [])
        report.documents.append(problems)
    return report
