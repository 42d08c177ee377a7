"""Review, decision and appeal of priced documents: the auditors' and centres' moves.

Each function works in the caller's transaction, locks the document, checks the move
against the lifecycle table (an illegal one is a 409 naming the allowed moves), changes
figures only through the pricing rules (``gateway.domain.review``), and records every
move and action in the status history and the audit chain.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from gateway import metrics
from gateway.audit import chain as audit
from gateway.audit import journal
from gateway.domain import actors
from gateway.domain.documents import Purpose
from gateway.domain.lifecycle import (
    DocumentStatus,
    InvalidTransitionError,
    Transition,
    transition,
)
from gateway.domain.review import (
    PricedLine,
    ReviewAction,
    ReviewError,
    ReviewReason,
    review_line,
)
from gateway.errors import GatewayError, NotFoundError, transition_refused
from gateway.kit import claims
from gateway.kit.db import after_commit
from gateway.payers import service as payers
from gateway.review import repository as store
from gateway.storage import repository
from gateway.storage.models import (
    Appeal,
    Document,
    LineDeduction,
    LineReview,
    utcnow,
)
from validators.problems import Problem

S = DocumentStatus
APPEAL_ACTOR = "system:appeal"  # the move an appeal makes back to review


def conflict(exc: InvalidTransitionError) -> GatewayError:
    return transition_refused(exc)


def _locked(session: Session, document_id: uuid.UUID, centre_scope: int | None) -> Document:
    document = repository.lock_document(session, document_id)
    if document is None or (centre_scope is not None and document.centre_id != centre_scope):
        raise NotFoundError("Document", code="document.not-found")
    return document


def _unless_held(session: Session, document: Document, actor: str, move: str) -> None:
    """Refuse a document another auditor holds (``gateway.kit.claims``); an admin's move
    over a claim is recorded in the audit chain with whose claim it was."""
    overridden = claims.check(session, document, actor=actor, now=utcnow())
    if overridden is not None:
        details = claims.override_details(overridden, move)
        record = audit.Record(actor, claims.OVERRIDE_ACTION, "document", str(document.id), details)
        audit.append(session, [record])


def _move(
    session: Session, document: Document, target: DocumentStatus, actor: str, reason: str
) -> Transition:
    try:
        move = transition(S(document.status), target, actor=actor, reason=reason)
    except InvalidTransitionError as exc:
        raise conflict(exc) from None
    journal.record(
        session, [journal.Move(document.id, document.centre_id, document.external_id, move)]
    )
    document.status = target.value
    document.updated_at = move.at
    return move


def review(
    session: Session,
    *,
    document_id: uuid.UUID,
    line_no: int,
    action: ReviewAction,
    reason: ReviewReason | None,
    quantity: int | None,
    amount: int | None,
    note: str,
    actor: str,
) -> Document:
    """Accept, reduce or deny one line of a document under review; totals follow."""
    document = _locked(session, document_id, None)
    if document.status != S.UNDER_REVIEW:
        raise GatewayError(
            f"Lines are reviewed while a document is UNDER_REVIEW; this one is {document.status}.",
            409,
            code="review.not-under-review",
            params={"status": S(document.status)},
        )
    _unless_held(session, document, actor, "review.line")
    if action is not ReviewAction.ACCEPT and reason is None:
        raise GatewayError(
            "A reduction or a denial needs a reason code.", 422, code="review.reason-needed"
        )
    line = next((row for row in document.lines if row.line_no == line_no), None)
    if line is None:
        raise NotFoundError(f"Line {line_no}", code="review.no-line", params={"line": line_no})
    pricing = store.line_pricing(session, line.id)
    earlier = store.review_deducted(session, line.id)
    priced = PricedLine(
        requested=pricing.requested_amount,
        eligible=pricing.eligible_amount + earlier,
        allowed_quantity=pricing.allowed_quantity,
        copay_rate=pricing.copay_rate,
        unit_based=pricing.basis in ("rvu", "drug"),
    )
    try:
        figures = review_line(priced, action, quantity=quantity, amount=amount)
    except ReviewError as exc:
        raise GatewayError(str(exc), 422, code=exc.code, params=exc.params) from None
    store.drop_review_deductions(session, line.id)
    if figures.review_deduction and reason is not None:
        store.add(
            session,
            LineDeduction(
                line_id=line.id,
                document_id=document.id,
                reason=reason.value,
                amount=figures.review_deduction,
                detail=f"{action} by {_role_of(session, actor)}" + (f": {note}" if note else ""),
            ),
        )
    pricing.eligible_amount = figures.eligible
    pricing.deduction_amount = pricing.requested_amount - figures.eligible
    pricing.copayment_amount = figures.copayment
    pricing.insurer_amount = figures.insurer_share
    store.add(
        session,
        LineReview(
            document_id=document.id,
            line_id=line.id,
            action=action.value,
            reason=reason.value if reason else None,
            quantity=quantity,
            eligible=figures.eligible,
            note=note,
            actor=actor,
        ),
    )
    session.flush()
    _retotal(session, document)
    audit.append(
        session,
        [
            audit.Record(
                actor=actor,
                action="review.line",
                subject_type="document",
                subject_id=str(document.id),
                details={
                    "line_no": line_no,
                    "action": action.value,
                    "reason": reason.value if reason else None,
                    "quantity": quantity,
                    "amount": amount,
                    "eligible_before": priced.eligible,
                    "eligible_after": figures.eligible,
                    "note": note,
                },
            )
        ],
    )
    return document


def _retotal(session: Session, document: Document) -> None:
    """Document totals as the sums of its lines, never typed."""
    eligible, deducted, copayment, insurer = store.line_sums(session, document.id)
    document.eligible_amount = eligible
    document.deduction_amount = deducted
    document.copayment_amount = copayment
    document.insurer_amount = insurer
    document.updated_at = utcnow()


def decide(
    session: Session, *, document_id: uuid.UUID, approve: bool, reason: str, actor: str
) -> Document:
    """An auditor's decision on a document under review."""
    document = _locked(session, document_id, None)
    if Purpose(document.purpose).is_estimate:
        # PRICED -> APPROVED is pricing's own move for a bill; an estimate stays PRICED.
        message = (
            f"This document is an estimate ({document.purpose}), not a bill: it is never "
            "approved, denied or paid. The centre sends the bill after the care."
        )
        raise GatewayError(
            message,
            409,
            [Problem("document.estimate", message)],
            params={"purpose": Purpose(document.purpose)},
        )
    target = S.APPROVED if approve else S.DENIED
    _unless_held(session, document, actor, f"decision.{target.value.lower()}")
    first = document.decided_at is None
    move = _move(session, document, target, actor, reason or target.value.lower())
    document.decided_at = move.at
    payers.after_decision(
        session, document_id=document.id, approved=approve, actor=actor, reason=move.reason
    )
    outcome = target.value.lower()
    after_commit(session, metrics.AUDITOR_DECISIONS.labels(outcome).inc)
    if first and document.priced_at is not None:
        waited = (move.at - _aware(document.priced_at)).total_seconds()
        after_commit(session, lambda: metrics.REVIEW_WAIT.observe(max(waited, 0.0)))
    return document


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def appeal(
    session: Session,
    *,
    document_id: uuid.UUID,
    centre_id: int,
    reason: str,
    lines: list[int],
    actor: str,
    window_days: int,
    now: datetime | None = None,
) -> Document:
    """A centre contests the decision within the window; the document returns to review."""
    document = _locked(session, document_id, centre_id)
    if not reason.strip():
        raise GatewayError("An appeal needs a reason.", 422, code="appeal.reason-needed")
    known = {row.line_no for row in document.lines}
    unknown = sorted(set(lines) - known)
    if unknown:
        raise GatewayError(
            f"The document has no line(s) {unknown}.",
            422,
            code="document.no-such-lines",
            params={"lines": unknown},
        )
    try:
        transition(S(document.status), S.APPEALED, actor=actor, reason=reason)
    except InvalidTransitionError as exc:
        raise conflict(exc) from None
    decided = document.decided_at or document.priced_at
    moment = now or datetime.now(UTC)
    if decided is not None:
        decided = decided if decided.tzinfo else decided.replace(tzinfo=UTC)
        if moment > decided + timedelta(days=window_days):
            raise GatewayError(
                f"The appeal window of {window_days} days after the decision of "
                f"{decided:%Y-%m-%d} has passed.",
                422,
                code="appeal.window-passed",
                params={"days": window_days, "decided": decided.date()},
            )
    store.add(
        session,
        Appeal(document_id=document.id, reason=reason, lines=sorted(set(lines)), actor=actor),
    )
    _move(session, document, S.APPEALED, actor, reason)
    _move(session, document, S.UNDER_REVIEW, APPEAL_ACTOR, "appeal returns it to review")
    after_commit(session, metrics.APPEALS.inc)
    return document


def _role_of(session: Session, actor: str) -> str:
    """The reviewer as the centre may be told: the detail of a deduction reaches the centre
    in its remittance, statements and FHIR answers, so it names the role, not the user."""
    roles = repository.staff_roles(session, actors.user_names([actor]))
    return actors.as_seen_by_centre(actor, roles)
