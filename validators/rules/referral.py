"""Referral rules: where the programme's rollout table says a visit's level needs a
family-physician referral, the document's referralCode must name one that exists, is for
this patient, for this level and specialty, valid on the service date, with a visit left.

A visit marked ``selfReferred`` is not refused for want of a referral (pricing charges
the patient under the self-referral policy), and an emergency never needs one.
"""

from __future__ import annotations

from gateway.domain.documents import Document, DocumentKind
from gateway.domain.referrals import CareLevel, ReferralInfo, referral_code_is_valid
from gateway.domain.referrals import required_level as needed_level
from validators.context import RuleContext
from validators.problems import Problem, Severity
from validators.rules.paths import field_path
from validators.tariffs import tariff_index


def _needing(document: Document, context: RuleContext) -> list[str]:
    assert context.tariff is not None
    index = tariff_index(context.tariff)
    return sorted(
        {
            line.code
            for line in document.lines
            if (item := index.on(line.service_date)[line.code]) is not None
            and item.referral_required
        }
    )


def required_level(document: Document, context: RuleContext) -> CareLevel | None:
    """The level whose referral this document needs, or None when it needs none."""
    centre, rollout = context.centre, context.rollout
    if centre is None or context.tariff is None or rollout is None:
        return None
    return needed_level(
        rollout,
        province=centre.province,
        centre_kind=centre.kind,
        on=document.service_date,
        grade=document.physician.grade,
        is_visit=document.kind is DocumentKind.OUTPATIENT_VISIT,
        needs_referral=bool(_needing(document, context)),
        emergency=document.emergency,
    )


def check_referral(document: Document, context: RuleContext) -> list[Problem]:
    level = required_level(document, context)
    if level is None:
        return []
    code = document.referral_code
    if code is None:
        if document.self_referred:
            return []
        assert context.centre is not None
        return [
            Problem(
                "referral.missing",
                f"A level-{int(level)} visit needs a family-physician referral in "
                f"{context.centre.province} from the programme's start; referralCode is "
                "missing (or mark the visit selfReferred).",
                field_path(document, "referralCode"),
                document.line_no,
            )
        ]
    if context.referrals is None:
        return []
    problems = referral_problems(document, level, context.referrals.get(code))
    if document.self_referred:
        # Not refused: priced under the self-referral policy, the problem kept as a warning.
        return [Problem(p.code, p.message, p.path, p.line, Severity.WARNING) for p in problems]
    return problems


def referral_problems(
    document: Document, level: CareLevel, found: ReferralInfo | None
) -> list[Problem]:
    """What is wrong with using ``found`` (the referral the code names) for this visit."""
    code = document.referral_code or ""
    here = field_path(document, "referralCode")
    if found is None:
        why = (
            "no referral was issued with this code"
            if referral_code_is_valid(code)
            else "its check digit does not match (mistyped?)"
        )
        return [_problem("referral.unknown", f"Referral {code}: {why}.", here, document)]
    if found.patient_national_id != document.patient.national_id:
        return [
            _problem(
                "referral.other-patient",
                f"Referral {code} was issued for another patient.",
                field_path(document, "patient/nationalId"),
                document,
            )
        ]
    if found.level != level:
        return [
            _problem(
                "referral.wrong-specialty",
                f"Referral {code} is to level {int(found.level)}; this visit is level "
                f"{int(level)}.",
                field_path(document, "physician/grade"),
                document,
            )
        ]
    if found.specialty and found.specialty != document.physician.specialty:
        return [
            _problem(
                "referral.wrong-specialty",
                f"Referral {code} is to {found.specialty}; this visit is with "
                f"{document.physician.specialty or 'no stated specialty'}.",
                field_path(document, "physician/specialty"),
                document,
            )
        ]
    on = document.service_date
    if not found.issued_on <= on <= found.valid_until:
        return [
            _problem(
                "referral.expired",
                f"Referral {code} is valid from {found.issued_on} to {found.valid_until}; "
                f"the visit is on {on}.",
                field_path(document, "serviceDate"),
                document,
            )
        ]
    # A correction may take over the visit of the document it replaces: whether a visit is
    # left is then decided when it is taken (referrals.take_visit_for).
    if found.visits_left == 0 and document.replaces is None:
        return [
            _problem(
                "referral.used-up",
                f"Referral {code} covered {found.visits} visit(s), all used.",
                here,
                document,
            )
        ]
    return []


def _problem(code: str, message: str, path: str, document: Document) -> Problem:
    return Problem(code, message, path, document.line_no)
