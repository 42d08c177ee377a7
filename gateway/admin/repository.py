"""The reads and writes of administration: tokens, staff accounts, centres' overview and
the insured registry (coverage, supplementary policies)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from gateway.domain.registry import Coverage, SupplementaryTerms
from gateway.storage.models import (
    ApiToken,
    Centre,
    FamilyPhysician,
    InsuredCoverage,
    PatientListEntry,
    ReferralRolloutRow,
    StaffUser,
    SupplementaryPolicy,
)


@dataclass(frozen=True, slots=True)
class TokenRow:
    """A token as an administrator sees it: never the token, only its hash's first 12."""

    token: ApiToken
    centre_code: str | None


@dataclass(frozen=True, slots=True)
class CentreRow:
    centre: Centre
    live_tokens: int


def tokens(
    session: Session, *, centre_id: int | None = None, token_id: int | None = None
) -> list[TokenRow]:
    """Every token (revoked ones too), oldest first; one centre's when ``centre_id``, the
    one with ``token_id`` when given."""
    query = (
        select(ApiToken, Centre.code)
        .outerjoin(Centre, Centre.id == ApiToken.centre_id)
        .order_by(ApiToken.id)
    )
    if centre_id is not None:
        query = query.where(ApiToken.centre_id == centre_id)
    if token_id is not None:
        query = query.where(ApiToken.id == token_id)
    return [TokenRow(token, code) for token, code in session.execute(query)]


def token_by_id(session: Session, token_id: int) -> ApiToken | None:
    return session.get(ApiToken, token_id)


def token_by_hash(session: Session, token_hash: str) -> ApiToken | None:
    """The token with this hash, revoked or not."""
    return session.scalars(select(ApiToken).where(ApiToken.token_hash == token_hash)).first()


def staff_users(session: Session) -> list[StaffUser]:
    return list(session.scalars(select(StaffUser).order_by(StaffUser.username)))


def staff_user(session: Session, username: str) -> StaffUser | None:
    return session.scalars(select(StaffUser).where(StaffUser.username == username)).one_or_none()


def enabled_admins(session: Session) -> int:
    """How many administrators' accounts are open."""
    found = session.scalar(
        select(func.count())
        .select_from(StaffUser)
        .where(StaffUser.role == "admin", StaffUser.disabled_at.is_(None))
    )
    return int(found or 0)


def raise_session_generation(session: Session, user_id: int) -> None:
    """Every workspace session issued to the user so far is refused from now on."""
    session.execute(
        update(StaffUser)
        .where(StaffUser.id == user_id)
        .values(session_generation=StaffUser.session_generation + 1)
    )


def centres(session: Session, *, code: str | None = None) -> list[CentreRow]:
    """Centres by code with the number of their live (not revoked) tokens; an expired
    token still counts until revoked, as the list of tokens shows it."""
    live = (
        select(ApiToken.centre_id, func.count().label("n"))
        .where(ApiToken.revoked_at.is_(None), ApiToken.centre_id.is_not(None))
        .group_by(ApiToken.centre_id)
        .subquery()
    )
    query = (
        select(Centre, func.coalesce(live.c.n, 0))
        .outerjoin(live, live.c.centre_id == Centre.id)
        .order_by(Centre.code)
    )
    if code is not None:
        query = query.where(Centre.code == code)
    return [CentreRow(centre, int(count)) for centre, count in session.execute(query)]


def replace_coverages(session: Session, coverages: dict[str, list[Coverage]]) -> None:
    """Every listed person's coverage periods replaced by these (others untouched)."""
    people = list(coverages)
    for start in range(0, len(people), 500):
        chunk = people[start : start + 500]
        session.execute(delete(InsuredCoverage).where(InsuredCoverage.national_id.in_(chunk)))
    session.add_all(
        InsuredCoverage(
            national_id=c.national_id,
            insurance_number=c.insurance_number,
            valid_from=c.valid_from,
            valid_to=c.valid_to,
        )
        for periods in coverages.values()
        for c in periods
    )


def replace_policies(session: Session, policies: dict[str, list[SupplementaryTerms]]) -> None:
    """Every listed person's supplementary policies replaced by these (others untouched)."""
    people = list(policies)
    for start in range(0, len(people), 500):
        chunk = people[start : start + 500]
        session.execute(
            delete(SupplementaryPolicy).where(SupplementaryPolicy.national_id.in_(chunk))
        )
    session.add_all(
        SupplementaryPolicy(
            national_id=p.national_id,
            insurer_code=p.insurer_code,
            insurer_name=p.insurer_name,
            policy_number=p.policy_number,
            priority=p.priority,
            valid_from=p.valid_from,
            valid_to=p.valid_to,
            copay_share=p.copay_share,
            uncovered_share=p.uncovered_share,
            annual_ceiling=p.annual_ceiling,
        )
        for held in policies.values()
        for p in held
    )


def known_physicians(session: Session, numbers: Collection[str]) -> set[str]:
    """Those of the medical-council numbers that are registered family physicians."""
    query = select(FamilyPhysician.medical_council_number).where(
        FamilyPhysician.medical_council_number.in_(sorted(numbers))
    )
    return set(session.scalars(query))


def put_physician(session: Session, number: str, full_name: str, centre_id: int) -> None:
    row = session.get(FamilyPhysician, number) or FamilyPhysician(medical_council_number=number)
    row.full_name, row.centre_id = full_name, centre_id
    session.add(row)
    session.flush()


def replace_list_entries(
    session: Session, people: Sequence[str], entries: Sequence[PatientListEntry]
) -> None:
    """Every list period of the people, replaced by the entries."""
    for start in range(0, len(people), 500):
        chunk = people[start : start + 500]
        session.execute(delete(PatientListEntry).where(PatientListEntry.national_id.in_(chunk)))
    session.add_all(entries)
    session.flush()


def replace_rollout(session: Session, rows: Sequence[ReferralRolloutRow]) -> None:
    session.execute(delete(ReferralRolloutRow))
    session.add_all(rows)
    session.flush()
