"""All of the referral programme's SQL."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import case, func, select, update
from sqlalchemy.orm import Session

from gateway.domain.documents import ReferralFeedback
from gateway.domain.referrals import (
    CareLevel,
    ReferralInfo,
    ReferralStatus,
    Rollout,
    RolloutEntry,
    RolloutScope,
)
from gateway.storage.models import (
    Centre,
    Document,
    FamilyPhysician,
    OutboxMessage,
    PatientListEntry,
    Referral,
    ReferralRolloutRow,
    ReferralUse,
    Webhook,
)


def rollout(session: Session) -> Rollout:
    rows = session.scalars(select(ReferralRolloutRow)).all()
    return Rollout.of(
        RolloutEntry(
            row.province,
            row.required_from,
            frozenset(CareLevel(int(part)) for part in row.levels.split()),
            RolloutScope(row.scope),
        )
        for row in rows
    )


def info(row: Referral) -> ReferralInfo:
    return ReferralInfo(
        code=row.code,
        patient_national_id=row.patient_national_id,
        level=CareLevel(row.level),
        specialty=row.specialty,
        issued_on=row.issued_on,
        valid_until=row.valid_until,
        visits=row.visits,
        visits_used=row.visits_used,
    )


def infos_by_code(session: Session, codes: Collection[str]) -> dict[str, ReferralInfo]:
    if not codes:
        return {}
    rows = session.scalars(select(Referral).where(Referral.code.in_(sorted(codes))))
    return {row.code: info(row) for row in rows}


def by_code(session: Session, code: str) -> Referral | None:
    return session.scalars(select(Referral).where(Referral.code == code)).one_or_none()


def code_taken(session: Session, code: str) -> bool:
    return session.scalar(select(func.count()).where(Referral.code == code)) != 0


def family_physician(session: Session, number: str) -> FamilyPhysician | None:
    return session.get(FamilyPhysician, number)


def on_list(session: Session, national_id: str, physician: str, on: date) -> bool:
    """Whether the person is on the physician's list on that day."""
    query = select(func.count()).where(
        PatientListEntry.national_id == national_id,
        PatientListEntry.physician_number == physician,
        PatientListEntry.valid_from <= on,
        (PatientListEntry.valid_to.is_(None)) | (PatientListEntry.valid_to >= on),
    )
    return bool(session.scalar(query))


def add(session: Session, row: Referral) -> Referral:
    session.add(row)
    session.flush()
    return row


def take_visit(session: Session, code: str) -> int | None:
    """Use one visit of the referral, if one is left: one conditional UPDATE, so two
    transactions racing for the last visit cannot both have it (the second waits for the
    first's row lock, then finds none left). Returns the referral's id, or None."""
    query = (
        update(Referral)
        .where(Referral.code == code, Referral.visits_used < Referral.visits)
        .values(visits_used=Referral.visits_used + 1)
        .returning(Referral.id)
    )
    return session.execute(query).scalar_one_or_none()


@dataclass(frozen=True, slots=True)
class Use:
    referral_id: int
    document_id: uuid.UUID
    centre_id: int
    service_date: date
    feedback: ReferralFeedback | None = None  # the specialist's, sent with the document


def add_uses(session: Session, uses: Sequence[Use], at: datetime) -> None:
    session.add_all(
        ReferralUse(
            referral_id=u.referral_id,
            document_id=u.document_id,
            centre_id=u.centre_id,
            service_date=u.service_date,
            created_at=at,
        )
        for u in uses
    )
    session.flush()


def release(session: Session, document_id: uuid.UUID, at: datetime) -> Referral | None:
    """Give back the visit the document used, once; the referral it belonged to."""
    use = session.scalars(
        select(ReferralUse)
        .where(ReferralUse.document_id == document_id, ReferralUse.released_at.is_(None))
        .with_for_update()
    ).one_or_none()
    if use is None:
        return None
    use.released_at = at
    session.execute(
        update(Referral)
        .where(Referral.id == use.referral_id, Referral.visits_used > 0)
        .values(visits_used=Referral.visits_used - 1)
    )
    session.flush()
    return session.get(Referral, use.referral_id)


def live_uses(session: Session, document_ids: Collection[uuid.UUID]) -> set[uuid.UUID]:
    """Those of the documents that hold a visit of a referral."""
    if not document_ids:
        return set()
    query = select(ReferralUse.document_id).where(
        ReferralUse.document_id.in_(list(document_ids)), ReferralUse.released_at.is_(None)
    )
    return set(session.scalars(query))


def user_centres(session: Session, referral_id: int) -> set[int]:
    """The centres whose documents hold a visit of the referral."""
    query = select(ReferralUse.centre_id).where(
        ReferralUse.referral_id == referral_id, ReferralUse.released_at.is_(None)
    )
    return set(session.scalars(query))


def listed(
    session: Session,
    *,
    centre_id: int,
    status: ReferralStatus | None,
    today: date,
    limit: int,
    offset: int,
) -> tuple[Sequence[Referral], int]:
    """The referrals a centre issued, or whose visits its documents used; newest first."""
    used_here = select(ReferralUse.referral_id).where(
        ReferralUse.centre_id == centre_id, ReferralUse.released_at.is_(None)
    )
    query = select(Referral).where(
        (Referral.issuing_centre_id == centre_id) | Referral.id.in_(used_here)
    )
    if status == ReferralStatus.USED:
        query = query.where(Referral.visits_used >= Referral.visits)
    elif status == ReferralStatus.EXPIRED:
        query = query.where(Referral.visits_used < Referral.visits, Referral.valid_until < today)
    elif status == ReferralStatus.OPEN:
        query = query.where(Referral.visits_used < Referral.visits, Referral.valid_until >= today)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(
        query.order_by(Referral.issued_on.desc(), Referral.id.desc()).limit(limit).offset(offset)
    ).all()
    return rows, total


def centre_codes(session: Session, ids: Collection[int]) -> dict[int, str]:
    if not ids:
        return {}
    rows = session.execute(select(Centre.id, Centre.code).where(Centre.id.in_(ids)))
    return {row.id: row.code for row in rows}


def live_webhooks(session: Session, centre_id: int) -> list[int]:
    query = select(Webhook.id).where(Webhook.centre_id == centre_id, Webhook.disabled_at.is_(None))
    return list(session.scalars(query))


def add_outbox(session: Session, rows: Sequence[OutboxMessage]) -> None:
    session.add_all(rows)
    session.flush()


def status_counts(session: Session, today: date) -> list[tuple[str, int, int]]:
    """(status, level, referrals): open, used (every visit), expired-unused (none used),
    expired-partly (some used)."""
    status = case(
        (Referral.visits_used >= Referral.visits, "used"),
        (Referral.valid_until >= today, "open"),
        (Referral.visits_used == 0, "expired-unused"),
        else_="expired-partly",
    )
    query = select(status, Referral.level, func.count()).group_by(status, Referral.level)
    return [(str(s), int(level), int(n)) for s, level, n in session.execute(query)]


@dataclass(frozen=True, slots=True)
class VisitGroup:
    province: str
    grade: str
    self_referred: bool
    emergency: bool
    referred: bool
    documents: int


def specialist_visits(
    session: Session, provinces: Collection[str], since: date
) -> list[VisitGroup]:
    """Specialists' documents not rejected, served since the day, in the provinces, by how
    the patient came: holding a referral visit, self-referred, an emergency or none."""
    if not provinces:
        return []
    held = (
        select(ReferralUse.id)
        .where(ReferralUse.document_id == Document.id, ReferralUse.released_at.is_(None))
        .exists()
    )
    query = (
        select(
            Centre.province,
            Document.physician_grade,
            Document.self_referred,
            Document.emergency,
            held,
            func.count(),
        )
        .join(Centre, Centre.id == Document.centre_id)
        .where(
            Centre.province.in_(sorted(provinces)),
            Document.physician_grade.in_(("specialist", "subspecialist")),
            Document.service_date >= since,
            Document.status != "REJECTED",
        )
        .group_by(
            Centre.province,
            Document.physician_grade,
            Document.self_referred,
            Document.emergency,
            held,
        )
    )
    return [
        VisitGroup(str(p), str(g), bool(s), bool(e), bool(r), int(n))
        for p, g, s, e, r, n in session.execute(query)
    ]


def feedback_due(
    session: Session, since: date, until: date
) -> list[tuple[str, date, datetime | None]]:
    """(using centre's code, visit day, feedback time) of each referral visit used between
    the two days (inclusive)."""
    query = (
        select(Centre.code, ReferralUse.service_date, Referral.feedback_at)
        .join(Referral, Referral.id == ReferralUse.referral_id)
        .join(Centre, Centre.id == ReferralUse.centre_id)
        .where(
            ReferralUse.released_at.is_(None),
            ReferralUse.service_date >= since,
            ReferralUse.service_date <= until,
        )
    )
    return [(str(code), day, at) for code, day, at in session.execute(query)]


def issued_by_documents(session: Session, ids: Collection[uuid.UUID]) -> dict[uuid.UUID, list[str]]:
    if not ids:
        return {}
    query = (
        select(Referral.source_document_id, Referral.code)
        .where(Referral.source_document_id.in_(list(ids)))
        .order_by(Referral.id)
    )
    out: dict[uuid.UUID, list[str]] = {}
    for document_id, code in session.execute(query):
        if document_id is not None:
            out.setdefault(document_id, []).append(code)
    return out


def set_source_document(session: Session, ids: Sequence[int], document_id: uuid.UUID) -> None:
    # A statement, not the ORM attribute: the ingest writes its rows in bulk around the ORM.
    session.execute(
        update(Referral)
        .where(Referral.id.in_(ids))
        .values(source_document_id=document_id)
        .execution_options(synchronize_session=False)
    )


def holds_visit_of(session: Session, document_id: uuid.UUID, code: str) -> bool:
    """Whether the document holds a visit of the referral with this code."""
    query = (
        select(func.count())
        .select_from(ReferralUse)
        .join(Referral, Referral.id == ReferralUse.referral_id)
        .where(
            ReferralUse.document_id == document_id,
            ReferralUse.released_at.is_(None),
            Referral.code == code,
        )
    )
    return bool(session.scalar(query))
