"""One FHIR Claim -> one document of the gateway's JSON form, always schema-valid.

What cannot be mapped becomes a problem of that document (an error rejects it, a warning
is shown) while the field gets a schema-valid filler, so any structurally valid Claim is
stored and answered. The mapping is described in ``schemas/fhir/README.md``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import orjson

from gateway.domain.documents import DocumentKind, Purpose
from gateway.fhir import systems
from gateway.fhir import text as t
from gateway.fhir.lines import map_lines
from gateway.fhir.notes import Notes
from gateway.fhir.parse import ClaimEntry, Parsed
from gateway.fhir.resolve import Resolver, human_name, identifier_value, identifiers
from validators.problems import Problem

NATIONAL_ID_FILLER = "0000000000"
INSURANCE_FILLER = "000000"
PHYSICIAN_FILLER = "00"
SOFTWARE = "FHIR R4 door"
_GENDERS = {"male", "female", "other"}
_OUTPATIENT_TYPES = {"professional", "oral", "vision"}
Resource = dict[str, Any]
# An estimate's document number is the Claim's under a prefix of its own, so the bill
# that follows it may carry the same identifier without being taken for a duplicate.
SYSTEM_WIDTH = 255  # documents.identifier_system
_ESTIMATE_TAGS = {Purpose.PREAUTHORIZATION: "PA", Purpose.PREDETERMINATION: "PD"}


@dataclass(slots=True)
class MappedClaim:
    document: dict[str, Any]  # {"outpatientVisit": {...}}
    problems: list[Problem]


def map_submission(
    parsed: Parsed, centre_code: str, now: datetime | None = None
) -> tuple[dict[str, Any], list[list[Problem]]]:
    """The JSON-form submission of every Claim, and each document's mapping problems."""
    mapped = [map_claim(entry, parsed.index, centre_code) for entry in parsed.claims]
    created = (now or datetime.now(UTC)).replace(microsecond=0)
    submission = {
        "schemaVersion": "1",
        "header": {
            "centreCode": centre_code,
            "createdAt": created.isoformat(),
            "software": SOFTWARE,
        },
        "documents": [m.document for m in mapped],
    }
    return submission, [m.problems for m in mapped]


def purpose_of(claim: Resource) -> Purpose:
    """Claim.use: a bill, or a request for an estimate (an unknown use is refused by
    ``parse``; a Claim read back from storage without one is a bill)."""
    try:
        return Purpose(str(claim.get("use")))
    except ValueError:
        return Purpose.CLAIM


def purposes(parsed: Parsed) -> list[Purpose]:
    return [purpose_of(entry.resource) for entry in parsed.claims]


def map_claim(entry: ClaimEntry, index: dict[str, Resource], centre_code: str) -> MappedClaim:
    claim = entry.resource
    notes = Notes(entry.path)
    resolver = Resolver(claim, index)
    if claim.get("status") != "active":
        notes.error(
            "fhir.claim-status",
            f"Only an active Claim is billed, not {claim.get('status')}.",
            "status",
        )
    kind, dates = _kind_and_dates(claim, notes)
    number = document_number(claim, notes)
    purpose = purpose_of(claim)
    if purpose.is_estimate:
        number = t.estimate_number(number, _ESTIMATE_TAGS[purpose])
    body: dict[str, Any] = {"documentNumber": number}
    replaces = replaced_number(claim, notes)
    if replaces is not None:
        body["replaces"] = (
            t.estimate_number(replaces, _ESTIMATE_TAGS[purpose])
            if purpose.is_estimate
            else replaces
        )
    body["patient"] = _patient(claim, resolver, notes)
    body["physician"] = _physician(claim, resolver, notes)
    _check_centre(claim, resolver, centre_code, notes)
    referral = _referral(claim, resolver, notes)
    if referral is not None:
        body["referralCode"] = referral
    if kind is DocumentKind.PRESCRIPTION:
        body["trackingCode"] = _tracking_code(claim, resolver, notes, body["documentNumber"])
    body.update(dates)
    body["lines"] = map_lines(claim, kind is DocumentKind.PRESCRIPTION, notes)
    body["totalAmount"] = sum(line["amount"] for line in body["lines"])
    return MappedClaim({kind.value: body}, notes.problems)


def claim_type(claim: Resource) -> str | None:
    concept = claim.get("type")
    for coding in concept.get("coding") or [] if isinstance(concept, dict) else []:
        if isinstance(coding, dict) and coding.get("system") in (systems.CLAIM_TYPE, None):
            code = coding.get("code")
            if isinstance(code, str):
                return code
    return None


def _kind_and_dates(claim: Resource, notes: Notes) -> tuple[DocumentKind, dict[str, str]]:
    period = claim.get("billablePeriod")
    period = period if isinstance(period, dict) else {}
    start, end = t.to_date(period.get("start")), t.to_date(period.get("end"))
    first = start or end or _first_item_date(claim) or t.to_date(claim.get("created"))
    if first is None:
        first = datetime.now(UTC).date()
        notes.error(
            "fhir.service-date-missing",
            "No billablePeriod, item date or created date.",
            "billablePeriod",
        )
    kind_code = claim_type(claim)
    if kind_code == "institutional" and start and end and start != end:
        return DocumentKind.INPATIENT_BILL, {
            "admissionDate": start.isoformat(),
            "dischargeDate": end.isoformat(),
        }
    if kind_code == "pharmacy":
        kind = DocumentKind.PRESCRIPTION
    else:
        kind = DocumentKind.OUTPATIENT_VISIT
        if kind_code != "institutional" and kind_code not in _OUTPATIENT_TYPES:
            notes.warning(
                "fhir.claim-type-unknown",
                f"Claim type {kind_code} is billed as an outpatient visit.",
                "type",
            )
    return kind, {"serviceDate": first.isoformat()}


def _first_item_date(claim: Resource) -> date | None:
    found = []
    for item in claim.get("item") or []:
        if isinstance(item, dict):
            period = item.get("servicedPeriod")
            start = period.get("start") if isinstance(period, dict) else None
            day = t.to_date(item.get("servicedDate")) or t.to_date(start)
            if day is not None:
                found.append(day)
    return min(found) if found else None


def _number_identifier(claim: Resource) -> dict[str, Any] | None:
    """The Claim.identifier the document number is taken from: the first with a value."""
    return next(
        (
            i
            for i in claim.get("identifier") or []
            if isinstance(i, dict) and isinstance(i.get("value"), str) and i["value"].strip()
        ),
        None,
    )


def number_system(claim: Resource) -> str:
    """The system of the identifier the number is the value of ("" for none): the same value
    under another system is another document. One past the column's width is kept as its
    digest, which tells systems apart as well."""
    return _system_of(_number_identifier(claim))


def _system_of(identifier: dict[str, Any] | None) -> str:
    system = (identifier or {}).get("system")
    if not isinstance(system, str):
        return ""
    return system if len(system) <= SYSTEM_WIDTH else f"sha256:{t.digest(system)}"


def _replacing(claim: Resource) -> list[tuple[int, dict[str, Any]]]:
    """The Claim.related entries whose relationship is ``replaces``, with their index."""
    found = []
    for index, related in enumerate(claim.get("related") or []):
        relationship = related.get("relationship") if isinstance(related, dict) else None
        codings = relationship.get("coding") or [] if isinstance(relationship, dict) else []
        if any(
            isinstance(c, dict)
            and c.get("system") in (systems.RELATED_CLAIM_RELATIONSHIP, None)
            and c.get("code") == "replaces"
            for c in codings
        ):
            found.append((index, related))
    return found


def _replaced_identifier(claim: Resource) -> dict[str, Any] | None:
    """The identifier of the Claim this one replaces (Claim.related, relationship
    ``replaces``, its ``claim.identifier``); None when it replaces none."""
    replacing = _replacing(claim)
    if not replacing:
        return None
    _, related = replacing[0]
    reference = related.get("claim")
    identifier = reference.get("identifier") if isinstance(reference, dict) else None
    return identifier if isinstance(identifier, dict) else {}


def replaced_number(claim: Resource, notes: Notes) -> str | None:
    """The document number of the Claim this one replaces, fitted to the pattern as that
    Claim's own number was (so the two match); None when it replaces none."""
    replacing = _replacing(claim)
    if not replacing:
        return None
    index, _ = replacing[0]
    where = f"related[{index}].claim.identifier"
    if len(replacing) > 1:
        notes.error(
            "fhir.replaces-repeated", "A Claim replaces one earlier Claim at most.", "related"
        )
        return None
    value = (_replaced_identifier(claim) or {}).get("value")
    if not isinstance(value, str) or not value.strip():
        notes.error(
            "fhir.replaces-identifier-missing",
            "A related Claim that this one replaces is named by its identifier (a value).",
            where,
        )
        return None
    number, _ = t.document_number(value.strip(), value)
    return number


def replaced_system(claim: Resource) -> str:
    """The system of the identifier of the Claim this one replaces ("" for none)."""
    return _system_of(_replaced_identifier(claim))


def document_number(claim: Resource, notes: Notes) -> str:
    """Claim.identifier (the first with a value), else Claim.id, fitted to the pattern."""
    identifier = _number_identifier(claim)
    raw = (
        identifier["value"].strip()
        if identifier is not None
        else claim.get("id")
        if isinstance(claim.get("id"), str)
        else None
    )
    seed = t.digest(orjson.dumps(claim, option=orjson.OPT_SORT_KEYS))
    number, changed = t.document_number(raw, seed)
    if raw is None:
        notes.warning(
            "fhir.document-number-missing", f"No identifier or id; numbered {number}.", "identifier"
        )
    elif changed:
        notes.warning(
            "fhir.document-number-adjusted", f"{raw!r} is numbered {number}.", "identifier"
        )
    return number


def _patient(claim: Resource, resolver: Resolver, notes: Notes) -> dict[str, str]:
    reference = claim.get("patient")
    patient = resolver.resolve(reference, "Patient")
    ids = identifiers(reference, patient)
    national_id = _identifier(
        ids,
        systems.NATIONAL_ID,
        t.NATIONAL_ID,
        NATIONAL_ID_FILLER,
        notes,
        "patient-national-id",
        "patient",
    )
    found = identifier_value(ids, systems.INSURANCE_NUMBER) or _insurance_of_claim(claim, resolver)
    insurance = _identifier(
        [{"system": systems.INSURANCE_NUMBER, "value": found}] if found else [],
        systems.INSURANCE_NUMBER,
        t.INSURANCE_NUMBER,
        INSURANCE_FILLER,
        notes,
        "patient-insurance-number",
        "patient",
    )
    out = {"nationalId": national_id, "insuranceNumber": insurance}
    name = t.short_text(human_name(patient))
    if name:
        out["fullName"] = name
    birth = t.to_date(patient.get("birthDate")) if patient else None
    if birth is not None:
        out["birthDate"] = birth.isoformat()
    if patient and patient.get("gender") in _GENDERS:
        out["gender"] = patient["gender"]
    return out


def _identifier(
    ids: list[dict[str, Any]],
    system: str,
    pattern: Any,
    filler: str,
    notes: Notes,
    code: str,
    where: str,
) -> str:
    """An identifier of ``system`` fitting ``pattern``; else an error and the filler."""
    value = identifier_value(ids, system)
    if value is None:
        notes.error(f"fhir.{code}-missing", f"No identifier with system {system}.", where)
        return filler
    if not pattern.fullmatch(value):
        notes.error(f"fhir.{code}-invalid", f"{value!r} ({system}) is not well formed.", where)
        return filler
    return value


def _insurance_of_claim(claim: Resource, resolver: Resolver) -> str | None:
    """Claim.insurance[].identifier or its Coverage's identifier in our system, focal first."""
    entries = [i for i in claim.get("insurance") or [] if isinstance(i, dict)]
    entries.sort(key=lambda i: i.get("focal") is not True)
    for entry in entries:
        own = entry.get("identifier")
        coverage = resolver.resolve(entry.get("coverage"), "Coverage")
        ids = ([own] if isinstance(own, dict) else []) + identifiers(
            entry.get("coverage"), coverage
        )
        value = identifier_value(ids, systems.INSURANCE_NUMBER)
        if value is not None:
            return value
    return None


def _physician(claim: Resource, resolver: Resolver, notes: Notes) -> dict[str, str]:
    """The first care-team member (primary first) or provider with a medical-council number."""
    team = [(i, m) for i, m in enumerate(claim.get("careTeam") or []) if isinstance(m, dict)]
    team.sort(key=lambda pair: (not _is_primary(pair[1]), pair[0]))
    candidates = [(m.get("provider"), f"careTeam[{i}].provider") for i, m in team]
    candidates.append((claim.get("provider"), "provider"))
    for reference, where in candidates:
        person = resolver.resolve(reference, "Practitioner", "PractitionerRole")
        ids = identifiers(reference, person)
        if person is not None and person.get("resourceType") == "PractitionerRole":
            person = resolver.resolve(person.get("practitioner"), "Practitioner")
            ids += identifiers(None, person)
        number = identifier_value(ids, systems.MEDICAL_COUNCIL)
        if number is None:
            continue
        number = number.upper()
        if not t.MEDICAL_COUNCIL_NUMBER.fullmatch(number):
            notes.warning(
                "fhir.physician-invalid", f"{number!r} is not a medical-council number.", where
            )
            continue
        out = {"medicalCouncilNumber": number}
        name = t.short_text(human_name(person))
        if name:
            out["fullName"] = name
        return out
    notes.warning(
        "fhir.physician-missing",
        f"No care-team member or provider with an identifier in {systems.MEDICAL_COUNCIL}.",
        "careTeam",
    )
    return {"medicalCouncilNumber": PHYSICIAN_FILLER}


def _is_primary(member: Resource) -> bool:
    role = member.get("role")
    codings = role.get("coding") or [] if isinstance(role, dict) else []
    return any(isinstance(c, dict) and c.get("code") == "primary" for c in codings)


def _check_centre(claim: Resource, resolver: Resolver, centre_code: str, notes: Notes) -> None:
    reference = claim.get("provider")
    ids = identifiers(reference, resolver.resolve(reference, "Organization"))
    named = identifier_value(ids, systems.CENTRE_CODE)
    if named is not None and named != centre_code:
        notes.error(
            "fhir.centre-mismatch",
            f"The provider is centre {named}, but the token belongs to centre {centre_code}.",
            "provider",
        )


def _referral(claim: Resource, resolver: Resolver, notes: Notes) -> str | None:
    reference = claim.get("referral")
    ids = identifiers(reference, resolver.resolve(reference, "ServiceRequest"))
    value = identifier_value(ids, systems.REFERRAL_CODE)
    if value is not None and not t.REFERRAL_CODE.fullmatch(value):
        notes.warning(
            "fhir.referral-code-invalid", f"{value!r} is not a referral code.", "referral"
        )
        return None
    return value


def _tracking_code(claim: Resource, resolver: Resolver, notes: Notes, number: str) -> str:
    reference = claim.get("prescription")
    ids = identifiers(reference, resolver.resolve(reference))
    value = identifier_value(ids, systems.TRACKING_CODE)
    if value is not None and t.TRACKING_CODE.fullmatch(value.upper()):
        return value.upper()
    filler = t.tracking_filler(number)
    notes.warning(
        "fhir.tracking-code-missing",
        f"No e-prescription tracking code in {systems.TRACKING_CODE}; recorded as {filler}.",
        "prescription",
    )
    return filler
