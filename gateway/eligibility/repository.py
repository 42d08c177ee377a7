"""The SQL of eligibility inquiries: the asking centre as it stands now, and what the
patient's live bills already list. Functions take a session and never commit."""

from __future__ import annotations

import uuid
from collections.abc import Collection
from dataclasses import dataclass, replace
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.domain.documents import Purpose
from gateway.domain.lifecycle import NOT_LIVE
from gateway.domain.registry import CentreInfo, Coverage
from gateway.storage import repository
from gateway.storage.models import Centre, Document, DocumentLine

# A bill counts from its acceptance on, as pricing's duplicate rule counts it, unless it was
# never accepted (REJECTED) or was withdrawn by its centre (VOIDED): lifecycle.NOT_LIVE.


def centre(session: Session, centre_id: int) -> CentreInfo | None:
    """The centre as the register has it now (a cached token may carry an older copy)."""
    found = session.get(Centre, centre_id)
    return None if found is None else repository.centre_info(found)


def coverages(session: Session, national_id: str) -> list[Coverage]:
    return repository.coverages_of(session, [national_id]).get(national_id, [])


@dataclass(frozen=True, slots=True)
class Billed:
    """Units of one code that the patient's live bills list on one day, and one of those
    bills (the first received) to name."""

    code_type: str
    code: str
    service_date: date
    units: int
    document_id: uuid.UUID
    centre_id: int
    external_id: str


def billed_units(
    session: Session, *, national_id: str, codes: Collection[str], first: date, last: date
) -> list[Billed]:
    """Per code, type and day from ``first`` to ``last``: the units the patient's live bills
    (of any centre; estimates bill nothing) list, and the earliest-stored such bill. A
    patient's lines of at most a hundred codes in one month: a handful of rows."""
    if not codes:
        return []
    query = (
        select(
            DocumentLine.code_type,
            DocumentLine.code,
            DocumentLine.service_date,
            DocumentLine.quantity,
            Document.id,
            Document.centre_id,
            Document.external_id,
        )
        .join(Document, Document.id == DocumentLine.document_id)
        .where(
            Document.patient_national_id == national_id,
            Document.status.not_in(NOT_LIVE),
            Document.purpose == Purpose.CLAIM.value,
            DocumentLine.code.in_(sorted(set(codes))),
            DocumentLine.service_date.between(first, last),
        )
        .order_by(Document.created_at, Document.id, DocumentLine.line_no)
    )
    found: dict[tuple[str, str, date], Billed] = {}
    for code_type, code, day, units, document_id, centre_id, number in session.execute(query):
        key = (code_type, code, day)
        earlier = found.get(key)
        if earlier is None:
            found[key] = Billed(code_type, code, day, units, document_id, centre_id, number)
        else:
            found[key] = replace(earlier, units=earlier.units + units)
    return list(found.values())
