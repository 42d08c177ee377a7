"""The reimbursement lifecycle: one table of allowed moves and one function to make them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum


class DocumentStatus(StrEnum):
    RECEIVED = "RECEIVED"
    REJECTED = "REJECTED"
    ACCEPTED = "ACCEPTED"
    PRICED = "PRICED"
    UNDER_REVIEW = "UNDER_REVIEW"
    INFO_REQUESTED = "INFO_REQUESTED"
    APPROVED = "APPROVED"
    DENIED = "DENIED"
    APPEALED = "APPEALED"
    PAYMENT_ORDERED = "PAYMENT_ORDERED"
    PAID = "PAID"
    VOIDED = "VOIDED"


S = DocumentStatus
ALLOWED: dict[DocumentStatus, frozenset[DocumentStatus]] = {
    S.RECEIVED: frozenset({S.ACCEPTED, S.REJECTED}),
    S.REJECTED: frozenset(),
    S.ACCEPTED: frozenset({S.PRICED, S.VOIDED}),
    S.PRICED: frozenset({S.UNDER_REVIEW, S.APPROVED, S.VOIDED}),
    S.UNDER_REVIEW: frozenset({S.APPROVED, S.DENIED, S.VOIDED, S.INFO_REQUESTED}),
    # An auditor asked the centre for information; its answer (or the auditor's
    # withdrawal of the question) returns the document to review.
    S.INFO_REQUESTED: frozenset({S.UNDER_REVIEW}),
    S.APPROVED: frozenset({S.APPEALED, S.PAYMENT_ORDERED}),
    S.DENIED: frozenset({S.APPEALED, S.VOIDED}),
    S.APPEALED: frozenset({S.UNDER_REVIEW}),
    S.PAYMENT_ORDERED: frozenset({S.PAID}),
    S.PAID: frozenset(),
    S.VOIDED: frozenset(),
}

# A centre may void (or replace) its own document until it is approved: from these.
VOIDABLE: frozenset[DocumentStatus] = frozenset(s for s, to in ALLOWED.items() if S.VOIDED in to)
# Statuses whose document no longer holds its number or its services: never accepted, or
# voided. Every other document is live (the database's unique key of live numbers too).
NOT_LIVE: frozenset[DocumentStatus] = frozenset({S.REJECTED, S.VOIDED})

# Every (from, to) pair the database accepts in the status history; "" is a document's birth.
ALLOWED_PAIRS: frozenset[tuple[str, str]] = frozenset(
    {("", S.RECEIVED.value)}
    | {(src.value, dst.value) for src, targets in ALLOWED.items() for dst in targets}
)


class InvalidTransitionError(Exception):
    """A move the lifecycle does not allow; carries the moves that are allowed."""

    def __init__(self, current: DocumentStatus, target: DocumentStatus) -> None:
        self.current = current
        self.target = target
        self.allowed = sorted(ALLOWED[current])
        allowed = ", ".join(self.allowed) or "none (final state)"
        super().__init__(f"Cannot move from {current} to {target}; allowed: {allowed}.")


@dataclass(frozen=True, slots=True)
class Transition:
    """A move that happened: who made it, when and why."""

    from_status: DocumentStatus | None
    to_status: DocumentStatus
    actor: str
    reason: str
    at: datetime


def birth(*, actor: str, at: datetime | None = None) -> Transition:
    """The first status of every document."""
    return Transition(None, S.RECEIVED, actor, "received", at or datetime.now(UTC))


def transition(
    current: DocumentStatus,
    target: DocumentStatus,
    *,
    actor: str,
    reason: str,
    at: datetime | None = None,
) -> Transition:
    """Check a move against the table and describe it, or raise InvalidTransitionError."""
    if target not in ALLOWED[current]:
        raise InvalidTransitionError(current, target)
    return Transition(current, target, actor, reason, at or datetime.now(UTC))
