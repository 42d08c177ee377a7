"""Claims made real: a review move on a document another auditor holds is refused.

Claims are optional: a document nobody holds, or whose claim has lapsed, is open to any
auditor. The holder's own moves pass. An admin may act over anyone's claim (the caller
records that in the audit chain); a staff API token is nobody's claim, so an auditor's
token is refused on a held document like any other auditor. The claim is read after the
document's row lock (``lock_document``), the lock every move takes first, so of two
auditors acting at once the second sees what the first left."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.orm import Session

from gateway.domain import actors
from gateway.domain.centres import Role
from gateway.errors import DocumentHeldError
from gateway.storage import repository
from gateway.storage.models import Document

OVERRIDE_ACTION = "review.claim_overridden"


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def is_admin(session: Session, actor: str) -> bool:
    """An admin's workspace account or an admin's API token."""
    name = actors.user_name(actor)
    if name is not None:
        return repository.staff_roles(session, [name]).get(name) == Role.ADMIN.value
    return actor.partition(":")[0] == Role.ADMIN.value


def check(
    session: Session, document: Document, *, actor: str, now: datetime
) -> repository.LiveClaim | None:
    """Raise ``DocumentHeldError`` when another holds the (locked) document and the actor
    is no admin; the claim an admin acts over, else None."""
    claim = repository.live_claim(session, document.id, now)
    if claim is None or actors.user_name(actor) == claim.username:
        return None
    if is_admin(session, actor):
        return claim
    raise DocumentHeldError(document.external_id, claim.display_name, _aware(claim.until))


def override_details(claim: repository.LiveClaim, move: str) -> dict[str, object]:
    """The audit entry's details when an admin acts on a document another holds."""
    return {
        "move": move,
        "held_by": claim.display_name,
        "held_by_user": claim.username,
        "until": _aware(claim.until).isoformat(),
    }
