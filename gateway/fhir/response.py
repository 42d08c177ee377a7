"""ClaimResponse, Bundle and OperationOutcome, built as fhir.resources models (valid R4).

A ClaimResponse is made from the document's view (``gateway.documents.view``: status,
problems, line amounts, pricing) and from the Claim it answers (``ClaimContext``: the request
reference, type, use, patient and item sequences), the same way right after submission
and later on GET.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.claimresponse import ClaimResponse
from fhir.resources.R4B.operationoutcome import OperationOutcome

from gateway.documents.view import DocumentView, Line
from gateway.domain.documents import DocumentKind
from gateway.fhir import systems
from gateway.fhir.issues import Issue
from gateway.fhir.mapping import NATIONAL_ID_FILLER
from gateway.fhir.parse import ClaimEntry

INSURER = {"display": "RASA health insurer"}
_LINE_IN_POINTER = re.compile(r"/lines/(\d+)(?:/|$)")
_ITEM_IN_FHIRPATH = re.compile(r"\.item\[(\d+)\]")
# A rule's problem that only repeats a mapping problem about the same field's filler.
_ECHOES = {
    "patient.national-id-checksum": {
        "fhir.patient-national-id-missing",
        "fhir.patient-national-id-invalid",
    },
}
# Where a field of our JSON form came from in the Claim (see schemas/fhir/README.md), so
# that a rule's problem points into the Claim the sender wrote, not into our form.
_POINTER = re.compile(r"^/documents/\d+/[A-Za-z]+(?:/(.*))?$")
_CLAIM_ELEMENTS = {
    "patient": "patient",
    "serviceDate": "billablePeriod",
    "admissionDate": "billablePeriod",
    "dischargeDate": "billablePeriod",
    "documentNumber": "identifier",
    "replaces": "related",
    "referralCode": "referral",
    "trackingCode": "prescription",
    "physician": "careTeam",
    "totalAmount": "total",
}
_ITEM_ELEMENTS = {
    "code": "productOrService",
    "codeType": "productOrService",
    "description": "productOrService",
    "quantity": "quantity",
    "unitPrice": "unitPrice",
    "amount": "net",
    "serviceDate": "servicedDate",
}
_KIND_TYPES = {
    DocumentKind.INPATIENT_BILL: "institutional",
    DocumentKind.SURGERY_PACKAGE: "institutional",
    DocumentKind.PRESCRIPTION: "pharmacy",
}


@dataclass(frozen=True, slots=True)
class ClaimContext:
    request: dict[str, Any]
    type: dict[str, Any]
    use: str
    patient: dict[str, Any]
    sequences: list[int]  # Claim.item[n].sequence per line; empty: the lines are not items
    sub_type: dict[str, Any] | None = None


def context_of(entry: ClaimEntry) -> ClaimContext:
    claim = entry.resource
    request: dict[str, Any] = {"type": "Claim"}
    if entry.full_url and not entry.full_url.startswith("urn:"):
        request["reference"] = entry.full_url
    elif isinstance(claim.get("id"), str):
        request["reference"] = f"Claim/{claim['id']}"
    identifier = next((i for i in claim.get("identifier") or [] if i.get("value")), None)
    if identifier is not None:
        request["identifier"] = {k: identifier[k] for k in ("system", "value") if k in identifier}
    patient = claim.get("patient") or {}
    reference = patient.get("reference")
    patient_ref = {k: patient[k] for k in ("identifier", "display") if k in patient}
    if isinstance(reference, str) and not reference.startswith(("#", "urn:")):
        patient_ref["reference"] = reference
    items = [i for i in claim.get("item") or [] if isinstance(i, dict)]
    return ClaimContext(
        request=request,
        type=claim["type"],
        use=claim.get("use") or "claim",
        patient=patient_ref,
        sequences=[int(i["sequence"]) for i in items],
        sub_type=claim.get("subType"),
    )


def claim_type_code(kind: DocumentKind) -> str:
    """The HL7 claim type of a document kind."""
    return _KIND_TYPES.get(kind, "professional")


def generic_context(external_id: str, kind: str, line_count: int) -> ClaimContext:
    """For a document that did not come as FHIR: what its own record tells."""
    code = claim_type_code(DocumentKind(kind))
    return ClaimContext(
        request={"type": "Claim", "identifier": {"value": external_id}},
        type={"coding": [{"system": systems.CLAIM_TYPE, "code": code}]},
        use="claim",
        patient={},
        sequences=list(range(1, line_count + 1)),
    )


def _money(amount: int) -> dict[str, Any]:
    return {"value": amount, "currency": systems.CURRENCY}


def _adjudication(category: str, amount: int, reason: str | None = None) -> dict[str, Any]:
    system = systems.ADJUDICATION_EXTRA if category == "deduction" else systems.ADJUDICATION
    entry: dict[str, Any] = {
        "category": {"coding": [{"system": system, "code": category}]},
        "amount": _money(amount),
    }
    if reason is not None:
        entry["reason"] = {"coding": [{"system": systems.DEDUCTION_REASON, "code": reason}]}
    return entry


def _line_adjudication(line: Line, status: str) -> list[dict[str, Any]]:
    out = [_adjudication("submitted", line.requested)]
    if status in ("REJECTED", "VOIDED"):
        return [*out, _adjudication("eligible", 0)]
    c = line.computation
    if c is None:
        return out
    out.append(_adjudication("eligible", c.eligible))
    out += [_adjudication("deduction", d.amount, d.reason) for d in c.deductions]
    out += [_adjudication("copay", c.copayment), _adjudication("benefit", c.insurer_share)]
    return out


def _totals(lines: list[list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """One total per category (deductions of all reasons together)."""
    sums: dict[str, int] = {}
    for adjudications in lines:
        for entry in adjudications:
            code = entry["category"]["coding"][0]["code"]
            sums[code] = sums.get(code, 0) + entry["amount"]["value"]
    return [
        {"category": _adjudication(code, 0)["category"], "amount": _money(amount)}
        for code, amount in sums.items()
    ]


def _outcome(document: DocumentView) -> tuple[str, str]:
    if document.status == "REJECTED":
        errors = sum(1 for p in document.problems if p.get("severity", "error") == "error")
        return "error", f"Rejected with {errors} error(s); nothing is payable."
    if document.status == "VOIDED":
        return "complete", "Voided by the centre (withdrawn or replaced); nothing is payable."
    if document.status in ("RECEIVED", "ACCEPTED"):
        return "queued", "Accepted; pricing is pending."
    deducted = document.totals.deducted if document.totals else 0
    what = "Priced" if document.purpose == "claim" else "Estimated (not a bill)"
    if deducted:
        return "partial", f"{what} with deductions of {deducted:,} IRR."
    return "complete", f"{what} in full."


def claim_path(path: str | None) -> str | None:
    """A JSON pointer into our form (a rule's problem) as the FHIRPath of the Claim element
    it came from: ``/documents/0/outpatientVisit/lines/2/code`` ->
    ``Claim.item[2].productOrService``. Other paths (the mapping's own) are already
    FHIRPaths and are returned unchanged."""
    match = _POINTER.match(path or "")
    if match is None:
        return path
    steps = (match.group(1) or "").split("/")
    if steps[0] == "lines" and len(steps) > 1 and steps[1].isdigit():
        item = f"Claim.item[{steps[1]}]"
        element = _ITEM_ELEMENTS.get(steps[2]) if len(steps) > 2 else None
        return f"{item}.{element}" if element else item
    element = _CLAIM_ELEMENTS.get(steps[0])
    return f"Claim.{element}" if element else "Claim"


def _item_index(path: str | None) -> int | None:
    for pattern in (_LINE_IN_POINTER, _ITEM_IN_FHIRPATH):
        match = pattern.search(path or "")
        if match:
            return int(match.group(1))
    return None


def _errors_and_notes(
    document: DocumentView, sequences: list[int]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    errors: list[dict[str, Any]] = []
    notes: list[dict[str, Any]] = []
    codes = {str(problem.get("code")) for problem in document.problems}
    for problem in document.problems:
        code, message = str(problem.get("code")), str(problem.get("message"))
        if code in _ECHOES and codes & _ECHOES[code]:
            continue  # the rule judged the filler, not the sender's data
        if problem.get("severity", "error") != "error":
            where = claim_path(problem.get("path"))
            text = f"warning {code}: {message}" + (f" ({where})" if where else "")
            notes.append({"number": len(notes) + 1, "type": "display", "text": text})
            continue
        entry: dict[str, Any] = {
            "code": {"coding": [{"system": systems.PROBLEM, "code": code}], "text": message}
        }
        index = _item_index(problem.get("path"))
        if index is not None and index < len(sequences):
            entry["itemSequence"] = sequences[index]
        errors.append(entry)
    return errors, notes


def _patient(document: DocumentView, context: ClaimContext) -> dict[str, Any]:
    patient = dict(context.patient)
    if document.patient_national_id != NATIONAL_ID_FILLER:
        national_id = document.patient_national_id
        patient["identifier"] = {"system": systems.NATIONAL_ID, "value": national_id}
    return patient or {"display": "patient not identified by a national ID"}


def claim_response(document: DocumentView, context: ClaimContext) -> ClaimResponse:
    outcome, disposition = _outcome(document)
    per_line = [_line_adjudication(line, document.status) for line in document.lines]
    data: dict[str, Any] = {
        "resourceType": "ClaimResponse",
        "id": str(document.id),
        "identifier": [{"system": systems.DOCUMENT_ID, "value": str(document.id)}],
        "status": "cancelled" if document.status == "VOIDED" else "active",
        "type": context.type,
        "use": context.use,
        "patient": _patient(document, context),
        "created": document.updated_at.replace(tzinfo=document.updated_at.tzinfo or UTC)
        .astimezone(UTC)
        .isoformat(timespec="seconds"),
        "insurer": INSURER,
        "requestor": {"identifier": {"system": systems.CENTRE_CODE, "value": document.centre_code}},
        "request": context.request,
        "outcome": outcome,
        "disposition": disposition,
        "total": _totals(per_line),
    }
    if context.sub_type:
        data["subType"] = context.sub_type
    if document.purpose == "preauthorization" and outcome in ("complete", "partial"):
        data["preAuthRef"] = str(document.id)
    if context.sequences and len(context.sequences) == len(per_line):
        data["item"] = [
            {"itemSequence": sequence, "adjudication": adjudication}
            for sequence, adjudication in zip(context.sequences, per_line, strict=True)
        ]
    else:
        data["adjudication"] = [a for adjudications in per_line for a in adjudications]
    errors, notes = _errors_and_notes(document, context.sequences)
    if errors:
        data["error"] = errors
    if notes:
        data["processNote"] = notes
    return ClaimResponse.model_validate(data)


def collection(responses: list[ClaimResponse], bundle_id: str) -> Bundle:
    return Bundle.model_validate(
        {
            "resourceType": "Bundle",
            "id": bundle_id,
            "type": "collection",
            "timestamp": datetime.now(UTC).isoformat(timespec="seconds"),
            "entry": [{"fullUrl": f"urn:uuid:{r.id}", "resource": r} for r in responses],
        }
    )


def operation_outcome(issues: list[Issue]) -> OperationOutcome:
    entries = []
    for issue in issues or [Issue("", "The request cannot be processed.")]:
        diagnostics = issue.message + (f" (line {issue.line})" if issue.line else "")
        entry: dict[str, Any] = {
            "severity": "error",
            "code": issue.code,
            "diagnostics": diagnostics,
        }
        if issue.location:
            entry["expression"] = [issue.location]
        entries.append(entry)
    return OperationOutcome.model_validate({"resourceType": "OperationOutcome", "issue": entries})
