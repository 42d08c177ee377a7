"""The SQL of review: a line's pricing, its review deductions and the document's sums.
Functions take the caller's session and never commit."""

from __future__ import annotations

import uuid

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from gateway.domain.review import REVIEW_PREFIX
from gateway.storage.models import Appeal, LineDeduction, LinePricing, LineReview


def line_pricing(session: Session, line_id: int) -> LinePricing:
    return session.scalars(select(LinePricing).where(LinePricing.line_id == line_id)).one()


def review_deducted(session: Session, line_id: int) -> int:
    """What earlier reviews of the line deducted (they are replaced, not added to)."""
    total = session.scalar(
        select(func.coalesce(func.sum(LineDeduction.amount), 0)).where(
            LineDeduction.line_id == line_id, LineDeduction.reason.like(f"{REVIEW_PREFIX}%")
        )
    )
    return int(total or 0)


def drop_review_deductions(session: Session, line_id: int) -> None:
    session.execute(
        delete(LineDeduction).where(
            LineDeduction.line_id == line_id, LineDeduction.reason.like(f"{REVIEW_PREFIX}%")
        )
    )


def add(session: Session, row: LineDeduction | LineReview | Appeal) -> None:
    session.add(row)


def line_sums(session: Session, document_id: uuid.UUID) -> tuple[int, int, int, int]:
    """The document's eligible, deducted, co-payment and insurer sums over its lines."""
    sums = session.execute(
        select(
            func.sum(LinePricing.eligible_amount),
            func.sum(LinePricing.deduction_amount),
            func.sum(LinePricing.copayment_amount),
            func.sum(LinePricing.insurer_amount),
        ).where(LinePricing.document_id == document_id)
    ).one()
    eligible, deducted, copayment, insurer = (int(v or 0) for v in sums)
    return eligible, deducted, copayment, insurer
