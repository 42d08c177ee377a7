"""The charity fund's side: programmes, enrolments, donations and donors' reports.

Each function works in the caller's transaction and records an audit entry for every
change. A donation's money enters the ledger as one transfer from ``donors``; a donor's
report is read from the entries of the donation's account alone, so it totals exactly
what left the donation, and it names no patient and no document.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date

from sqlalchemy.orm import Session

from gateway.audit import chain as audit
from gateway.domain import ledger
from gateway.domain.payers import DiagnosisGroup, EarmarkKind
from gateway.errors import GatewayError, NotFoundError
from gateway.payers import repository as store
from gateway.storage.models import CharityEnrolment, CharityProgramme, Donation
from validators.problems import Problem
from validators.rules.patient import national_id_is_valid


def _refuse(code: str, message: str, path: str) -> GatewayError:
    return GatewayError(message, 422, [Problem(code, message, path)])


def create_programme(
    session: Session,
    *,
    code: str,
    name: str,
    province: str | None,
    diagnosis_groups: list[DiagnosisGroup],
    patient_annual_ceiling: int,
    centres: list[str],
    actor: str,
) -> CharityProgramme:
    """A new fund programme; its code is unique (409 when taken)."""
    if store.programme(session, code) is not None:
        raise GatewayError(
            f"Programme {code} already exists.",
            409,
            code="payers.programme-exists",
            params={"code": code},
        )
    if not diagnosis_groups:
        raise _refuse(
            "payers.no-diagnosis-group",
            "A programme covers one group at least.",
            "/diagnosis_groups",
        )
    unknown = sorted(set(centres) - store.centre_codes(session, centres))
    if unknown:
        raise _refuse("payers.unknown-centre", f"No centre {', '.join(unknown)}.", "/centres")
    row = CharityProgramme(
        code=code,
        name=name,
        province=province,
        diagnosis_groups=sorted({g.value for g in diagnosis_groups}),
        patient_annual_ceiling=patient_annual_ceiling,
        centres=sorted(set(centres)),
        created_by=actor,
    )
    store.add(session, row)
    _audit(
        session,
        actor,
        "payers.programme",
        "programme",
        code,
        {
            "province": province,
            "diagnosis_groups": row.diagnosis_groups,
            "patient_annual_ceiling": patient_annual_ceiling,
            "centres": row.centres,
        },
    )
    return row


def programmes(session: Session) -> list[CharityProgramme]:
    return store.programmes(session)


def enrol(
    session: Session,
    *,
    programme_code: str,
    national_id: str,
    diagnosis_group: DiagnosisGroup,
    valid_from: date,
    valid_to: date | None,
    actor: str,
) -> CharityEnrolment:
    """Enrol a patient in a programme for a diagnosis group the programme covers."""
    programme = store.programme(session, programme_code)
    if programme is None:
        raise NotFoundError(
            f"Programme {programme_code}",
            code="payers.no-programme",
            params={"code": programme_code},
        )
    if not national_id_is_valid(national_id):
        raise _refuse(
            "payers.invalid-national-id",
            f"{national_id!r} is not a national ID with a valid check digit.",
            "/national_id",
        )
    if diagnosis_group.value not in programme.diagnosis_groups:
        raise _refuse(
            "payers.group-not-covered",
            f"Programme {programme.code} does not cover {diagnosis_group.value}.",
            "/diagnosis_group",
        )
    if valid_to is not None and valid_to < valid_from:
        raise _refuse("payers.bad-period", "valid_to is before valid_from.", "/valid_to")
    row = CharityEnrolment(
        programme_id=programme.id,
        national_id=national_id,
        diagnosis_group=diagnosis_group.value,
        valid_from=valid_from,
        valid_to=valid_to,
        enrolled_by=actor,
    )
    store.add(session, row)
    # The audit trail names the patient: it is the record of who was enrolled, read by staff.
    _audit(
        session,
        actor,
        "payers.enrolment",
        "programme",
        programme.code,
        {
            "national_id": national_id,
            "diagnosis_group": diagnosis_group.value,
            "valid_from": valid_from.isoformat(),
            "valid_to": valid_to.isoformat() if valid_to else None,
        },
    )
    return row


def record_donation(
    session: Session,
    *,
    donor: str,
    amount: int,
    received_on: date,
    earmark_kind: EarmarkKind | None,
    earmark_value: str | None,
    message: str,
    actor: str,
) -> Donation:
    """Record and receipt a gift: its account is credited by one transfer from donors."""
    if amount <= 0:
        raise _refuse("payers.bad-amount", "A donation is a positive number of rials.", "/amount")
    if (earmark_kind is None) != (not earmark_value):
        raise _refuse(
            "payers.bad-earmark", "An earmark needs both its kind and its value.", "/earmark_value"
        )
    if (
        earmark_kind is EarmarkKind.PROGRAMME
        and store.programme(session, earmark_value or "") is None
    ):
        raise _refuse("payers.bad-earmark", f"No programme {earmark_value}.", "/earmark_value")
    if earmark_kind is EarmarkKind.DIAGNOSIS_GROUP and earmark_value not in set(DiagnosisGroup):
        raise _refuse(
            "payers.bad-earmark", f"No diagnosis group {earmark_value}.", "/earmark_value"
        )
    if earmark_kind is EarmarkKind.CENTRE and not store.centre_codes(
        session, [earmark_value or ""]
    ):
        raise _refuse("payers.bad-earmark", f"No centre {earmark_value}.", "/earmark_value")
    row = Donation(
        receipt_number=f"new-{uuid.uuid4().hex[:24]}",
        donor=donor,
        amount=amount,
        received_on=received_on,
        earmark_kind=earmark_kind.value if earmark_kind else None,
        earmark_value=earmark_value or None,
        message=message,
        recorded_by=actor,
    )
    store.add(session, row)
    # The number follows the row's id: unique, and in the order donations were recorded.
    row.receipt_number = f"CF-{received_on.year}-{row.id:07d}"
    session.flush()
    # The audit head before the ledger, as in every transaction that touches both.
    _audit(
        session,
        actor,
        "payers.donation",
        "donation",
        row.receipt_number,
        {
            "amount": amount,
            "received_on": received_on.isoformat(),
            "earmark": None if earmark_kind is None else f"{earmark_kind.value}:{earmark_value}",
        },
    )
    store.add_transfer(
        session,
        ledger.donation(row.id, amount, row.receipt_number),
        actor=actor,
        note=f"receipt {row.receipt_number}",
    )
    return row


@dataclass(frozen=True, slots=True)
class DonationStanding:
    donation: Donation
    given: int  # what left it for patients' care, net of reversals
    held: int  # what it still holds


def donations(session: Session) -> list[DonationStanding]:
    return [
        DonationStanding(d, d.amount - held, held) for d, held in store.donations_with_held(session)
    ]


def donation(session: Session, receipt: str) -> DonationStanding:
    row = store.donation_by_receipt(session, receipt)
    if row is None:
        raise NotFoundError(
            f"Donation {receipt}", code="payers.no-donation", params={"receipt": receipt}
        )
    held = store.account_balance(session, ledger.donation_account(row.id))
    return DonationStanding(row, row.amount - held, held)


@dataclass(frozen=True, slots=True)
class ReportRow:
    month: str  # YYYY-MM of the service
    centre: str
    document_kind: str
    line_kind: str
    patients: int
    services: int
    amount: int


def donor_report(
    session: Session, *, receipt: str, actor: str
) -> tuple[DonationStanding, list[ReportRow]]:
    """What a donation paid for, by month, centre and kind of service; never who."""
    standing = donation(session, receipt)
    rows = [ReportRow(*row) for row in store.donation_uses(session, standing.donation.id)]
    _audit(session, actor, "payers.donor-report", "donation", receipt, {})
    return standing, [row for row in rows if row.amount]


def _audit(
    session: Session,
    actor: str,
    action: str,
    subject_type: str,
    subject_id: str,
    details: dict[str, object],
) -> None:
    audit.append(
        session,
        [
            audit.Record(
                actor=actor,
                action=action,
                subject_type=subject_type,
                subject_id=subject_id,
                details=details,
            )
        ],
    )
