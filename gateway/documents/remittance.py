"""Remittance advice of one priced document: what was asked, what is paid, and why not the
rest, line by line (the role of an X12 835 or a FHIR ExplanationOfBenefit).

Rendered from the document's view (``gateway.documents.view``), which is built from the
stored pricing rows alone, so the advice of a document priced years ago reads the same
today. The FHIR ExplanationOfBenefit renders the same view.
"""

from __future__ import annotations

from typing import Any

from gateway.documents.view import Computation, DocumentView, Line, PayerShare


def advice_json(view: DocumentView) -> dict[str, Any] | None:
    """The advice of a document's view, as the JSON API shows it; None until it is priced."""
    totals = view.totals
    if totals is None or view.tariff is None:
        return None
    return {
        "document_id": str(view.id),
        "external_id": view.external_id,
        "kind": view.kind,
        "purpose": view.purpose,
        "status": view.status,
        "centre": {"code": view.centre_code, "name": view.centre_name},
        "patient": {
            "national_id": view.patient_national_id,
            "insurance_number": view.insurance_number,
        },
        "service_date": view.service_date,
        "admission_date": view.admission_date,
        "discharge_date": view.discharge_date,
        "package_code": view.package_code,
        "tariff": {"version": view.tariff.version, "label": view.tariff.label},
        "priced_at": view.priced_at,
        "review": view.review,
        "notes": list(view.notes),
        "totals": {
            "requested": totals.requested,
            "eligible": totals.eligible,
            "deducted": totals.deducted,
            "copayment": totals.copayment,
            "insurer_share": totals.insurer_share,
        },
        "deductions_by_reason": reasons_json(view),
        "payers": [payer_json(p) for p in view.payer_totals()],
        "payer_notes": list(view.payer_notes),
        "lines": [_line_json(line, c) for line, c in view.priced_lines()],
    }


def payer_json(share: PayerShare) -> dict[str, Any]:
    return {"kind": share.kind, "payer": share.payer, "amount": share.amount}


def reasons_json(view: DocumentView) -> list[dict[str, Any]]:
    return [{"reason": r.reason, "amount": r.amount} for r in view.deductions_by_reason]


def _line_json(line: Line, computation: Computation) -> dict[str, Any]:
    return {
        "line_no": line.line_no,
        "code_type": line.code_type,
        "code": line.code,
        "description": line.description,
        "service_date": line.service_date,
        "quantity": line.quantity,
        "unit_price": line.unit_price,
        **pricing_json(computation),
    }


def pricing_json(computation: Computation) -> dict[str, Any]:
    """A line's pricing figures, as the document API and the remittance advice show them."""
    return {
        "requested": computation.requested,
        "price_basis": computation.basis,
        "terms": [
            {"component": t.component, "units": t.units, "k": t.k, "amount": t.amount}
            for t in computation.terms
        ],
        "tariff_unit_price": computation.tariff_unit_price,
        "allowed_quantity": computation.allowed_quantity,
        "eligible": computation.eligible,
        "copay_rate": f"{computation.copay_rate:f}",
        "copay_reason": computation.copay_reason,
        "copayment": computation.copayment,
        "insurer_share": computation.insurer_share,
        "deductions": [
            {"reason": d.reason, "amount": d.amount, "detail": d.detail}
            for d in computation.deductions
        ],
        "explanation": computation.explanation,
        "patient_share": computation.patient_share,
        "payers": [payer_json(p) for p in computation.payers],
        "patient_pays": computation.patient_pays,
    }
