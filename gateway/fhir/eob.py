"""ExplanationOfBenefit: the remittance advice of a priced document, as FHIR R4 says it.

Built from ``gateway.settlement.remittance.Advice``, the same figures the JSON advice shows:
per item the submitted, eligible, deducted (with reason), co-payment and benefit amounts, the
tariff unit price, and the document's totals and payment (the insurer's share).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fhir.resources.R4B.explanationofbenefit import ExplanationOfBenefit

from gateway.domain.documents import DocumentKind
from gateway.domain.lifecycle import DocumentStatus
from gateway.fhir import systems
from gateway.fhir.response import INSURER, claim_type_code
from gateway.settlement.remittance import Advice, AdviceLine

# Decided documents, and those of them that the insurer pays.
_PAYABLE = {
    DocumentStatus.APPROVED.value,
    DocumentStatus.PAYMENT_ORDERED.value,
    DocumentStatus.PAID.value,
}
_FINAL = {*_PAYABLE, DocumentStatus.DENIED.value}


def _money(amount: int) -> dict[str, Any]:
    return {"value": amount, "currency": systems.CURRENCY}


def _category(code: str) -> dict[str, Any]:
    system = systems.ADJUDICATION_EXTRA if code == "deduction" else systems.ADJUDICATION
    return {"coding": [{"system": system, "code": code}]}


def _item(line: AdviceLine) -> dict[str, Any]:
    system = systems.TARIFF_DRUG if line.code_type == "drug" else systems.TARIFF_SERVICE
    adjudication: list[dict[str, Any]] = [
        {"category": _category("submitted"), "amount": _money(line.requested)},
        {"category": _category("eligible"), "amount": _money(line.eligible)},
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
        for a in line.adjustments
    ]
    adjudication += [
        {"category": _category("copay"), "amount": _money(line.copayment)},
        {"category": _category("benefit"), "amount": _money(line.insurer_share)},
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
        "net": _money(line.requested),
        "adjudication": adjudication,
    }
    return item


def explanation_of_benefit(advice: Advice) -> ExplanationOfBenefit:
    kind = DocumentKind(advice.kind)
    end = advice.discharge_date or advice.service_date
    start = advice.admission_date or advice.service_date
    notes = [advice.review, *advice.notes] if advice.review else list(advice.notes)
    data: dict[str, Any] = {
        "resourceType": "ExplanationOfBenefit",
        "id": advice.document_id,
        "identifier": [{"system": systems.DOCUMENT_ID, "value": advice.document_id}],
        "status": "active",
        "type": {"coding": [{"system": systems.CLAIM_TYPE, "code": claim_type_code(kind)}]},
        "use": advice.purpose,
        "patient": {
            "identifier": {"system": systems.NATIONAL_ID, "value": advice.patient_national_id}
        },
        "billablePeriod": {"start": start.isoformat(), "end": end.isoformat()},
        "created": (advice.priced_at or datetime.now(UTC))
        .astimezone(UTC)
        .isoformat(timespec="seconds"),
        "insurer": INSURER,
        "provider": {
            "identifier": {"system": systems.CENTRE_CODE, "value": advice.centre_code},
            "display": advice.centre_name,
        },
        "claim": {"identifier": {"value": advice.external_id}},
        "claimResponse": {"reference": f"ClaimResponse/{advice.document_id}"},
        "outcome": "complete" if advice.status in _FINAL else "partial",
        "disposition": (
            f"{advice.status}: insurer pays {advice.insurer_share:,} IRR of "
            f"{advice.requested:,} requested"
            if advice.purpose == "claim"
            else f"estimate ({advice.purpose}), not a bill: insurer would pay "
            f"{advice.insurer_share:,} IRR of {advice.requested:,} requested"
        ),
        "insurance": [
            {
                "focal": True,
                "coverage": {
                    "identifier": {
                        "system": systems.INSURANCE_NUMBER,
                        "value": advice.insurance_number,
                    }
                },
            }
        ],
        "item": [_item(line) for line in advice.lines],
        "total": [
            {"category": _category(code), "amount": _money(amount)}
            for code, amount in (
                ("submitted", advice.requested),
                ("eligible", advice.eligible),
                ("deduction", advice.deducted),
                ("copay", advice.copayment),
                ("benefit", advice.insurer_share),
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
            "amount": _money(advice.insurer_share if advice.status in _PAYABLE else 0),
        },
        "processNote": [
            {"number": n, "type": "display", "text": text}
            for n, text in enumerate(
                [f"tariff version {advice.tariff_version_id} ({advice.tariff_label})", *notes],
                start=1,
            )
        ],
    }
    if advice.package_code:
        data["procedure"] = [
            {
                "sequence": 1,
                "procedureCodeableConcept": {
                    "coding": [{"system": systems.TARIFF_SERVICE, "code": advice.package_code}]
                },
            }
        ]
    return ExplanationOfBenefit.model_validate(data)
