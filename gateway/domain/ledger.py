"""The payers' money as double entry, pure: transfers made of postings that balance.

Every movement is a transfer whose debits equal its credits; balances are derived by
adding postings up and never typed; a transfer is never changed, a reversal is a new
transfer with each posting's sides swapped. Account codes name what holds the money:

- ``donation:<id>``: what a donation still holds (never below zero)
- ``fund:<programme>``: the charity programme, through which donations pay
- ``insurer:<code>``: what a supplementary insurer owes for the shares it pays
- ``patients:<centre>``: what the patients of a centre still owe it themselves
- ``centre:<code>``: a centre's receivable for its patients' shares, by whoever pays
- ``donors``: where donations come from (its balance is minus all that was given)
- ``paid:<code>``: what the settlement has paid a centre from the fund
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from gateway.domain.payers import FundAllocation, SupplementarySplit

DONORS = "donors"


def donation_account(donation_id: int) -> str:
    return f"donation:{donation_id}"


def fund_account(programme: str) -> str:
    return f"fund:{programme}"


def insurer_account(insurer: str) -> str:
    return f"insurer:{insurer}"


def patients_account(centre: str) -> str:
    return f"patients:{centre}"


def centre_account(centre: str) -> str:
    return f"centre:{centre}"


def paid_account(centre: str) -> str:
    return f"paid:{centre}"


class UnbalancedError(ValueError):
    """A transfer whose debits and credits differ, or with a posting of no amount."""


@dataclass(frozen=True, slots=True)
class Posting:
    account: str
    debit: int = 0
    credit: int = 0
    line_no: int | None = None

    @property
    def amount(self) -> int:
        return self.debit or self.credit


@dataclass(frozen=True, slots=True)
class TransferDraft:
    """A transfer to store: ``key`` is unique (a redelivered split finds it and stops);
    ``payer`` the account whose share it carries, for statements and the view."""

    key: str
    kind: str  # donation, split, reversal, settlement
    payer: str
    postings: tuple[Posting, ...]

    def check(self) -> None:
        for p in self.postings:
            if p.debit < 0 or p.credit < 0 or (p.debit == 0) == (p.credit == 0):
                raise UnbalancedError(f"{self.key}: a posting is one positive debit or credit")
        debits = sum(p.debit for p in self.postings)
        credits = sum(p.credit for p in self.postings)
        if debits != credits:
            raise UnbalancedError(f"{self.key}: debits {debits} != credits {credits}")


def transfer(key: str, kind: str, payer: str, postings: Iterable[Posting]) -> TransferDraft:
    """A checked transfer; postings of no amount are left out."""
    draft = TransferDraft(key, kind, payer, tuple(p for p in postings if p.debit or p.credit))
    draft.check()
    return draft


def move(source: str, target: str, amount: int, line_no: int | None = None) -> list[Posting]:
    """``amount`` leaves ``source`` (a debit) and reaches ``target`` (a credit)."""
    if not amount:
        return []
    return [
        Posting(source, debit=amount, line_no=line_no),
        Posting(target, credit=amount, line_no=line_no),
    ]


def reversal(original: TransferDraft) -> TransferDraft:
    """The transfer that undoes ``original``: each posting with its sides swapped."""
    return transfer(
        f"reverse/{original.key}",
        "reversal",
        original.payer,
        (Posting(p.account, p.credit, p.debit, p.line_no) for p in original.postings),
    )


def donation(donation_id: int, amount: int, receipt: str) -> TransferDraft:
    return transfer(
        f"donation/{receipt}",
        "donation",
        DONORS,
        move(DONORS, donation_account(donation_id), amount),
    )


def split_transfers(
    *,
    document: str,
    round_no: int,
    centre: str,
    split: SupplementarySplit,
    programme: str | None = None,
    fund: FundAllocation | None = None,
) -> list[TransferDraft]:
    """The transfers of one document's split: one per payer (each policy, the fund, the
    patient), keyed by document, round and payer; a payer with nothing to pay has none."""
    prefix = f"split/{document}/{round_no}"
    target = centre_account(centre)
    drafts = []
    for payment in split.payments:
        account = insurer_account(payment.insurer)
        postings = [
            p for line_no, amount in payment.lines for p in move(account, target, amount, line_no)
        ]
        drafts.append(transfer(f"{prefix}/policy-{payment.policy_id}", "split", account, postings))
    remaining = [(line.line_no, line.patient_share) for line in split.remaining]
    if fund is not None and programme is not None:
        account = fund_account(programme)
        postings = [
            p
            for draw in fund.draws
            for p in move(donation_account(draw.donation_id), account, draw.amount, draw.line_no)
        ]
        postings += [
            p for line_no, amount in fund.covered for p in move(account, target, amount, line_no)
        ]
        drafts.append(transfer(f"{prefix}/fund-{programme}", "split", account, postings))
        remaining = list(fund.remaining)
    patients = patients_account(centre)
    postings = [p for line_no, amount in remaining for p in move(patients, target, amount, line_no)]
    drafts.append(transfer(f"{prefix}/patient", "split", patients, postings))
    return [draft for draft in drafts if draft.postings]


def balances(transfers: Iterable[TransferDraft]) -> dict[str, int]:
    """Each account's balance, credits less debits, added up from the postings."""
    out: dict[str, int] = {}
    for draft in transfers:
        for p in draft.postings:
            out[p.account] = out.get(p.account, 0) + p.credit - p.debit
    return out


def per_line(draft: TransferDraft) -> dict[int, int]:
    """What a split transfer's payer pays per line: its credits to the centre."""
    out: dict[int, int] = {}
    for p in draft.postings:
        if p.account.startswith("centre:") and p.line_no is not None:
            out[p.line_no] = out.get(p.line_no, 0) + p.credit - p.debit
    return out


def totals(drafts: Sequence[TransferDraft]) -> int:
    return sum(sum(p.debit for p in d.postings) for d in drafts)
