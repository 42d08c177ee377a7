"""The priced-document view: one document with its lines, each line's computation, the
deductions by reason, the totals and the history, built in one place from the stored rows.

The JSON API, the workspace, the remittance advice, the FHIR ClaimResponse and
ExplanationOfBenefit and the settlement statement all render this view, so no two of them
can disagree on a figure. Building it reads a fixed number of statements whatever the
number of documents or lines (``views_where``; the statements are in ``rows``); nothing is
read per line.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Protocol

from sqlalchemy import ColumnElement
from sqlalchemy.orm import Session

from gateway.documents import repository as rows
from gateway.domain import actors
from gateway.domain import documents as dm
from gateway.domain.money import round_rials
from gateway.domain.payers import UNCOVERED_REASONS
from gateway.domain.review import REVIEW_PREFIX
from gateway.payers import service as payers
from gateway.storage import repository
from gateway.storage.models import (
    Appeal,
    Centre,
    Document,
    DocumentLine,
    LineDeduction,
    LinePricing,
    LineReview,
    StatusEvent,
)


@dataclass(frozen=True, slots=True)
class Deduction:
    reason: str
    amount: int
    detail: str


@dataclass(frozen=True, slots=True)
class ReasonTotal:
    reason: str
    amount: int


def sum_by_reason(deductions: Iterable[tuple[str, int]]) -> tuple[ReasonTotal, ...]:
    """(reason, amount) pairs summed per reason, in reason order: the one place that does."""
    totals: dict[str, int] = defaultdict(int)
    for reason, amount in deductions:
        totals[reason] += amount
    return tuple(ReasonTotal(reason, totals[reason]) for reason in sorted(totals))


@dataclass(frozen=True, slots=True)
class Term:
    """One relative-value component of a unit price: units x K."""

    component: str
    units: str  # a decimal, as the tariff wrote it
    k: int

    @property
    def exact(self) -> Decimal:
        return Decimal(self.units) * self.k

    @property
    def amount(self) -> int:
        """In whole rials, rounded as pricing rounds."""
        return round_rials(self.exact)


@dataclass(frozen=True, slots=True)
class PayerShare:
    """What one further payer pays of a line's patient share (docs/payers.md)."""

    kind: str  # supplementary, fund, patient
    payer: str  # the supplementary insurer's code, the programme's code, or "patient"
    amount: int


@dataclass(frozen=True, slots=True)
class Computation:
    """How pricing (and any review since) arrived at a line's figures."""

    requested: int
    basis: str | None  # rvu, drug or package; None when deducted in full
    terms: tuple[Term, ...]
    tariff_unit_price: int | None
    allowed_quantity: int
    eligible: int
    deductions: tuple[Deduction, ...]
    copay_rate: Decimal
    copayment: int
    insurer_share: int
    explanation: str
    payers: tuple[PayerShare, ...] = ()  # the live split of the patient share; () if none
    copay_reason: str | None = None  # why the rate is not the centre's usual one

    @property
    def deducted(self) -> int:
        return sum(d.amount for d in self.deductions)

    @property
    def unit_based(self) -> bool:
        """Priced per unit, so a review may cut the quantity."""
        return self.basis in ("rvu", "drug") and self.allowed_quantity > 0

    @property
    def patient_share(self) -> int:
        """The co-payment and the uncovered deductions: what passes to the further payers."""
        owed = sum(d.amount for d in self.deductions if d.reason in UNCOVERED_REASONS)
        return self.copayment + owed

    @property
    def patient_pays(self) -> int:
        """What is left to the patient after the supplementary insurers and the fund."""
        return self.patient_share - sum(p.amount for p in self.payers if p.kind != "patient")

    @property
    def pricing_allowed(self) -> int:
        """What pricing allowed before any review: the ceiling of a reduction."""
        review = sum(d.amount for d in self.deductions if d.reason.startswith(REVIEW_PREFIX))
        return self.eligible + review


@dataclass(frozen=True, slots=True)
class Line:
    """A billed line and, once priced, its computation."""

    line_no: int
    code_type: str
    code: str
    description: str | None
    service_date: date
    quantity: int
    unit_price: int
    amount: int  # as billed: quantity x unit price
    computation: Computation | None = None

    @property
    def requested(self) -> int:
        return self.amount if self.computation is None else self.computation.requested


@dataclass(frozen=True, slots=True)
class Totals:
    """A priced document's figures: the sums of its lines' computations."""

    requested: int
    eligible: int
    deducted: int
    copayment: int
    insurer_share: int


@dataclass(frozen=True, slots=True)
class Tariff:
    version: int
    label: str


@dataclass(frozen=True, slots=True)
class Event:
    from_status: str | None
    to_status: str
    actor: str
    reason: str
    at: datetime


@dataclass(frozen=True, slots=True)
class Review:
    line_no: int
    action: str
    reason: str | None
    quantity: int | None
    eligible: int | None
    note: str
    actor: str
    at: datetime


@dataclass(frozen=True, slots=True)
class AppealView:
    reason: str
    lines: tuple[int, ...]
    actor: str
    at: datetime


@dataclass(frozen=True, slots=True)
class DocumentView:
    """One document as every reader shows it. ``totals`` is None until every line is
    priced; ``history``, ``reviews`` and ``appeals`` are empty when built without them."""

    id: uuid.UUID
    submission_id: uuid.UUID
    ordinal: int
    centre_code: str
    centre_name: str
    external_id: str
    kind: str
    purpose: str
    status: str
    source_path: str
    patient_national_id: str
    insurance_number: str
    physician_number: str
    physician_grade: str
    service_date: date
    admission_date: date | None
    discharge_date: date | None
    referral_code: str | None
    tracking_code: str | None
    package_code: str | None
    tariff: Tariff | None
    review: str | None  # why pricing approved it or sent it to review
    notes: tuple[str, ...]
    problems: tuple[dict[str, Any], ...]
    payment_order_id: int | None
    created_at: datetime
    updated_at: datetime
    priced_at: datetime | None
    decided_at: datetime | None
    lines: tuple[Line, ...]
    totals: Totals | None
    deductions_by_reason: tuple[ReasonTotal, ...]
    history: tuple[Event, ...] = ()
    reviews: tuple[Review, ...] = ()
    appeals: tuple[AppealView, ...] = ()
    payer_notes: tuple[str, ...] = ()  # what the split says: a ceiling reached, a fund short

    @property
    def requested(self) -> int:
        """What the centre asked, priced or not."""
        return sum(line.requested for line in self.lines)

    def priced_lines(self) -> list[tuple[Line, Computation]]:
        """Every line with its computation; empty until the document is priced."""
        return [(line, line.computation) for line in self.lines if line.computation is not None]

    def payer_totals(self) -> tuple[PayerShare, ...]:
        """Each further payer's share of the whole document, in the order first met."""
        sums: dict[tuple[str, str], int] = {}
        for _, computation in self.priced_lines():
            for share in computation.payers:
                key = (share.kind, share.payer)
                sums[key] = sums.get(key, 0) + share.amount
        return tuple(PayerShare(kind, payer, amount) for (kind, payer), amount in sums.items())


def totals_of(lines: Sequence[Line]) -> Totals | None:
    computations = [line.computation for line in lines]
    priced = [c for c in computations if c is not None]
    if not priced or len(priced) != len(computations):
        return None
    return Totals(
        requested=sum(c.requested for c in priced),
        eligible=sum(c.eligible for c in priced),
        deducted=sum(c.deducted for c in priced),
        copayment=sum(c.copayment for c in priced),
        insurer_share=sum(c.insurer_share for c in priced),
    )


# -- building views from the stored rows ---------------------------------------------------


def document_view(
    session: Session, document_id: uuid.UUID, centre_scope: int | None
) -> DocumentView | None:
    """One document's view; None when absent or not the given centre's."""
    where = Document.id == document_id
    if centre_scope is not None:
        where = where & (Document.centre_id == centre_scope)
    found = views_where(session, where)
    if not found:
        return None
    return found[0] if centre_scope is None else _as_seen_by_centre(session, found[0])


def _as_seen_by_centre(session: Session, view: DocumentView) -> DocumentView:
    """The view with staff named by role, never by user name (half of a login)."""
    recorded = [e.actor for e in view.history] + [r.actor for r in view.reviews]
    recorded += [a.actor for a in view.appeals]
    roles = repository.staff_roles(session, actors.user_names(recorded))

    def shown(actor: str) -> str:
        return actors.as_seen_by_centre(actor, roles)

    return replace(
        view,
        history=tuple(replace(e, actor=shown(e.actor)) for e in view.history),
        reviews=tuple(replace(r, actor=shown(r.actor)) for r in view.reviews),
        appeals=tuple(replace(a, actor=shown(a.actor)) for a in view.appeals),
    )


def views_where(
    session: Session, where: ColumnElement[bool], *, history: bool = True
) -> list[DocumentView]:
    """The views of the documents matching ``where`` (by service date, then number), in a
    fixed number of statements; ``history=False`` leaves out events, reviews and appeals."""
    found = rows.load(session, where, history=history)
    shares, notes = payers.shares_of(session, [document.id for document in found.documents])
    out = []
    for document in found.documents:
        lines = found.lines.get(document.id, [])
        numbers = {row.id: row.line_no for row in lines}
        version = found.tariffs.get(document.tariff_version_id or 0)
        split = _by_line(shares.get(document.id, []))
        out.append(
            _view(
                document,
                tuple(
                    _line(
                        row,
                        found.pricings.get(row.id),
                        found.deductions.get(row.id, []),
                        split.get(row.line_no, ()),
                    )
                    for row in lines
                ),
                None if version is None else Tariff(version.id, version.label),
                history=tuple(_event(e) for e in found.events.get(document.id, [])),
                reviews=tuple(_review(r, numbers) for r in found.reviews.get(document.id, [])),
                appeals=tuple(_appeal(a) for a in found.appeals.get(document.id, [])),
                payer_notes=tuple(notes.get(document.id, [])),
            )
        )
    return out


def _by_line(shares: list[payers.LineShare]) -> dict[int, tuple[PayerShare, ...]]:
    order = {"supplementary": 0, "fund": 1, "patient": 2}
    out: dict[int, list[PayerShare]] = defaultdict(list)
    for share in sorted(shares, key=lambda s: (s.line_no, order.get(s.kind, 3))):
        out[share.line_no].append(PayerShare(share.kind, share.payer, share.amount))
    return {line_no: tuple(found) for line_no, found in out.items()}


def _line(
    row: DocumentLine,
    priced: LinePricing | None,
    cuts: list[LineDeduction],
    split: tuple[PayerShare, ...] = (),
) -> Line:
    computation = None
    if priced is not None:
        computation = Computation(
            requested=priced.requested_amount,
            basis=priced.basis,
            terms=tuple(
                Term(str(t["component"]), str(t["units"]), int(t["k"])) for t in priced.terms or ()
            ),
            tariff_unit_price=priced.tariff_unit_price,
            allowed_quantity=priced.allowed_quantity,
            eligible=priced.eligible_amount,
            deductions=tuple(Deduction(d.reason, d.amount, d.detail) for d in cuts),
            copay_rate=priced.copay_rate,
            copayment=priced.copayment_amount,
            insurer_share=priced.insurer_amount,
            explanation=priced.explanation,
            payers=split,
            copay_reason=priced.copay_reason,
        )
    return Line(
        line_no=row.line_no,
        code_type=row.code_type,
        code=row.code,
        description=row.description,
        service_date=row.service_date,
        quantity=row.quantity,
        unit_price=row.unit_price,
        amount=row.amount,
        computation=computation,
    )


def _view(
    document: Document,
    lines: tuple[Line, ...],
    tariff: Tariff | None,
    *,
    history: tuple[Event, ...],
    reviews: tuple[Review, ...],
    appeals: tuple[AppealView, ...],
    payer_notes: tuple[str, ...] = (),
) -> DocumentView:
    return DocumentView(
        id=document.id,
        submission_id=document.submission_id,
        ordinal=document.ordinal,
        centre_code=document.centre.code,
        centre_name=document.centre.name,
        external_id=document.external_id,
        kind=document.kind,
        purpose=document.purpose,
        status=document.status,
        source_path=document.source_path,
        patient_national_id=document.patient_national_id,
        insurance_number=document.insurance_number,
        physician_number=document.physician_number,
        physician_grade=document.physician_grade,
        service_date=document.service_date,
        admission_date=document.admission_date,
        discharge_date=document.discharge_date,
        referral_code=document.referral_code,
        tracking_code=document.tracking_code,
        package_code=document.package_code,
        tariff=tariff,
        review=document.review_reason,
        notes=tuple(document.pricing_notes or ()),
        problems=tuple(document.problems or ()),
        payment_order_id=document.payment_order_id,
        created_at=document.created_at,
        updated_at=document.updated_at,
        priced_at=document.priced_at,
        decided_at=document.decided_at,
        lines=lines,
        totals=totals_of(lines) if tariff is not None else None,
        deductions_by_reason=sum_by_reason(
            (d.reason, d.amount)
            for line in lines
            if line.computation is not None
            for d in line.computation.deductions
        ),
        history=history,
        reviews=reviews,
        appeals=appeals,
        payer_notes=payer_notes,
    )


def _event(row: StatusEvent) -> Event:
    return Event(row.from_status, row.to_status, row.actor, row.reason, row.created_at)


def _review(row: LineReview, numbers: dict[int, int]) -> Review:
    return Review(
        line_no=numbers.get(row.line_id, 0),
        action=row.action,
        reason=row.reason,
        quantity=row.quantity,
        eligible=row.eligible,
        note=row.note,
        actor=row.actor,
        at=row.created_at,
    )


def _appeal(row: Appeal) -> AppealView:
    return AppealView(row.reason, tuple(row.lines), row.actor, row.created_at)


class Stored(Protocol):
    """What a submission's transaction knows of a document row it wrote."""

    id: uuid.UUID
    external_id: str
    kind: str
    status: str
    source_path: str
    patient_national_id: str
    problems: list[dict[str, Any]]
    purpose: str
    updated_at: datetime


def received(
    stored: Stored, source: dm.Document, *, ordinal: int, centre: Centre, submission_id: uuid.UUID
) -> DocumentView:
    """The view of a document stored by the transaction now ending, before any pricing:
    what the answer to its submission shows, without reading back what was just written."""
    lines = tuple(
        Line(
            line_no=number,
            code_type=str(line.code_type),
            code=line.code,
            description=line.description,
            service_date=line.service_date,
            quantity=line.quantity,
            unit_price=line.unit_price,
            amount=line.amount,
        )
        for number, line in enumerate(source.lines, start=1)
    )
    return DocumentView(
        id=stored.id,
        submission_id=submission_id,
        ordinal=ordinal,
        centre_code=centre.code,
        centre_name=centre.name,
        external_id=stored.external_id,
        kind=stored.kind,
        purpose=stored.purpose,
        status=stored.status,
        source_path=stored.source_path,
        patient_national_id=stored.patient_national_id,
        insurance_number=source.patient.insurance_number,
        physician_number=source.physician.medical_council_number,
        physician_grade=source.physician.grade,
        service_date=source.service_date,
        admission_date=source.admission_date,
        discharge_date=source.discharge_date,
        referral_code=source.referral_code,
        tracking_code=source.tracking_code,
        package_code=source.package_code,
        tariff=None,
        review=None,
        notes=(),
        problems=tuple(stored.problems),
        payment_order_id=None,
        created_at=stored.updated_at,
        updated_at=stored.updated_at,
        priced_at=None,
        decided_at=None,
        lines=lines,
        totals=None,
        deductions_by_reason=(),
    )
