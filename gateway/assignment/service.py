"""Claims on documents under review: an auditor takes documents (some, or the next N of
a filter), releases them, an admin gives them to someone else. Every change is audited;
a claim lapses by itself after the configured minutes."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from gateway.assignment import repository as store
from gateway.audit import chain as audit
from gateway.domain.lifecycle import DocumentStatus
from gateway.errors import DocumentHeldError, GatewayError
from gateway.review import service as reviews
from gateway.storage.models import Document, StaffUser

CLAIMABLE = {DocumentStatus.UNDER_REVIEW.value}
MOST_AT_ONCE = 200


@dataclass(slots=True)
class ClaimResult:
    """What a claim did: the documents now the caller's, those another holds, those not
    under review (or not found)."""

    taken: list[uuid.UUID] = field(default_factory=list)
    held_by_others: dict[uuid.UUID, str] = field(default_factory=dict)  # id -> holder's name
    not_claimable: list[uuid.UUID] = field(default_factory=list)


def claim(
    session: Session,
    *,
    user: StaffUser,
    actor: str,
    document_ids: Sequence[uuid.UUID],
    now: datetime,
    minutes: int,
) -> ClaimResult:
    """Claim these documents for ``user`` for ``minutes`` (renewing the user's own claims)."""
    if len(document_ids) > MOST_AT_ONCE:
        raise GatewayError(
            f"At most {MOST_AT_ONCE} documents are claimed at once.",
            422,
            code="assignment.too-many",
            params={"most": MOST_AT_ONCE},
        )
    result = ClaimResult()
    statuses = store.statuses_of(session, document_ids)
    wanted = [i for i in dict.fromkeys(document_ids) if statuses.get(i) in CLAIMABLE]
    result.not_claimable = [i for i in document_ids if statuses.get(i) not in CLAIMABLE]
    until = now + timedelta(minutes=minutes)
    store.take(session, wanted, holder_id=user.id, now=now, until=until)
    for document_id, (holder_id, name) in store.holders(session, wanted, now).items():
        if holder_id == user.id:
            result.taken.append(document_id)
        else:
            result.held_by_others[document_id] = name
    _audit(session, actor, "review.claim", result.taken, {"until": until.isoformat()})
    return result


def claim_next(
    session: Session,
    *,
    user: StaffUser,
    actor: str,
    criteria: store.QueueFilter,
    sort: store.Sort,
    descending: bool,
    count: int,
    now: datetime,
    minutes: int,
) -> ClaimResult:
    """Claim the first ``count`` unclaimed documents under review of a filter, in its order."""
    count = max(1, min(count, MOST_AT_ONCE))
    free = replace(
        criteria, status=DocumentStatus.UNDER_REVIEW.value, unclaimed=True, holder_id=None
    )
    ids = store.matching_ids(session, free, sort=sort, descending=descending, limit=count, now=now)
    return claim(session, user=user, actor=actor, document_ids=ids, now=now, minutes=minutes)


def release(
    session: Session,
    *,
    user: StaffUser,
    actor: str,
    document_ids: Sequence[uuid.UUID],
    now: datetime,
) -> list[uuid.UUID]:
    """Give up the user's own live claims on these documents; the ones given up."""
    held = store.holders(session, document_ids, now)
    mine = [i for i in dict.fromkeys(document_ids) if held.get(i, (None,))[0] == user.id]
    store.drop(session, mine, holder_id=user.id)
    _audit(session, actor, "review.release", mine, {})
    return mine


def reassign(
    session: Session,
    *,
    actor: str,
    document_id: uuid.UUID,
    to_user_id: int,
    now: datetime,
    minutes: int,
) -> StaffUser:
    """An admin gives a document under review to an auditor, over anyone's claim."""
    target = store.staff_user(session, to_user_id)
    if target is None or target.disabled_at is not None or target.role not in ("auditor", "admin"):
        raise GatewayError(
            "Documents are given only to active auditors.", 422, code="assignment.not-auditor"
        )
    if store.statuses_of(session, [document_id]).get(document_id) not in CLAIMABLE:
        raise GatewayError(
            "Only a document under review is given to an auditor.",
            409,
            code="assignment.not-under-review",
        )
    before = store.holders(session, [document_id], now).get(document_id)
    until = now + timedelta(minutes=minutes)
    store.take(session, [document_id], holder_id=target.id, now=now, until=until, over_others=True)
    details: dict[str, object] = {
        "from": before[1] if before else None,
        "to": target.display_name,
        "to_user": target.username,
        "until": until.isoformat(),
    }
    _audit(session, actor, "review.reassign", [document_id], details)
    return target


def _audit(
    session: Session, actor: str, action: str, ids: Sequence[uuid.UUID], details: dict[str, object]
) -> None:
    if ids:
        audit.append(
            session,
            [audit.Record(actor, action, "document", str(i), dict(details)) for i in ids],
        )


def stamp(document: Document) -> str:
    """The document's version as the confirmation page saw it: its last change's time."""
    at = document.updated_at
    if at.tzinfo is not None:
        at = at.astimezone(UTC).replace(tzinfo=None)
    return at.isoformat(timespec="microseconds")


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a bulk decision did to one document: ``done``, or why not: ``moved`` (changed
    since its confirmation), ``held`` (another auditor holds it: ``holder`` until
    ``held_until``) or ``refused`` (the decision refused it, ``detail`` says why)."""

    document_id: uuid.UUID
    external_id: str
    centre_code: str
    requested: int
    status: str
    done: bool
    refusal: str | None = None
    detail: str | None = None
    holder: str | None = None
    held_until: datetime | None = None


def bulk_targets(
    session: Session, seen: Sequence[tuple[uuid.UUID, str]]
) -> list[tuple[Document, str, str]]:
    """The documents a bulk decision's confirmation showed (id, stamp), with their centre's
    code and the stamp shown, in the confirmation's order; unknown ids are left out."""
    if len(seen) > MOST_AT_ONCE:
        raise GatewayError(
            f"At most {MOST_AT_ONCE} documents are decided at once.",
            422,
            code="bulk.too-many",
            params={"most": MOST_AT_ONCE},
        )
    rows = {d.id: (d, code) for d, code in store.documents(session, [i for i, _ in seen])}
    return [(*rows[i], shown) for i, shown in seen if i in rows]


def decide_one(
    session: Session,
    document: Document,
    code: str,
    shown: str,
    *,
    approve: bool,
    reason: str,
    actor: str,
) -> Outcome:
    """Approve or deny one document of a bulk decision by the review service's own decision
    (its audit entry and webhook event), unless it changed since its confirmation was shown.
    A refusal is raised (GatewayError): the caller runs each document in a savepoint and
    tells the refusal with ``refused``."""
    if stamp(document) != shown or document.status != DocumentStatus.UNDER_REVIEW:
        return _outcome(document, code, refusal="moved")
    reviews.decide(session, document_id=document.id, approve=approve, reason=reason, actor=actor)
    return _outcome(document, code)


def refused(session: Session, document: Document, code: str, error: GatewayError) -> Outcome:
    """A document the decision refused, as it is stored (its savepoint rolled back)."""
    session.refresh(document)
    if isinstance(error, DocumentHeldError):
        held = _outcome(document, code, refusal="held", detail=error.message)
        return replace(held, holder=error.holder, held_until=error.until)
    return _outcome(document, code, refusal="refused", detail=error.message)


def _outcome(
    document: Document, code: str, *, refusal: str | None = None, detail: str | None = None
) -> Outcome:
    return Outcome(
        document.id,
        document.external_id,
        code,
        document.requested_amount,
        document.status,
        refusal is None,
        refusal,
        detail,
    )
