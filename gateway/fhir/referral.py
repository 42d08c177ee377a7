"""A referral at the FHIR door: a ServiceRequest (intent ``order``, category "Patient
referral") in, the same ServiceRequest with its referral code out (docs/referrals.md).

What the request must say, in FHIR terms:

- ``subject``: the patient, by national ID (a logical reference's ``identifier``, or a
  contained Patient referenced as ``#id``);
- ``requester``: the family physician, by medical-council number (the same two ways);
- ``performerType``: the level of care referred to (2 or 3, code system ``CARE_LEVEL``),
  and optionally the specialty (``SPECIALTY``);
- ``reasonCode``: an ICD-10 code (its ``text`` is kept as the reason's text);
- ``authoredOn`` (the day of issue, today when absent); ``quantityQuantity.value``
  (visits covered, 1 when absent).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from fhir.resources.R4B.servicerequest import ServiceRequest

from gateway.domain.referrals import CareLevel, ReferralStatus
from gateway.errors import GatewayError
from gateway.fhir import systems
from gateway.fhir.issues import Issue, StructureError, validate
from gateway.fhir.parse import Syntax, as_json
from validators.problems import Problem

Resource = dict[str, Any]
SNOMED = "http://snomed.info/sct"
PATIENT_REFERRAL = "3457005"  # SNOMED CT: Patient referral (procedure)
ICD10 = "http://hl7.org/fhir/sid/icd-10"
CARE_LEVEL = f"{systems.BASE}/CodeSystem/care-level"
SPECIALTY = f"{systems.BASE}/CodeSystem/specialty"


@dataclass(frozen=True, slots=True)
class Asked:
    physician: str
    patient: str
    level: CareLevel
    specialty: str | None
    reason: str
    reason_text: str | None
    issued_on: date | None
    visits: int


@dataclass(frozen=True, slots=True)
class Issued:
    """A stored referral as a ServiceRequest shows it."""

    code: str
    status: ReferralStatus
    physician: str
    patient: str
    level: int
    specialty: str | None
    reason: str
    reason_text: str | None
    issued_on: date
    valid_until: date
    visits: int


def read_request(body: bytes, syntax: Syntax) -> Asked:
    """The referral a ServiceRequest asks for; StructureError (FHIR structure) or
    GatewayError(422) with every problem found."""
    data = as_json(body, syntax)
    if not isinstance(data, dict) or data.get("resourceType") != "ServiceRequest":
        raise StructureError([Issue("", "The body must be a ServiceRequest.")])
    _, issues = validate(ServiceRequest, data, "ServiceRequest")
    if issues:
        raise StructureError(issues)
    problems: list[Problem] = []
    if data.get("intent") != "order" or data.get("status") != "active":
        problems.append(_problem("intent", "A referral is an active order (intent order)."))
    if not any(
        c.get("system") == SNOMED and c.get("code") == PATIENT_REFERRAL
        for category in data.get("category") or []
        for c in category.get("coding") or []
    ):
        problems.append(
            _problem("category", f"The category must include {SNOMED}|{PATIENT_REFERRAL}.")
        )
    patient = _identifier(data, "subject", systems.NATIONAL_ID, problems)
    physician = _identifier(data, "requester", systems.MEDICAL_COUNCIL, problems)
    level = _coded(data.get("performerType"), CARE_LEVEL)
    if level not in ("2", "3"):
        problems.append(_problem("performerType", f"The level ({CARE_LEVEL}) must be 2 or 3."))
    reasons = data.get("reasonCode") or [{}]
    reason = _coded(reasons[0], ICD10)
    if reason is None:
        problems.append(_problem("reasonCode", f"An ICD-10 reason ({ICD10}) is required."))
    visits = (data.get("quantityQuantity") or {}).get("value", 1)
    if not (isinstance(visits, int | float) and visits == int(visits) and 1 <= visits <= 12):
        problems.append(_problem("quantityQuantity", "Visits must be a whole number, 1 to 12."))
        visits = 1
    if problems:
        raise GatewayError(
            "The ServiceRequest is not a referral the gateway can issue.", 422, problems
        )
    assert patient is not None
    assert physician is not None
    assert reason is not None
    assert level is not None
    authored = data.get("authoredOn")
    return Asked(
        physician=physician,
        patient=patient,
        level=CareLevel(int(level)),
        specialty=_coded(data.get("performerType"), SPECIALTY),
        reason=reason,
        reason_text=reasons[0].get("text"),
        issued_on=date.fromisoformat(authored[:10]) if authored else None,
        visits=int(visits),
    )


def _problem(field: str, message: str) -> Problem:
    return Problem("fhir.referral-invalid", message, f"ServiceRequest.{field}")


def _coded(concept: Resource | None, system: str) -> str | None:
    for coding in (concept or {}).get("coding") or []:
        if coding.get("system") == system and coding.get("code"):
            return str(coding["code"])
    return None


def _identifier(data: Resource, field: str, system: str, problems: list[Problem]) -> str | None:
    """The identifier of the given system a reference names, directly or through a
    contained resource."""
    reference = data.get(field) or {}
    identifiers = [reference.get("identifier") or {}]
    target = str(reference.get("reference") or "")
    if target.startswith("#"):
        for contained in data.get("contained") or []:
            if contained.get("id") == target[1:]:
                identifiers += contained.get("identifier") or []
    for identifier in identifiers:
        if identifier.get("system") == system and identifier.get("value"):
            return str(identifier["value"])
    problems.append(_problem(field, f"{field} must name an identifier of {system}."))
    return None


_STATUS = {
    ReferralStatus.OPEN: "active",
    ReferralStatus.USED: "completed",
    ReferralStatus.EXPIRED: "revoked",
}


def service_request(referral: Issued) -> ServiceRequest:
    """A stored referral as the ServiceRequest the door answers with."""
    level = {"system": CARE_LEVEL, "code": str(referral.level)}
    codings = [level]
    if referral.specialty:
        codings.append({"system": SPECIALTY, "code": referral.specialty})
    reason: Resource = {"coding": [{"system": ICD10, "code": referral.reason}]}
    if referral.reason_text:
        reason["text"] = referral.reason_text
    return ServiceRequest.model_validate(
        {
            "resourceType": "ServiceRequest",
            "id": referral.code,
            "identifier": [{"system": systems.REFERRAL_CODE, "value": referral.code}],
            "status": _STATUS[referral.status],
            "intent": "order",
            "category": [
                {
                    "coding": [
                        {"system": SNOMED, "code": PATIENT_REFERRAL, "display": "Patient referral"}
                    ]
                }
            ],
            "subject": {"identifier": {"system": systems.NATIONAL_ID, "value": referral.patient}},
            "requester": {
                "identifier": {"system": systems.MEDICAL_COUNCIL, "value": referral.physician}
            },
            "performerType": {"coding": codings},
            "reasonCode": [reason],
            "authoredOn": referral.issued_on.isoformat(),
            "occurrencePeriod": {
                "start": referral.issued_on.isoformat(),
                "end": referral.valid_until.isoformat(),
            },
            "quantityQuantity": {"value": referral.visits},
        }
    )
