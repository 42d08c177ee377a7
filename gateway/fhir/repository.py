"""The FHIR door's own SQL: the stored raw body a ClaimResponse's context is read from."""

from __future__ import annotations

import uuid
from typing import NamedTuple

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.storage.models import RawPayload, Submission


class RawBody(NamedTuple):
    format: str
    body: bytes
    content_type: str


def raw_body(session: Session, submission_id: uuid.UUID) -> RawBody | None:
    """A submission's stored format and raw body; None when there is no such submission."""
    query = (
        select(Submission.format, RawPayload.body, RawPayload.content_type)
        .join(RawPayload, RawPayload.submission_id == Submission.id)
        .where(Submission.id == submission_id)
    )
    row = session.execute(query).one_or_none()
    return None if row is None else RawBody(row[0], row[1], row[2])
