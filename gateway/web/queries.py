"""The few reads the workspace needs that the repository does not have yet.

They belong in ``gateway.storage.repository``; they live here while that module is being
reworked, and move there as they are.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gateway.storage.models import Centre, Document, RawPayload


@dataclass(frozen=True, slots=True)
class StatusTotals:
    status: str
    documents: int
    requested: int
    eligible: int
    deducted: int
    copayment: int
    insurer_share: int


def totals_by_status(session: Session) -> list[StatusTotals]:
    """Documents and their amounts, per status."""
    query = select(
        Document.status,
        func.count(),
        func.coalesce(func.sum(Document.requested_amount), 0),
        func.coalesce(func.sum(Document.eligible_amount), 0),
        func.coalesce(func.sum(Document.deduction_amount), 0),
        func.coalesce(func.sum(Document.copayment_amount), 0),
        func.coalesce(func.sum(Document.insurer_amount), 0),
    ).group_by(Document.status)
    return [
        StatusTotals(str(row[0]), *(int(value or 0) for value in row[1:]))
        for row in session.execute(query)
    ]


def raw_payload(session: Session, submission_id: uuid.UUID) -> RawPayload | None:
    query = select(RawPayload).where(RawPayload.submission_id == submission_id)
    return session.scalars(query).one_or_none()


def centres_by_id(session: Session, ids: set[int]) -> dict[int, Centre]:
    if not ids:
        return {}
    return {c.id: c for c in session.scalars(select(Centre).where(Centre.id.in_(ids)))}
