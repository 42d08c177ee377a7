"""Remittance advice of one priced document: what was asked, what is paid, and why not the
rest, line by line (the role of an X12 835 or a FHIR ExplanationOfBenefit).

Built from the stored pricing rows alone, so the advice of a document priced years ago
reads the same today. The JSON API and the FHIR ExplanationOfBenefit both render it.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from gateway.domain.money import round_rials
from gateway.storage import repository
from gateway.storage.models import (
    Document,
    DocumentLine,
    LineDeduction,
    LinePricing,
    TariffVersion,
)


@dataclass(frozen=True, slots=True)
class Adjustment:
    reason: str
    amount: int
    detail: str


@dataclass(frozen=True, slots=True)
class Term:
    component: str
    units: str
    k: int

    @property
    def amount(self) -> Decimal:
        return Decimal(self.units) * self.k


@dataclass(frozen=True, slots=True)
class AdviceLine:
    line_no: int
    code_type: str
    code: str
    description: str | None
    service_date: date
    quantity: int
    unit_price: int
    requested: int
    basis: str | None
    terms: tuple[Term, ...]
    tariff_unit_price: int | None
    allowed_quantity: int
    eligible: int
    copay_rate: Decimal
    copayment: int
    insurer_share: int
    adjustments: tuple[Adjustment, ...]
    explanation: str


@dataclass(slots=True)
class Advice:
    document_id: str
    external_id: str
    kind: str
    status: str
    centre_code: str
    centre_name: str
    patient_national_id: str
    insurance_number: str
    service_date: date
    admission_date: date | None
    discharge_date: date | None
    package_code: str | None
    tariff_version_id: int
    tariff_label: str
    priced_at: datetime | None
    review: str | None
    notes: list[str] = field(default_factory=list)
    lines: list[AdviceLine] = field(default_factory=list)
    purpose: str = "claim"  # or an estimate: preauthorization, predetermination

    @property
    def requested(self) -> int:
        return sum(line.requested for line in self.lines)

    @property
    def eligible(self) -> int:
        return sum(line.eligible for line in self.lines)

    @property
    def deducted(self) -> int:
        return sum(a.amount for line in self.lines for a in line.adjustments)

    @property
    def copayment(self) -> int:
        return sum(line.copayment for line in self.lines)

    @property
    def insurer_share(self) -> int:
        return sum(line.insurer_share for line in self.lines)

    def by_reason(self) -> dict[str, int]:
        totals: dict[str, int] = defaultdict(int)
        for line in self.lines:
            for adjustment in line.adjustments:
                totals[adjustment.reason] += adjustment.amount
        return dict(sorted(totals.items()))

    def to_json(self) -> dict[str, Any]:
        return {
            "document_id": self.document_id,
            "external_id": self.external_id,
            "kind": self.kind,
            "purpose": self.purpose,
            "status": self.status,
            "centre": {"code": self.centre_code, "name": self.centre_name},
            "patient": {
                "national_id": self.patient_national_id,
                "insurance_number": self.insurance_number,
            },
            "service_date": self.service_date.isoformat(),
            "admission_date": _iso(self.admission_date),
            "discharge_date": _iso(self.discharge_date),
            "package_code": self.package_code,
            "tariff": {"version": self.tariff_version_id, "label": self.tariff_label},
            "priced_at": self.priced_at.isoformat() if self.priced_at else None,
            "review": self.review,
            "notes": self.notes,
            "totals": {
                "requested": self.requested,
                "eligible": self.eligible,
                "deducted": self.deducted,
                "copayment": self.copayment,
                "insurer_share": self.insurer_share,
            },
            "deductions_by_reason": [
                {"reason": reason, "amount": amount} for reason, amount in self.by_reason().items()
            ],
            "lines": [_line_json(line) for line in self.lines],
        }


def _iso(day: date | None) -> str | None:
    return day.isoformat() if day else None


def _line_json(line: AdviceLine) -> dict[str, Any]:
    return {
        "line_no": line.line_no,
        "code_type": line.code_type,
        "code": line.code,
        "description": line.description,
        "service_date": line.service_date.isoformat(),
        "quantity": line.quantity,
        "unit_price": line.unit_price,
        **pricing_json(line),
    }


def pricing_json(line: AdviceLine) -> dict[str, Any]:
    """A line's pricing figures, as the document API and the remittance advice show them."""
    return {
        "requested": line.requested,
        "price_basis": line.basis,
        "terms": [
            {"component": t.component, "units": t.units, "k": t.k, "amount": round_rials(t.amount)}
            for t in line.terms
        ],
        "tariff_unit_price": line.tariff_unit_price,
        "allowed_quantity": line.allowed_quantity,
        "eligible": line.eligible,
        "copay_rate": f"{line.copay_rate:f}",
        "copayment": line.copayment,
        "insurer_share": line.insurer_share,
        "deductions": [
            {"reason": a.reason, "amount": a.amount, "detail": a.detail} for a in line.adjustments
        ],
        "explanation": line.explanation,
    }


def terms_of(raw: list[dict[str, Any]] | None) -> tuple[Term, ...]:
    return tuple(Term(str(t["component"]), str(t["units"]), int(t["k"])) for t in raw or ())


def advice_of(session: Session, document: Document) -> Advice | None:
    """The advice of a loaded document (lines and centre loaded); None until it is priced."""
    if document.tariff_version_id is None:
        return None
    version = session.get_one(TariffVersion, document.tariff_version_id)
    advice = Advice(
        document_id=str(document.id),
        external_id=document.external_id,
        kind=document.kind,
        status=document.status,
        centre_code=document.centre.code,
        centre_name=document.centre.name,
        patient_national_id=document.patient_national_id,
        insurance_number=document.insurance_number,
        service_date=document.service_date,
        admission_date=document.admission_date,
        discharge_date=document.discharge_date,
        package_code=document.package_code,
        tariff_version_id=version.id,
        tariff_label=version.label,
        priced_at=document.priced_at,
        review=document.review_reason,
        notes=list(document.pricing_notes or []),
        purpose=document.purpose,
    )
    for row, priced, deductions in repository.priced_lines(session, document):
        if priced is None:  # every line of a priced document is priced; never half an advice
            return None
        advice.lines.append(advice_line(row, priced, deductions))
    return advice


def advice_line(
    row: DocumentLine, priced: LinePricing, deductions: list[LineDeduction]
) -> AdviceLine:
    return AdviceLine(
        line_no=row.line_no,
        code_type=row.code_type,
        code=row.code,
        description=row.description,
        service_date=row.service_date,
        quantity=row.quantity,
        unit_price=row.unit_price,
        requested=priced.requested_amount,
        basis=priced.basis,
        terms=terms_of(priced.terms),
        tariff_unit_price=priced.tariff_unit_price,
        allowed_quantity=priced.allowed_quantity,
        eligible=priced.eligible_amount,
        copay_rate=priced.copay_rate,
        copayment=priced.copayment_amount,
        insurer_share=priced.insurer_amount,
        adjustments=tuple(Adjustment(d.reason, d.amount, d.detail) for d in deductions),
        explanation=priced.explanation,
    )
