"""The referral programme's logic: issue a referral, use and give back its visits, record
the specialist's feedback, and decide who may read a referral. Never commits."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy.orm import Session

from gateway import metrics
from gateway.audit import chain as audit
from gateway.domain.centres import Role
from gateway.domain.documents import Document
from gateway.domain.referrals import (
    CareLevel,
    ReferralInfo,
    ReferralStatus,
    Rollout,
    new_referral_code,
)
from gateway.errors import ForbiddenError, GatewayError, NotFoundError
from gateway.kit.broker import DELIVER_WEBHOOK
from gateway.kit.db import after_commit
from gateway.referrals import repository as store
from gateway.storage.models import Centre, OutboxMessage, Referral, utcnow
from validators.context import RuleContext
from validators.problems import Problem, Severity, has_errors
from validators.rules.referral import required_level

Use = store.Use  # a document holding a visit of a referral
USED_EVENT = "referral.used"
FEEDBACK_EVENT = "referral.feedback"
SOURCES = ("api", "document", "fhir")


@dataclass(frozen=True, slots=True)
class Issue:
    """What a level-1 centre asks for when it refers a patient."""

    physician_number: str
    patient_national_id: str
    level: CareLevel
    specialty: str | None
    reason_icd10: str
    reason_text: str | None
    issued_on: date
    visits: int = 1


@dataclass(frozen=True, slots=True)
class Feedback:
    diagnosis_icd10: str
    findings: str
    plan: str
    back_to_level1: bool


def rollout(*, session: Session) -> Rollout:
    """The programme's rollout table as imported."""
    return store.rollout(session)


def lookup(*, session: Session, codes: set[str]) -> dict[str, ReferralInfo]:
    """The referrals the codes name (the others are simply absent)."""
    return store.infos_by_code(session, codes)


def issue(
    *,
    session: Session,
    centre: Centre,
    request: Issue,
    validity_days: int,
    source: str,
    actor: str,
    path: str = "",
) -> Referral:
    """A new referral of a patient on the physician's list, by the physician's centre;
    GatewayError(422) says what does not hold."""
    physician = store.family_physician(session, request.physician_number)
    if physician is None or physician.centre_id != centre.id:
        raise _refused(
            "referral.not-family-physician",
            f"{request.physician_number} is not a family physician of centre {centre.code}.",
            f"{path}physician" if path else "physician",
        )
    if not store.on_list(
        session, request.patient_national_id, request.physician_number, request.issued_on
    ):
        raise _refused(
            "referral.not-on-list",
            f"The patient is not on {request.physician_number}'s list on {request.issued_on}.",
            f"{path}patient" if path else "patient",
        )
    row = Referral(
        code=_fresh_code(session),
        issuing_centre_id=centre.id,
        physician_number=request.physician_number,
        patient_national_id=request.patient_national_id,
        level=int(request.level),
        specialty=request.specialty,
        reason_icd10=request.reason_icd10,
        reason_text=request.reason_text,
        issued_on=request.issued_on,
        valid_until=request.issued_on + timedelta(days=validity_days - 1),
        visits=request.visits,
        visits_used=0,
        source=source,
        created_at=utcnow(),
    )
    store.add(session, row)
    _audit(session, actor, "referral.issued", row, {"source": source, "level": row.level})
    after_commit(session, metrics.REFERRALS_ISSUED.labels(source, str(row.level)).inc)
    return row


def issue_from_document(
    *,
    session: Session,
    centre: Centre,
    document: Document,
    problems: list[Problem],
    validity_days: int,
    actor: str,
) -> list[Referral]:
    """The referrals a level-1 visit document issues (its ``referralsIssued``), when it has
    no error; a physician or patient the programme does not know adds its problem (and
    the document is rejected, nothing issued)."""
    if not document.referrals_issued or has_errors(problems):
        return []
    path = f"{document.path}/referralsIssued"
    physician = store.family_physician(session, document.physician.medical_council_number)
    if physician is None or physician.centre_id != centre.id:
        problems.append(
            Problem(
                "referral.not-family-physician",
                f"{document.physician.medical_council_number} is not a family physician of "
                f"centre {centre.code}; only they issue referrals.",
                f"{document.path}/physician/medicalCouncilNumber",
                document.line_no,
            )
        )
        return []
    patient, on = document.patient.national_id, document.service_date
    if not store.on_list(session, patient, physician.medical_council_number, on):
        problems.append(
            Problem(
                "referral.not-on-list",
                f"The patient is not on {physician.medical_council_number}'s list on {on}.",
                path,
                document.line_no,
            )
        )
        return []
    return [
        issue(
            session=session,
            centre=centre,
            request=Issue(
                physician_number=physician.medical_council_number,
                patient_national_id=patient,
                level=CareLevel(wanted.level),
                specialty=wanted.specialty,
                reason_icd10=wanted.reason,
                reason_text=wanted.reason_text,
                issued_on=on,
                visits=wanted.visits,
            ),
            validity_days=validity_days,
            source="document",
            actor=actor,
        )
        for wanted in document.referrals_issued
    ]


def link_to_document(
    *, session: Session, referrals: Sequence[Referral], document_id: uuid.UUID
) -> None:
    """Record which stored document issued the referrals."""
    if referrals:
        store.set_source_document(session, [r.id for r in referrals], document_id)


def issued_by_documents(
    *, session: Session, ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[str]]:
    """Per document, the codes of the referrals it issued."""
    return store.issued_by_documents(session, ids)


def _fresh_code(session: Session) -> str:
    for _ in range(5):
        code = new_referral_code()
        if not store.code_taken(session, code):
            return code
    raise GatewayError(
        "No free referral code was found; try again.", 503, code="referral.no-free-code"
    )


def _refused(code: str, message: str, path: str) -> GatewayError:
    return GatewayError(message, 422, [Problem(code, message, path)])


def take_visit_for(
    *,
    session: Session,
    document: Document,
    problems: list[Problem],
    context: RuleContext,
    replaced: uuid.UUID | None = None,
) -> int | None:
    """Use a visit of the referral of a document that passed the rules and needs one; the
    referral's id. A document that loses the race for the last visit gets referral.used-up
    in ``problems`` (and is rejected); None then, and when it needs no visit. A correction
    (``replaced``: the document it replaces) takes over its original's visit when none is
    left otherwise: the original is voided in the same transaction."""
    if has_errors(problems) or required_level(document, context) is None:
        _feedback_ignored(document, problems)
        return None
    code = document.referral_code
    if code is None or any(p.code.startswith("referral.") for p in problems):
        metrics.REFERRAL_CHECKS.labels("self-referred").inc()
        _feedback_ignored(document, problems)
        return None
    taken = store.take_visit(session, code)
    if taken is None and replaced is not None and store.holds_visit_of(session, replaced, code):
        store.release(session, replaced, utcnow())
        taken = store.take_visit(session, code)
    if taken is None:
        message = f"Referral {code} has no visit left (another document used the last one)."
        problems.append(
            Problem("referral.used-up", message, f"{document.path}/referralCode", document.line_no)
        )
        metrics.REFERRAL_CHECKS.labels("refused").inc()
        return None
    metrics.REFERRAL_CHECKS.labels("referred").inc()
    return taken


def _feedback_ignored(document: Document, problems: list[Problem]) -> None:
    if document.referral_feedback is None or has_errors(problems):
        return
    message = (
        "referralFeedback is kept only with a visit that uses a referral (referralCode where "
        "the programme applies); it was ignored."
    )
    path = f"{document.path}/referralFeedback"
    problems.append(
        Problem("referral.feedback-ignored", message, path, document.line_no, Severity.WARNING)
    )


def record_uses(*, session: Session, uses: Sequence[store.Use]) -> None:
    """The documents now stored hold their visits; the issuing centres are told."""
    if not uses:
        return
    at = utcnow()
    store.add_uses(session, uses, at)
    for use in uses:
        referral = session.get(Referral, use.referral_id)
        assert referral is not None
        metrics.REFERRALS_USED.labels(str(referral.level)).inc()
        _notify(
            session,
            referral,
            USED_EVENT,
            # Not the document's id: that is the using centre's, not the issuer's.
            {
                "service_date": use.service_date.isoformat(),
                "visits_left": referral.visits - referral.visits_used,
            },
        )
        if use.feedback is not None and referral.feedback_at is None:
            given = use.feedback
            codes = store.centre_codes(session, {use.centre_id})
            _store_feedback(
                session,
                referral,
                use.centre_id,
                Feedback(given.diagnosis, given.findings, given.plan, given.back_to_level1),
                f"centre:{codes[use.centre_id]}",
            )


def release_for_document(session: Session, document_id: uuid.UUID) -> bool:
    """Give back the visit a rejected or voided document used (once, however often it is
    called); whether there was one to give back."""
    referral = store.release(session, document_id, utcnow())
    if referral is None:
        return False
    _audit(session, "gateway", "referral.visit-released", referral, {"document": str(document_id)})
    return True


def readable(*, session: Session, code: str, role: Role, centre_id: int | None) -> Referral:
    """The referral, for the issuing centre or a centre that used it; 404 for any other
    centre (it must not learn the code exists), 403 for staff roles."""
    if role is not Role.CENTRE or centre_id is None:
        raise ForbiddenError(
            "Referrals are read only by the centre that issued them and the centres that used them."
        )
    referral = store.by_code(session, code)
    if referral is None:
        raise NotFoundError("Referral", code="referral.not-found")
    if referral.issuing_centre_id != centre_id and centre_id not in store.user_centres(
        session, referral.id
    ):
        raise NotFoundError("Referral", code="referral.not-found")
    return referral


def read(*, session: Session, code: str, centre: Centre, actor: str) -> Referral:
    """A referral and its feedback, the read recorded: the programme's audited exception to
    a centre seeing only its own documents."""
    referral = readable(session=session, code=code, role=Role.CENTRE, centre_id=centre.id)
    _audit(session, actor, "referral.read", referral, {})
    return referral


def listed(
    *,
    session: Session,
    centre: Centre,
    status: ReferralStatus | None,
    today: date,
    limit: int,
    offset: int,
    actor: str,
) -> tuple[Sequence[Referral], int]:
    rows, total = store.listed(
        session, centre_id=centre.id, status=status, today=today, limit=limit, offset=offset
    )
    if rows:
        audit.append(
            session,
            [
                audit.Record(actor, "referral.read", "referral", row.code, {"listed": True})
                for row in rows
            ],
        )
    return rows, total


def give_feedback(
    *, session: Session, code: str, centre: Centre, feedback: Feedback, actor: str
) -> Referral:
    """The specialist's feedback to the family physician, by a centre that used the
    referral (once; 409 if it was given already)."""
    referral = store.by_code(session, code)
    if referral is None or centre.id not in store.user_centres(session, referral.id):
        if referral is not None and referral.issuing_centre_id == centre.id:
            raise ForbiddenError("Feedback is given by the centre that used the referral.")
        raise NotFoundError("Referral", code="referral.not-found")
    if referral.feedback_at is not None:
        raise GatewayError(
            "Feedback was already given for this referral.", 409, code="referral.feedback-given"
        )
    _store_feedback(session, referral, centre.id, feedback, actor)
    return referral


def _store_feedback(
    session: Session, referral: Referral, centre_id: int, feedback: Feedback, actor: str
) -> None:
    referral.feedback_centre_id = centre_id
    referral.feedback_diagnosis = feedback.diagnosis_icd10
    referral.feedback_findings = feedback.findings
    referral.feedback_plan = feedback.plan
    referral.feedback_back_to_level1 = feedback.back_to_level1
    referral.feedback_at = utcnow()
    session.flush()  # the ingest's session on PostgreSQL flushes nothing by itself
    _audit(session, actor, "referral.feedback", referral, {"diagnosis": feedback.diagnosis_icd10})
    metrics.REFERRAL_FEEDBACK.inc()
    _notify(
        session,
        referral,
        FEEDBACK_EVENT,
        {"diagnosis": feedback.diagnosis_icd10, "back_to_level1": feedback.back_to_level1},
    )


def _audit(
    session: Session, actor: str, action: str, referral: Referral, details: dict[str, Any]
) -> None:
    audit.append(session, [audit.Record(actor, action, "referral", referral.code, details)])


def _notify(session: Session, referral: Referral, event_type: str, data: dict[str, Any]) -> None:
    """An event to each live webhook of the issuing centre, through the outbox (the relay
    sends it after the commit)."""
    hooks = store.live_webhooks(session, referral.issuing_centre_id)
    if not hooks:
        return
    now = utcnow()
    event = {
        "type": event_type,
        "created_at": now.isoformat(),
        "data": {"code": referral.code, "url": f"/v1/referrals/{referral.code}", **data},
    }
    store.add_outbox(
        session,
        [
            OutboxMessage(
                task=DELIVER_WEBHOOK,
                payload={"webhook_id": hook, "event": {"id": str(uuid.uuid4()), **event}},
                created_at=now,
                attempts=0,
            )
            for hook in hooks
        ],
    )


def status_of(referral: Referral, today: date) -> ReferralStatus:
    return store.info(referral).status(today)


def centre_codes(*, session: Session, ids: set[int]) -> dict[int, str]:
    return store.centre_codes(session, ids)


def holding_visits(*, session: Session, ids: Sequence[uuid.UUID]) -> set[uuid.UUID]:
    """Those of the documents that hold a visit of a referral."""
    return store.live_uses(session, ids)
