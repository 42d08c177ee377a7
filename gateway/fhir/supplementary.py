"""A supplementary insurer's claims as FHIR: per document, a Claim addressed to the
supplementary insurer for the lines it pays, with the basic insurer's ClaimResponse as the
prior payer's adjudication (``Claim.insurance[0].claimResponse``: the coordination of
benefits of an X12 837's other-payer loop), both in one collection Bundle.

Built from the documents' views and the insurer's statement lines; the basic insurer's
ClaimResponse is the very one ``/fhir/ClaimResponse/{id}`` answers for the document.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.claim import Claim

from gateway.documents.view import DocumentView
from gateway.domain.documents import DocumentKind
from gateway.fhir import systems
from gateway.fhir.response import claim_response, claim_type_code, generic_context
from gateway.payers.statements import StatementLine

SUPPLEMENTARY_INSURER = f"{systems.BASE}/sid/supplementary-insurer"
POLICY = f"{systems.BASE}/sid/supplementary-policy"
PRIORITY = "http://terminology.hl7.org/CodeSystem/processpriority"


def _money(amount: int) -> dict[str, Any]:
    return {"value": amount, "currency": systems.CURRENCY}


def supplementary_claim(
    view: DocumentView, insurer: str, lines: list[StatementLine], created: datetime
) -> Claim:
    """The Claim to the supplementary insurer for the document's lines it pays."""
    billed = {line.line_no: line for line in view.lines}
    policy = next((line.policy for line in lines if line.policy), None)
    coverage: dict[str, Any] = {"display": f"{insurer} supplementary policy"}
    if policy:
        coverage["identifier"] = {"system": POLICY, "value": policy}
    items = []
    for n, line in enumerate(lines, start=1):
        source = billed[line.line_no]
        system = systems.TARIFF_DRUG if source.code_type == "drug" else systems.TARIFF_SERVICE
        items.append(
            {
                "sequence": n,
                "productOrService": {"coding": [{"system": system, "code": source.code}]},
                "servicedDate": source.service_date.isoformat(),
                "quantity": {"value": source.quantity},
                "net": _money(line.amount),
            }
        )
    data = {
        "resourceType": "Claim",
        "id": f"{view.id}-{insurer}"[:64],
        "identifier": [{"system": systems.DOCUMENT_ID, "value": str(view.id)}],
        "status": "active",
        "type": {"coding": [{"system": systems.CLAIM_TYPE,
                             "code": claim_type_code(DocumentKind(view.kind))}]},
        "use": "claim",
        "patient": {"identifier": {"system": systems.NATIONAL_ID,
                                   "value": view.patient_national_id}},
        "created": created.isoformat(timespec="seconds"),
        "insurer": {"identifier": {"system": SUPPLEMENTARY_INSURER, "value": insurer}},
        "provider": {"identifier": {"system": systems.CENTRE_CODE, "value": view.centre_code}},
        "priority": {"coding": [{"system": PRIORITY, "code": "normal"}]},
        "insurance": [
            {
                "sequence": 1,
                "focal": False,
                "coverage": {"identifier": {"system": systems.INSURANCE_NUMBER,
                                            "value": view.insurance_number},
                             "display": "basic insurance"},
                "claimResponse": {"reference": f"urn:uuid:{view.id}"},
            },
            {"sequence": 2, "focal": True, "coverage": coverage},
        ],
        "item": items,
        "total": _money(sum(line.amount for line in lines)),
    }  # fmt: skip
    return Claim.model_validate(data)


def supplementary_bundle(
    views: list[DocumentView], insurer: str, lines: list[StatementLine], bundle_id: str
) -> Bundle:
    """Each document's Claim to the insurer, followed by the basic insurer's ClaimResponse."""
    by_document: dict[uuid.UUID, list[StatementLine]] = defaultdict(list)
    for line in lines:
        by_document[line.document_id].append(line)
    now = datetime.now(UTC)
    entries: list[dict[str, Any]] = []
    for view in views:
        mine = by_document.get(view.id)
        if not mine:
            continue
        claim = supplementary_claim(view, insurer, mine, now)
        prior = claim_response(view, generic_context(view.external_id, view.kind, len(view.lines)))
        entries.append({"fullUrl": f"urn:uuid:{uuid.uuid4()}", "resource": claim})
        entries.append({"fullUrl": f"urn:uuid:{view.id}", "resource": prior})
    return Bundle.model_validate(
        {
            "resourceType": "Bundle",
            "id": bundle_id,
            "type": "collection",
            "timestamp": now.isoformat(timespec="seconds"),
            "entry": entries,
        }
    )
