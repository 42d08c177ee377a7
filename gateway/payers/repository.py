"""All SQL of the payers: policies, programmes, enrolments, donations and the ledger.

The ledger's balances live on ``ledger_accounts`` (debits, credits), changed only here and
only in the transaction that inserts the entries they sum; a CHECK keeps a donation's
account from giving more than it received. Accounts drawn from are locked first, in id
order, so two transactions drawing on the same donation take turns.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy import String, and_, cast, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from gateway.domain import ledger
from gateway.storage.models import (
    Centre,
    CharityEnrolment,
    CharityProgramme,
    Document,
    DocumentLine,
    Donation,
    LedgerAccount,
    LedgerEntry,
    LedgerTransfer,
    LineDeduction,
    LinePricing,
    SupplementaryPolicy,
)

DONATION_PREFIX = "donation:"


@dataclass(frozen=True, slots=True)
class ShareRow:
    line_no: int
    copayment: int
    uncovered: int


def lock_ledger(session: Session) -> None:
    """One split or reversal at a time: the ``donors`` account's row is locked first, so the
    accounts a split touches later (insurers, centres, donations) are never taken in two
    orders by two transactions. Every such transaction has taken the audit chain's head
    before (the decision's journal), so the order is always: head, ledger, accounts."""
    account_ids(session, [ledger.DONORS])
    session.execute(
        select(LedgerAccount.id).where(LedgerAccount.code == ledger.DONORS).with_for_update()
    )


def centre_of(session: Session, centre_id: int) -> Centre:
    return session.get_one(Centre, centre_id)


def share_rows(
    session: Session, document_id: uuid.UUID, uncovered_reasons: Iterable[str]
) -> list[ShareRow]:
    """Each priced line's co-payment and the deductions the patient owes (uncovered)."""
    uncovered = (
        select(LineDeduction.line_id, func.sum(LineDeduction.amount).label("amount"))
        .where(
            LineDeduction.document_id == document_id,
            LineDeduction.reason.in_(list(uncovered_reasons)),
        )
        .group_by(LineDeduction.line_id)
        .subquery()
    )
    rows = session.execute(
        select(DocumentLine.line_no, LinePricing.copayment_amount, uncovered.c.amount)
        .join(LinePricing, LinePricing.line_id == DocumentLine.id)
        .outerjoin(uncovered, uncovered.c.line_id == DocumentLine.id)
        .where(DocumentLine.document_id == document_id)
        .order_by(DocumentLine.line_no)
    )
    return [ShareRow(n, int(copay), int(extra or 0)) for n, copay, extra in rows]


def patients_with_payers(session: Session, national_ids: Sequence[str]) -> set[str]:
    """Which of these people hold a supplementary policy or a charity enrolment at all."""
    if not national_ids:
        return set()
    ids = list(set(national_ids))
    found = set(
        session.scalars(
            select(SupplementaryPolicy.national_id).where(SupplementaryPolicy.national_id.in_(ids))
        )
    )
    found |= set(
        session.scalars(
            select(CharityEnrolment.national_id).where(CharityEnrolment.national_id.in_(ids))
        )
    )
    return found


def policies_in_force(session: Session, national_id: str, on: date) -> list[SupplementaryPolicy]:
    """The person's policies on the day, in policy order, locked: two documents of one
    person split at once take turns on the ceiling."""
    return list(
        session.scalars(
            select(SupplementaryPolicy)
            .where(
                SupplementaryPolicy.national_id == national_id,
                SupplementaryPolicy.valid_from <= on,
                or_(SupplementaryPolicy.valid_to.is_(None), SupplementaryPolicy.valid_to >= on),
            )
            .order_by(SupplementaryPolicy.priority, SupplementaryPolicy.id)
            .with_for_update()
        )
    )


def enrolments_in_force(
    session: Session, national_id: str, on: date
) -> list[tuple[CharityEnrolment, CharityProgramme]]:
    rows = session.execute(
        select(CharityEnrolment, CharityProgramme)
        .join(CharityProgramme, CharityProgramme.id == CharityEnrolment.programme_id)
        .where(
            CharityEnrolment.national_id == national_id,
            CharityEnrolment.valid_from <= on,
            or_(CharityEnrolment.valid_to.is_(None), CharityEnrolment.valid_to >= on),
        )
        .order_by(CharityProgramme.id, CharityEnrolment.id)
        .with_for_update(of=CharityEnrolment)
    )
    return [(enrolment, programme) for enrolment, programme in rows]


def paid_this_year(
    session: Session, *, payer_ref: str, national_id: str, start: date, end: date
) -> int:
    """What a payer (a policy, a programme) paid for the person's care in [start, end]:
    the payer's credits to centres, less their reversals, from the entries."""
    total = session.scalar(
        select(func.coalesce(func.sum(LedgerEntry.credit - LedgerEntry.debit), 0))
        .join(LedgerTransfer, LedgerTransfer.id == LedgerEntry.transfer_id)
        .join(LedgerAccount, LedgerAccount.id == LedgerEntry.account_id)
        .join(Document, Document.id == LedgerTransfer.document_id)
        .where(
            LedgerAccount.kind == "centre",
            LedgerTransfer.payer_ref == payer_ref,
            Document.patient_national_id == national_id,
            Document.service_date >= start,
            Document.service_date <= end,
        )
    )
    return int(total or 0)


def donations_available(session: Session) -> list[tuple[Donation, int]]:
    """Every donation that still holds money, with what it holds, its account locked."""
    held = LedgerAccount.credits - LedgerAccount.debits
    rows = session.execute(
        select(Donation, held)
        .join(LedgerAccount, LedgerAccount.code == DONATION_PREFIX + cast(Donation.id, String))
        .where(held > 0)
        .order_by(LedgerAccount.id)
        .with_for_update(of=LedgerAccount)
    )
    return [(donation, int(amount)) for donation, amount in rows]


def split_transfers(session: Session, document_id: uuid.UUID) -> list[tuple[LedgerTransfer, str]]:
    """The document's split transfers not reversed, with their payer's account code, in
    the order they were made."""
    reversed_ids = select(LedgerTransfer.reverses_id).where(LedgerTransfer.reverses_id.is_not(None))
    rows = session.execute(
        select(LedgerTransfer, LedgerAccount.code)
        .join(LedgerAccount, LedgerAccount.id == LedgerTransfer.payer_account_id)
        .where(
            LedgerTransfer.document_id == document_id,
            LedgerTransfer.kind == "split",
            LedgerTransfer.id.not_in(reversed_ids),
        )
        .order_by(LedgerTransfer.id)
    )
    return [(transfer, code) for transfer, code in rows]


def last_round(session: Session, document_id: uuid.UUID) -> int:
    found = session.scalar(
        select(func.max(LedgerTransfer.round_no)).where(LedgerTransfer.document_id == document_id)
    )
    return int(found or 0)


def postings_of(session: Session, transfer_ids: Sequence[int]) -> dict[int, list[ledger.Posting]]:
    out: dict[int, list[ledger.Posting]] = {t: [] for t in transfer_ids}
    if not transfer_ids:
        return out
    rows = session.execute(
        select(LedgerEntry.transfer_id, LedgerAccount.code, LedgerEntry)
        .join(LedgerAccount, LedgerAccount.id == LedgerEntry.account_id)
        .where(LedgerEntry.transfer_id.in_(list(transfer_ids)))
        .order_by(LedgerEntry.id)
    )
    for transfer_id, code, entry in rows:
        out[transfer_id].append(ledger.Posting(code, entry.debit, entry.credit, entry.line_no))
    return out


def account_ids(session: Session, codes: Iterable[str]) -> dict[str, int]:
    """The accounts of these codes, made when new (kind: the code's prefix)."""
    wanted = sorted(set(codes))
    if not wanted:
        return {}
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    rows = [
        {
            "code": code,
            "kind": code.split(":", 1)[0],
            "floor_zero": code.startswith("donation:"),
            "debits": 0,
            "credits": 0,
            "created_at": func.now(),
        }
        for code in wanted
    ]
    session.execute(
        insert(LedgerAccount).values(rows).on_conflict_do_nothing(index_elements=["code"])
    )
    found = session.execute(
        select(LedgerAccount.code, LedgerAccount.id).where(LedgerAccount.code.in_(wanted))
    )
    return dict(found.all())


def transfer_exists(session: Session, key: str) -> bool:
    return session.scalar(select(LedgerTransfer.id).where(LedgerTransfer.key == key)) is not None


def add_transfer(
    session: Session,
    draft: ledger.TransferDraft,
    *,
    actor: str,
    document_id: uuid.UUID | None = None,
    round_no: int | None = None,
    payer_ref: str | None = None,
    reverses_id: int | None = None,
    note: str = "",
) -> LedgerTransfer:
    """Store a checked transfer, its entries, and the balances of the accounts it moves."""
    draft.check()
    ids = account_ids(session, [draft.payer, *(p.account for p in draft.postings)])
    row = LedgerTransfer(
        key=draft.key,
        kind=draft.kind,
        payer_account_id=ids[draft.payer],
        payer_ref=payer_ref,
        document_id=document_id,
        round_no=round_no,
        reverses_id=reverses_id,
        note=note,
        actor=actor,
    )
    session.add(row)
    session.flush()
    session.add_all(
        LedgerEntry(
            transfer_id=row.id,
            account_id=ids[p.account],
            line_no=p.line_no,
            debit=p.debit,
            credit=p.credit,
        )
        for p in draft.postings
    )
    moved: dict[int, list[int]] = {}
    for p in draft.postings:
        sums = moved.setdefault(ids[p.account], [0, 0])
        sums[0] += p.debit
        sums[1] += p.credit
    for account_id in sorted(moved):
        debit, credit = moved[account_id]
        session.execute(
            update(LedgerAccount)
            .where(LedgerAccount.id == account_id)
            .values(debits=LedgerAccount.debits + debit, credits=LedgerAccount.credits + credit)
        )
    session.flush()
    return row


def balances_from_entries(session: Session) -> dict[str, tuple[int, int]]:
    """Every account's (debits, credits) added up from the entries: what the balance
    columns must equal."""
    rows = session.execute(
        select(
            LedgerAccount.code,
            func.coalesce(func.sum(LedgerEntry.debit), 0),
            func.coalesce(func.sum(LedgerEntry.credit), 0),
        )
        .outerjoin(LedgerEntry, LedgerEntry.account_id == LedgerAccount.id)
        .group_by(LedgerAccount.code)
    )
    return {code: (int(d), int(c)) for code, d, c in rows}


def balances_kept(session: Session) -> dict[str, tuple[int, int]]:
    rows = session.execute(select(LedgerAccount.code, LedgerAccount.debits, LedgerAccount.credits))
    return {code: (int(d), int(c)) for code, d, c in rows}


def account_balance(session: Session, code: str) -> int:
    """Credits less debits of one account; 0 when it has none."""
    found = session.execute(
        select(LedgerAccount.credits - LedgerAccount.debits).where(LedgerAccount.code == code)
    ).scalar()
    return int(found or 0)


def unbalanced_transfers(session: Session) -> list[int]:
    rows = session.scalars(
        select(LedgerEntry.transfer_id)
        .group_by(LedgerEntry.transfer_id)
        .having(func.sum(LedgerEntry.debit) != func.sum(LedgerEntry.credit))
    )
    return list(rows)


def document_splits(
    session: Session, document_ids: Sequence[uuid.UUID]
) -> list[tuple[uuid.UUID, str, str | None, int, int, str]]:
    """(document, payer account code, payer ref, line, amount, note) of the documents' live
    split transfers: what each payer pays per line, as credits to the centre."""
    if not document_ids:
        return []
    reversed_ids = select(LedgerTransfer.reverses_id).where(LedgerTransfer.reverses_id.is_not(None))
    payer = LedgerAccount.__table__.alias("payer")
    target = LedgerAccount.__table__.alias("target")
    rows = session.execute(
        select(
            LedgerTransfer.document_id,
            payer.c.code,
            LedgerTransfer.payer_ref,
            LedgerEntry.line_no,
            LedgerEntry.credit,
            LedgerTransfer.note,
        )
        .join(LedgerEntry, LedgerEntry.transfer_id == LedgerTransfer.id)
        .join(payer, payer.c.id == LedgerTransfer.payer_account_id)
        .join(target, target.c.id == LedgerEntry.account_id)
        .where(
            LedgerTransfer.document_id.in_(list(document_ids)),
            LedgerTransfer.kind == "split",
            LedgerTransfer.id.not_in(reversed_ids),
            and_(target.c.kind == "centre", LedgerEntry.credit > 0),
        )
        .order_by(LedgerTransfer.id, LedgerEntry.line_no)
    )
    return [
        (d, code, ref, int(n or 0), int(amount), note) for d, code, ref, n, amount, note in rows
    ]


def document(session: Session, document_id: uuid.UUID) -> Document | None:
    return session.get(Document, document_id)


def documents(session: Session, document_ids: Sequence[uuid.UUID]) -> list[Document]:
    return list(
        session.scalars(
            select(Document).where(Document.id.in_(list(document_ids))).order_by(Document.id)
        )
    )


def add(session: Session, row: object) -> None:
    session.add(row)
    session.flush()


def programme(session: Session, code: str) -> CharityProgramme | None:
    return session.scalar(select(CharityProgramme).where(CharityProgramme.code == code))


def programmes(session: Session) -> list[CharityProgramme]:
    return list(session.scalars(select(CharityProgramme).order_by(CharityProgramme.code)))


def centre_codes(session: Session, codes: Sequence[str]) -> set[str]:
    if not codes:
        return set()
    return set(session.scalars(select(Centre.code).where(Centre.code.in_(list(codes)))))


def donation_by_receipt(session: Session, receipt: str) -> Donation | None:
    return session.scalar(select(Donation).where(Donation.receipt_number == receipt))


def donations_with_held(session: Session) -> list[tuple[Donation, int]]:
    held = LedgerAccount.credits - LedgerAccount.debits
    rows = session.execute(
        select(Donation, func.coalesce(held, 0))
        .outerjoin(LedgerAccount, LedgerAccount.code == DONATION_PREFIX + cast(Donation.id, String))
        .order_by(Donation.received_on, Donation.id)
    )
    return [(d, int(amount)) for d, amount in rows]


def donation_uses(
    session: Session, donation_id: int
) -> list[tuple[str, str, str, str, int, int, int]]:
    """What left the donation's account for care, net of reversals, per service month,
    centre, document kind and line kind: (month, centre, kind, line kind, patients,
    services, amount). Reads the entries of the donation's account only."""
    month = func.substr(cast(Document.service_date, String), 1, 7)
    rows = session.execute(
        select(
            month,
            Centre.code,
            Document.kind,
            DocumentLine.code_type,
            func.count(func.distinct(Document.patient_national_id)),
            func.count(func.distinct(DocumentLine.id)),
            func.sum(LedgerEntry.debit - LedgerEntry.credit),
        )
        .join(LedgerTransfer, LedgerTransfer.id == LedgerEntry.transfer_id)
        .join(LedgerAccount, LedgerAccount.id == LedgerEntry.account_id)
        .join(Document, Document.id == LedgerTransfer.document_id)
        .join(Centre, Centre.id == Document.centre_id)
        .join(
            DocumentLine,
            and_(
                DocumentLine.document_id == Document.id, DocumentLine.line_no == LedgerEntry.line_no
            ),
        )
        .where(LedgerAccount.code == f"{DONATION_PREFIX}{donation_id}")
        .group_by(month, Centre.code, Document.kind, DocumentLine.code_type)
        .order_by(month, Centre.code, Document.kind, DocumentLine.code_type)
    )
    return [
        (str(m), str(c), str(k), str(t), int(p), int(s), int(a or 0))
        for m, c, k, t, p, s, a in rows
    ]


def insurer_lines(
    session: Session, *, insurer: str, start: date, end: date
) -> list[tuple[uuid.UUID, str, str, date, str, str, str | None, int, str, str, int]]:
    """The lines a supplementary insurer pays in documents of service dates in [start, end],
    from its live split transfers: (document, number, centre, service date, national id,
    insurance number, policy, line, code type, code, amount)."""
    reversed_ids = select(LedgerTransfer.reverses_id).where(LedgerTransfer.reverses_id.is_not(None))
    payer = LedgerAccount.__table__.alias("payer")
    target = LedgerAccount.__table__.alias("target")
    rows = session.execute(
        select(
            Document.id,
            Document.external_id,
            Centre.code,
            Document.service_date,
            Document.patient_national_id,
            Document.insurance_number,
            LedgerTransfer.payer_ref,
            LedgerEntry.line_no,
            DocumentLine.code_type,
            DocumentLine.code,
            LedgerEntry.credit,
        )
        .join(LedgerTransfer, LedgerTransfer.document_id == Document.id)
        .join(Centre, Centre.id == Document.centre_id)
        .join(payer, payer.c.id == LedgerTransfer.payer_account_id)
        .join(LedgerEntry, LedgerEntry.transfer_id == LedgerTransfer.id)
        .join(target, target.c.id == LedgerEntry.account_id)
        .join(
            DocumentLine,
            and_(
                DocumentLine.document_id == Document.id, DocumentLine.line_no == LedgerEntry.line_no
            ),
        )
        .where(
            payer.c.code == f"insurer:{insurer}",
            LedgerTransfer.kind == "split",
            LedgerTransfer.id.not_in(reversed_ids),
            target.c.kind == "centre",
            LedgerEntry.credit > 0,
            Document.service_date >= start,
            Document.service_date <= end,
        )
        .order_by(Document.service_date, Document.external_id, Document.id, LedgerEntry.line_no)
    )
    return [
        (d, n, c, s, nid, ins, ref, int(line or 0), t, code, int(amount))
        for d, n, c, s, nid, ins, ref, line, t, code, amount in rows
    ]


def fund_shares(session: Session, document_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, int]:
    """What the fund pays of each document's live split (its credits to the centre)."""
    out: dict[uuid.UUID, int] = {}
    for document_id, code, _, _, amount, _ in document_splits(session, document_ids):
        if code.startswith("fund:"):
            out[document_id] = out.get(document_id, 0) + amount
    return out
