"""The split of an approved document's patient share, in the decision's transaction.

``split_document`` runs where a document becomes APPROVED (pricing's auto-approval and an
auditor's decision); it writes one balanced transfer per payer, keyed by document, round
and payer, so a redelivered task finds the split and writes nothing. A decision that
leaves an approved document (an appeal denied, or approved again with other figures)
reverses the live split with new transfers and, when approved, splits anew.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.orm import Session

from gateway import metrics
from gateway.audit import chain as audit
from gateway.domain import ledger
from gateway.domain.lifecycle import DocumentStatus
from gateway.domain.payers import (
    UNCOVERED_REASONS,
    Donation,
    EarmarkKind,
    FundAllocation,
    FundCase,
    Policy,
    ShareLine,
    SupplementarySplit,
    allocate_fund,
    benefit_year,
    donation_draws,
    split_supplementary,
)
from gateway.kit.db import after_commit
from gateway.payers import repository as store
from gateway.storage.models import Centre, CharityEnrolment, CharityProgramme, Document


def policy_ref(insurer: str, number: str) -> str:
    return f"{insurer}/{number}"


def split_approved(session: Session, *, document_ids: Sequence[uuid.UUID], actor: str) -> None:
    """Split the documents just approved whose patients have any further payer."""
    if not document_ids:
        return
    documents = store.documents(session, document_ids)
    people = store.patients_with_payers(session, [d.patient_national_id for d in documents])
    for document in documents:
        if document.patient_national_id in people:
            split_document(session, document_id=document.id, actor=actor)


def split_document(session: Session, *, document_id: uuid.UUID, actor: str) -> str:
    """Split an approved document's patient share over its payers: "split", or why not
    ("already-split", "not-approved", "nothing-owed", "no-payers")."""
    document = store.document(session, document_id)
    if document is None or document.status != DocumentStatus.APPROVED:
        return _counted(session, "not-approved")
    store.lock_ledger(session)
    if store.split_transfers(session, document.id):
        return _counted(session, "already-split")
    lines = [
        ShareLine(r.line_no, r.copayment, r.uncovered)
        for r in store.share_rows(session, document.id, UNCOVERED_REASONS)
    ]
    if not sum(line.patient_share for line in lines):
        return _counted(session, "nothing-owed")
    centre = store.centre_of(session, document.centre_id)
    start, end = benefit_year(document.service_date)
    held = store.policies_in_force(session, document.patient_national_id, document.service_date)
    refs = {row.id: policy_ref(row.insurer_code, row.policy_number) for row in held}
    policies = [
        Policy(
            policy_id=row.id,
            insurer=row.insurer_code,
            copay_share=row.copay_share,
            uncovered_share=row.uncovered_share,
            annual_ceiling=row.annual_ceiling,
            used=store.paid_this_year(
                session,
                payer_ref=refs[row.id],
                national_id=document.patient_national_id,
                start=start,
                end=end,
            ),
        )
        for row in held
    ]
    split = split_supplementary(lines, policies)
    enrolled = _programme_for(session, document, centre)
    fund: FundAllocation | None = None
    owed = [(line.line_no, line.patient_share) for line in split.remaining]
    if enrolled is not None and sum(amount for _, amount in owed) > 0:
        enrolment, programme = enrolled
        used = store.paid_this_year(
            session,
            payer_ref=programme.code,
            national_id=document.patient_national_id,
            start=start,
            end=end,
        )
        case = FundCase(
            programme=programme.code,
            province=centre.province,
            diagnosis_group=enrolment.diagnosis_group,
            centre=centre.code,
            ceiling_left=programme.patient_annual_ceiling - used,
        )
        fund = allocate_fund(owed, case, _donations(session))
    if not policies and fund is None:
        return _counted(session, "no-payers")
    round_no = store.last_round(session, document.id) + 1
    drafts = ledger.split_transfers(
        document=str(document.id),
        round_no=round_no,
        centre=centre.code,
        split=split,
        programme=None if enrolled is None else enrolled[1].code,
        fund=fund,
    )
    by_policy = {f"policy-{p}": ref for p, ref in refs.items()}
    notes = _notes(split, fund, refs, None if enrolled is None else enrolled[1].code)
    for n, draft in enumerate(drafts):
        suffix = draft.key.rsplit("/", 1)[1]
        ref = by_policy.get(suffix)
        if ref is None and enrolled is not None and suffix.startswith("fund-"):
            ref = enrolled[1].code
        # What the remittance must say (a ceiling reached, a fund short) rides on the
        # patient's transfer, or the last one when the patient owes nothing.
        told = suffix == "patient" or n == len(drafts) - 1
        store.add_transfer(
            session,
            draft,
            actor=actor,
            document_id=document.id,
            round_no=round_no,
            payer_ref=ref,
            note="; ".join(notes) if told else "",
        )
        notes = [] if told else notes
    audit.append(session, [_split_record(document, actor, round_no, split, fund, drafts)])
    return _counted(session, "split")


def _notes(
    split: SupplementarySplit,
    fund: FundAllocation | None,
    refs: dict[int, str],
    programme: str | None,
) -> list[str]:
    notes = [
        f"supplementary policy {refs[p.policy_id]} reached its yearly ceiling"
        for p in split.payments
        if p.capped
    ]
    if fund is not None and fund.ceiling_reached:
        notes.append(f"the patient's yearly ceiling in programme {programme} is reached")
    if fund is not None and fund.short:
        notes.append(
            f"the fund of programme {programme} was short: it covered {fund.total:,} rials;"
            " the rest stays with the patient"
        )
    return notes


@dataclass(frozen=True, slots=True)
class LineShare:
    """What one payer pays of one line of a document's live split."""

    line_no: int
    kind: str  # supplementary, fund, patient
    payer: str  # the insurer's code, the programme's code, or "patient"
    amount: int


KINDS = {"insurer": "supplementary", "fund": "fund", "patients": "patient"}


def shares_of(
    session: Session, document_ids: Sequence[uuid.UUID]
) -> tuple[dict[uuid.UUID, list[LineShare]], dict[uuid.UUID, list[str]]]:
    """The live splits of the documents, per line and payer, and their notes; one query."""
    shares: dict[uuid.UUID, dict[tuple[int, str, str], int]] = {}
    notes: dict[uuid.UUID, list[str]] = {}
    for document_id, code, _, line_no, amount, note in store.document_splits(session, document_ids):
        prefix, _, name = code.partition(":")
        kind = KINDS.get(prefix, prefix)
        key = (line_no, kind, "patient" if kind == "patient" else name)
        held = shares.setdefault(document_id, {})
        held[key] = held.get(key, 0) + amount
        if note and note not in notes.setdefault(document_id, []):
            notes[document_id].append(note)
    out = {
        document_id: [
            LineShare(n, kind, payer, amount) for (n, kind, payer), amount in held.items()
        ]
        for document_id, held in shares.items()
    }
    return out, notes


def _counted(session: Session, outcome: str) -> str:
    after_commit(session, metrics.PAYER_SPLITS.labels(outcome).inc)
    return outcome


def _programme_for(
    session: Session, document: Document, centre: Centre
) -> tuple[CharityEnrolment, CharityProgramme] | None:
    """The patient's enrolment in force whose programme pays this centre for the group."""
    for enrolment, programme in store.enrolments_in_force(
        session, document.patient_national_id, document.service_date
    ):
        if programme.province is not None and programme.province != centre.province:
            continue
        if programme.centres and centre.code not in programme.centres:
            continue
        if enrolment.diagnosis_group in programme.diagnosis_groups:
            return enrolment, programme
    return None


def _donations(session: Session) -> list[Donation]:
    return [
        Donation(
            donation_id=row.id,
            available=available,
            received_on=row.received_on,
            earmark_kind=EarmarkKind(row.earmark_kind) if row.earmark_kind else None,
            earmark_value=row.earmark_value,
        )
        for row, available in store.donations_available(session)
    ]


def _split_record(
    document: Document,
    actor: str,
    round_no: int,
    split: SupplementarySplit,
    fund: FundAllocation | None,
    drafts: list[ledger.TransferDraft],
) -> audit.Record:
    return audit.Record(
        actor=actor,
        action="payers.split",
        subject_type="document",
        subject_id=str(document.id),
        details={
            "round": round_no,
            "payers": {d.payer: sum(ledger.per_line(d).values()) for d in drafts},
            "capped_policies": [p.policy_id for p in split.payments if p.capped],
            "donations": {}
            if fund is None
            else {str(k): v for k, v in donation_draws(fund.draws).items()},
            "fund_short": bool(fund and fund.short),
            "ceiling_reached": bool(fund and fund.ceiling_reached),
        },
    )


def reverse_document(session: Session, *, document_id: uuid.UUID, actor: str, reason: str) -> int:
    """Undo the document's live split with new transfers; how many were reversed."""
    store.lock_ledger(session)
    live = store.split_transfers(session, document_id)
    if not live:
        return 0
    postings = store.postings_of(session, [transfer.id for transfer, _ in live])
    undone = {}
    for transfer, payer in live:
        original = ledger.TransferDraft(
            transfer.key, transfer.kind, payer, tuple(postings[transfer.id])
        )
        draft = ledger.reversal(original)
        store.add_transfer(
            session,
            draft,
            actor=actor,
            document_id=document_id,
            round_no=transfer.round_no,
            payer_ref=transfer.payer_ref,
            reverses_id=transfer.id,
            note=reason,
        )
        undone[payer] = sum(ledger.per_line(original).values())
    audit.append(
        session,
        [
            audit.Record(
                actor=actor,
                action="payers.reversal",
                subject_type="document",
                subject_id=str(document_id),
                details={"reason": reason, "payers": undone},
            )
        ],
    )
    after_commit(session, lambda: metrics.PAYER_REVERSALS.inc(len(live)))
    return len(live)


def after_decision(
    session: Session, *, document_id: uuid.UUID, approved: bool, actor: str, reason: str
) -> None:
    """A decision's effect on the payers: any live split is reversed (its figures or its
    approval are gone); an approval splits anew."""
    reverse_document(session, document_id=document_id, actor=actor, reason=reason)
    if approved:
        split_document(session, document_id=document_id, actor=actor)


def fund_shares(session: Session, document_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, int]:
    """What the charity fund pays of each document (its live split)."""
    return store.fund_shares(session, document_ids)


def pay_fund_share(
    session: Session, *, order_id: int, centre: str, amount: int, actor: str
) -> None:
    """The settlement paid the centre the fund's share of a payment order: the centre's
    receivable from the fund is settled (a transfer to ``paid:<centre>``), once per order."""
    draft = ledger.transfer(
        f"settlement/{order_id}/fund",
        "settlement",
        ledger.centre_account(centre),
        ledger.move(ledger.centre_account(centre), ledger.paid_account(centre), amount),
    )
    if not store.transfer_exists(session, draft.key):
        store.add_transfer(session, draft, actor=actor, note=f"payment order {order_id}")
