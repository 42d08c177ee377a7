"""The few reads the workspace needs that the repository does not have yet.

They belong in ``gateway.storage.repository``; they live here while that module is being
reworked, and move there as they are.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gateway.storage.models import (
    ApiToken,
    Centre,
    Document,
    RawPayload,
    ReviewClaim,
    StaffUser,
    TariffItemRow,
)


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


def tariff_titles(session: Session, version_id: int | None, codes: set[str]) -> dict[str, str]:
    """The tariff's titles of these service and drug codes: of the version the document
    was priced with, else of the newest version that has them."""
    if not codes:
        return {}
    query = select(TariffItemRow.code, TariffItemRow.title).where(TariffItemRow.code.in_(codes))
    if version_id is not None:
        query = query.where(TariffItemRow.version_id == version_id)
    else:
        query = query.order_by(TariffItemRow.version_id)  # newest last: it wins below
    return dict(session.execute(query).tuples().all())


def patient_documents(
    session: Session, national_id: str, since: date, but: uuid.UUID, most: int = 50
) -> list[tuple[Document, str]]:
    """The patient's other documents served since ``since``, at any centre, newest first."""
    query = (
        select(Document, Centre.code)
        .join(Centre, Centre.id == Document.centre_id)
        .where(
            Document.patient_national_id == national_id,
            Document.service_date >= since,
            Document.id != but,
        )
        .order_by(Document.service_date.desc(), Document.created_at.desc())
        .limit(most)
    )
    return [(d, code) for d, code in session.execute(query).all()]


def staff_names(session: Session, usernames: set[str]) -> dict[str, str]:
    """Display names of workspace users by user name."""
    if not usernames:
        return {}
    query = select(StaffUser.username, StaffUser.display_name).where(
        StaffUser.username.in_(usernames)
    )
    return dict(session.execute(query).tuples().all())


def token_labels(session: Session, ids: set[int]) -> dict[int, str]:
    """Labels of API tokens by id (staff tokens act as ``ROLE:ID``)."""
    if not ids:
        return {}
    query = select(ApiToken.id, ApiToken.label).where(ApiToken.id.in_(ids))
    return dict(session.execute(query).tuples().all())


def next_in_review(
    session: Session, after: uuid.UUID, holder_id: int, now: datetime
) -> uuid.UUID | None:
    """The document to open after this one: the oldest of the user's live claims, else the
    oldest unclaimed document under review."""
    others = (Document.id != after, Document.status == "UNDER_REVIEW")
    mine = (
        select(Document.id)
        .join(ReviewClaim, ReviewClaim.document_id == Document.id)
        .where(*others, ReviewClaim.holder_id == holder_id, ReviewClaim.expires_at > now)
        .order_by(Document.created_at, Document.id)
        .limit(1)
    )
    found = session.scalar(mine)
    if found is not None:
        return found
    held = select(ReviewClaim.document_id).where(
        ReviewClaim.document_id == Document.id, ReviewClaim.expires_at > now
    )
    free = (
        select(Document.id)
        .where(*others, ~held.exists())
        .order_by(Document.created_at, Document.id)
        .limit(1)
    )
    return session.scalar(free)
