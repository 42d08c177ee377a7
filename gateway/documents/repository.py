"""The reads a document's view is built from, besides the shared repository: its line
reviews and appeals (written by gateway.review)."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.storage.models import Appeal, LineReview


def review_history(session: Session, document_id: uuid.UUID) -> list[LineReview]:
    query = select(LineReview).where(LineReview.document_id == document_id).order_by(LineReview.id)
    return list(session.scalars(query))


def appeals_of(session: Session, document_id: uuid.UUID) -> list[Appeal]:
    return list(
        session.scalars(select(Appeal).where(Appeal.document_id == document_id).order_by(Appeal.id))
    )
