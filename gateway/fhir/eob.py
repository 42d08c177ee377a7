"""ExplanationOfBenefit: the remittance advice of a priced document, as FHIR R4 says it.

Rendered from the document's view (``gateway.documents.view``), the same figures the JSON
advice shows: per item
the submitted, eligible, deducted (with reason), co-payment and benefit amounts, the
tariff unit price, and the document's totals and payment (the insurer's share).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fhir.resources.R4B.explanationofbenefit import ExplanationOfBenefit

from gateway.documents.view import Computation, DocumentView, Line, Totals
from gateway.domain.documents import DocumentKind
from gateway.domain.lifecycle import DocumentStatus
from gateway.fhir import systems
from gateway.fhir.response import INSURER, claim_type_code

# Decided documents, and those of them that the insurer pays.
_PAYABLE = {
    DocumentStatus.APPROVED.value,
    DocumentStatus.PAYMENT_ORDERED.value,
    DocumentStatus.PAID.value,
}
_FINAL = {*_PAYABLE, DocumentStatus.DENIED.value, DocumentStatus.VOIDED.value}


def _money(amount: int) -> dict[str, Any]:
    return {"value": amount, "currency": systems.CURRENCY}


def _category(code: str) -> dict[str, Any]:
    system = systems.ADJUDICATION_EXTRA if code == "deduction" else systems.ADJUDICATION
    return {"coding": [{"system": system, "code": code}]}


def _item(line: Line, c: Computation) -> dict[str, Any]:
    system = systems.TARIFF_DRUG if line.code_type == "drug" else systems.TARIFF_SERVICE
    adjudication: list[dict[str, Any]] = [
        {"category": _category("submitted"), "amount": _money(c.requested)},
        {"category": _category("eligible"), "amount": _money(c.eligible)},
    ]
    adjudication += [
        {
            "category": _category("deduction"),
            "reason": {
                "coding": [{"system": systems.DEDUCTION_REASON, "code": a.reason}],
                "text": a.detail,
            },
            "amount": _money(a.amount),
        }
        for a in c.deductions
    ]
    adjudication += [
        {"category": _category("copay"), "amount": _money(c.copayment)},
        {"category": _category("benefit"), "amount": _money(c.insurer_share)},
    ]
    item: dict[str, Any] = {
        "sequence": line.line_no,
        "productOrService": {
            "coding": [{"system": system, "code": line.code}],
            **({"text": line.description} if line.description else {}),
        },
        "servicedDate": line.service_date.isoformat(),
        "quantity": {"value": line.quantity},
        "unitPrice": _money(line.unit_price),
        "net": _money(c.requested),
        "adjudication": adjudication,
    }
    return item


def explanation_of_benefit(view: DocumentView) -> ExplanationOfBenefit | None:
    """The EOB of a document's view; None until it is priced (it explains a decision)."""
    totals, tariff = view.totals, view.tariff
    if totals is None or tariff is None:
        return None
    kind = DocumentKind(view.kind)
    end = view.discharge_date or view.service_date
    start = view.admission_date or view.service_date
    notes = [view.review, *view.notes] if view.review else list(view.notes)
    data: dict[str, Any] = {
        "resourceType": "ExplanationOfBenefit",
        "id": str(view.id),
        "identifier": [{"system": systems.DOCUMENT_ID, "value": str(view.id)}],
        "status": "cancelled" if view.status == DocumentStatus.VOIDED else "active",
        "type": {"coding": [{"system": systems.CLAIM_TYPE, "code": claim_type_code(kind)}]},
        "use": view.purpose,
        "patient": {
            "identifier": {"system": systems.NATIONAL_ID, "value": view.patient_national_id}
        },
        "billablePeriod": {"start": start.isoformat(), "end": end.isoformat()},
        "created": (view.priced_at or datetime.now(UTC))
        .astimezone(UTC)
        .isoformat(timespec="seconds"),
        "insurer": INSURER,
        "provider": {
            "identifier": {"system": systems.CENTRE_CODE, "value": view.centre_code},
            "display": view.centre_name,
        },
        "claim": {"identifier": {"value": view.external_id}},
        "claimResponse": {"reference": f"ClaimResponse/{view.id}"},
        "outcome": "complete" if view.status in _FINAL else "partial",
        "disposition": _disposition(view, totals),
        "insurance": [
            {
                "focal": True,
                "coverage": {
                    "identifier": {
                        "system": systems.INSURANCE_NUMBER,
                        "value": view.insurance_number,
                    }
                },
            }
        ],
        "item": [_item(line, c) for line, c in view.priced_lines()],
        "total": [
            {"category": _category(code), "amount": _money(amount)}
            for code, amount in (
                ("submitted", totals.requested),
                ("eligible", totals.eligible),
                ("deduction", totals.deducted),
                ("copay", totals.copayment),
                ("benefit", totals.insurer_share),
            )
        ],
        "payment": {
            "type": {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/ex-paymenttype",
                        "code": "complete",
                    }
                ]
            },
            "amount": _money(totals.insurer_share if view.status in _PAYABLE else 0),
        },
        "processNote": [
            {"number": n, "type": "display", "text": text}
            for n, text in enumerate(
                [f"tariff version {tariff.version} ({tariff.label})", *notes], start=1
            )
        ],
    }
    if view.package_code:
        data["procedure"] = [
            {
                "sequence": 1,
                "procedureCodeableConcept": {
                    "coding": [{"system": systems.TARIFF_SERVICE, "code": view.package_code}]
                },
            }
        ]
    return ExplanationOfBenefit.model_validate(data)


def _disposition(view: DocumentView, totals: Totals) -> str:
    paid, asked = f"{totals.insurer_share:,}", f"{totals.requested:,}"
    if view.status == DocumentStatus.VOIDED:
        return f"VOIDED by the centre: nothing is payable of {asked} IRR requested"
    if view.purpose == "claim":
        return f"{view.status}: insurer pays {paid} IRR of {asked} requested"
    return (
        f"estimate ({view.purpose}), not a bill: insurer would pay {paid} IRR of {asked} requested"
    )
