"""CoverageEligibilityRequest in, CoverageEligibilityResponse out: the FHIR form of the
eligibility inquiry (docs/eligibility.md). The answer is the JSON door's, mapped.

Read from the request: the patient's national ID (an identifier of the patient Reference
or of the contained Patient it points at), the insurance number (likewise, of the focal
insurance's Coverage, or that Coverage's subscriberId), servicedDate (or servicedPeriod's
start), each item's productOrService coding in the tariff's code systems, and the
care-setting extension. A provider or facility naming another centre is refused: the
centre is the token's.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Any

from fhir.resources.R4B.coverageeligibilityrequest import CoverageEligibilityRequest
from fhir.resources.R4B.coverageeligibilityresponse import CoverageEligibilityResponse

from gateway.domain.documents import CodeType
from gateway.eligibility.schemas import MAX_SERVICES, VisitSetting
from gateway.eligibility.service import Inquired, Question
from gateway.errors import ForbiddenError
from gateway.fhir import systems
from gateway.fhir.issues import Issue, StructureError, validate
from gateway.fhir.parse import Syntax, as_json
from gateway.fhir.resolve import Resolver, identifier_value, identifiers
from gateway.fhir.response import INSURER

Resource = dict[str, Any]
ROOT = "CoverageEligibilityRequest"
_NATIONAL_ID = re.compile(r"[0-9]{10}")
_INSURANCE_NUMBER = re.compile(r"[0-9]{6,16}")
_TARIFF_CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9.\-]{0,19}")
_CODE_TYPES = {systems.TARIFF_SERVICE: CodeType.SERVICE, systems.TARIFF_DRUG: CodeType.DRUG}

EXAMPLE: Resource = {
    "resourceType": "CoverageEligibilityRequest",
    "contained": [
        {"resourceType": "Patient", "id": "pat",
         "identifier": [{"system": systems.NATIONAL_ID, "value": "6383233564"}]},
        {"resourceType": "Coverage", "id": "cov", "status": "active",
         "identifier": [{"system": systems.INSURANCE_NUMBER, "value": "55501234"}],
         "beneficiary": {"reference": "#pat"}, "payor": [{"display": "RASA health insurer"}]},
    ],
    "extension": [{"url": systems.CARE_SETTING, "valueCode": "outpatient"}],
    "status": "active",
    "purpose": ["validation", "benefits"],
    "patient": {"reference": "#pat"},
    "servicedDate": "2026-11-25",
    "created": "2026-11-23",
    "insurer": {"display": "RASA health insurer"},
    "insurance": [{"focal": True, "coverage": {"reference": "#cov"}}],
    "item": [
        {"productOrService": {"coding": [{"system": systems.TARIFF_SERVICE, "code": "970005"}]}},
        {"productOrService": {"coding": [{"system": systems.TARIFF_SERVICE, "code": "600100"}]}},
    ],
}  # fmt: skip


def parse_request(body: bytes, syntax: Syntax, centre_code: str) -> tuple[Resource, Question]:
    """The request as FHIR JSON and the question it asks; StructureError lists every
    problem, ForbiddenError a provider or facility of another centre."""
    data = as_json(body, syntax)
    if not isinstance(data, dict) or data.get("resourceType") != ROOT:
        raise StructureError([Issue("", f"The body must be a {ROOT}.", "not-supported")])
    _, issues = validate(CoverageEligibilityRequest, data, ROOT)
    if issues:
        raise StructureError(issues)
    resolver = Resolver(data, {})
    _check_centre(data, resolver, centre_code)
    found: list[Issue] = []
    national_id = _identifier(
        data.get("patient"), resolver, "Patient", systems.NATIONAL_ID, _NATIONAL_ID
    )
    if national_id is None:
        found.append(_needs("patient", f"an identifier in {systems.NATIONAL_ID} (10 digits)"))
    insurance = _focal_insurance(data)
    number = None if insurance is None else _insurance_number(insurance, resolver)
    if number is None:
        found.append(
            _needs(
                "insurance",
                f"a Coverage with an identifier in {systems.INSURANCE_NUMBER} (6 to 16 digits)",
            )
        )
    day = _service_date(data)
    if day is None:
        found.append(_needs("servicedDate", "the day of care"))
    setting = _setting(data, found)
    services = _services(data, found)
    if found:
        raise StructureError(found)
    assert national_id is not None
    assert number is not None
    assert day is not None
    return data, Question(national_id, number, day, setting, services)


def _needs(field: str, what: str) -> Issue:
    return Issue(f"{ROOT}.{field}", f"{field} must give {what}.", "required")


def _check_centre(data: Resource, resolver: Resolver, centre_code: str) -> None:
    for field in ("provider", "facility"):
        reference = data.get(field)
        ids = identifiers(reference, resolver.resolve(reference, "Organization", "Location"))
        named = identifier_value(ids, systems.CENTRE_CODE)
        if named is not None and named != centre_code:
            raise ForbiddenError(
                f"The {field} is centre {named}, but the token belongs to centre {centre_code}: "
                "a centre asks only about care at its own centre."
            )


def _identifier(
    reference: Any, resolver: Resolver, kind: str, system: str, pattern: re.Pattern[str]
) -> str | None:
    value = identifier_value(identifiers(reference, resolver.resolve(reference, kind)), system)
    return value if value is not None and pattern.fullmatch(value) else None


def _focal_insurance(data: Resource) -> Resource | None:
    entries = [i for i in data.get("insurance") or [] if isinstance(i, dict)]
    return next((i for i in entries if i.get("focal") is True), entries[0] if entries else None)


def _insurance_number(insurance: Resource, resolver: Resolver) -> str | None:
    reference = insurance.get("coverage")
    number = _identifier(
        reference, resolver, "Coverage", systems.INSURANCE_NUMBER, _INSURANCE_NUMBER
    )
    if number is not None:
        return number
    coverage = resolver.resolve(reference, "Coverage")
    subscriber = None if coverage is None else coverage.get("subscriberId")
    if isinstance(subscriber, str) and _INSURANCE_NUMBER.fullmatch(subscriber.strip()):
        return subscriber.strip()
    return None


def _service_date(data: Resource) -> date | None:
    raw = data.get("servicedDate")
    if raw is None and isinstance(data.get("servicedPeriod"), dict):
        raw = data["servicedPeriod"].get("start")
    if not isinstance(raw, str) or len(raw) < 10:
        return None
    try:
        return date.fromisoformat(raw[:10])
    except ValueError:
        return None


def _setting(data: Resource, found: list[Issue]) -> VisitSetting:
    for index, extension in enumerate(data.get("extension") or []):
        if isinstance(extension, dict) and extension.get("url") == systems.CARE_SETTING:
            code = extension.get("valueCode")
            try:
                return VisitSetting(str(code))
            except ValueError:
                allowed = ", ".join(VisitSetting)
                message = f"The care setting must be one of {allowed}, not {str(code)[:40]!r}."
                found.append(Issue(f"{ROOT}.extension[{index}]", message, "code-invalid"))
    return VisitSetting.OUTPATIENT


def _services(data: Resource, found: list[Issue]) -> list[tuple[CodeType, str]]:
    items = data.get("item") or []
    if len(items) > MAX_SERVICES:
        message = f"At most {MAX_SERVICES} items may be asked about at once, not {len(items)}."
        found.append(Issue(f"{ROOT}.item", message, "too-costly"))
        return []
    services: list[tuple[CodeType, str]] = []
    for index, item in enumerate(items):
        codings = (item.get("productOrService") or {}).get("coding") or []
        known = [
            (_CODE_TYPES[c["system"]], str(c.get("code") or ""))
            for c in codings
            if isinstance(c, dict) and c.get("system") in _CODE_TYPES
        ]
        if not known or not _TARIFF_CODE.fullmatch(known[0][1]):
            where = f"{ROOT}.item[{index}].productOrService"
            message = (
                f"productOrService must have a tariff code in {systems.TARIFF_SERVICE} or "
                f"{systems.TARIFF_DRUG}."
            )
            found.append(Issue(where, message, "code-invalid"))
            continue
        services.append(known[0])
    return services


# --- the answer ------------------------------------------------------------------------


def _benefit_type(system: str, code: str) -> dict[str, Any]:
    return {"coding": [{"system": system, "code": code}]}


def _copay(inquired: Inquired) -> dict[str, Any]:
    percent = inquired.answer.copay_rate * 100
    benefit: dict[str, Any] = {"type": _benefit_type(systems.BENEFIT_TYPE, "copay-percent")}
    if percent == percent.to_integral_value():
        benefit["allowedUnsignedInt"] = int(percent)
    else:
        benefit["allowedString"] = f"{percent.normalize():f}"
    return benefit


def _items(inquired: Inquired) -> list[dict[str, Any]]:
    plan: dict[str, Any] = {
        "category": {
            "coding": [
                {"system": systems.BENEFIT_CATEGORY, "code": "30",
                 "display": "Health Benefit Plan Coverage"}
            ]
        },
        "benefit": [_copay(inquired)],
    }  # fmt: skip
    items = [plan]
    for service, usage in zip(inquired.answer.services, inquired.usage, strict=True):
        system = (
            systems.TARIFF_DRUG if service.code_type is CodeType.DRUG else systems.TARIFF_SERVICE
        )
        coding: dict[str, Any] = {"system": system, "code": service.code}
        if service.title:
            coding["display"] = service.title
        item: dict[str, Any] = {
            "productOrService": {"coding": [coding]},
            "excluded": not service.covered,
            "authorizationRequired": service.referral_required,
        }
        if service.reasons:
            item["description"] = "; ".join(f"{r.code}: {r.message}" for r in service.reasons)
        if service.covered:
            item["benefit"] = [_copay(inquired)]
        quantity: dict[str, Any] = {
            "type": _benefit_type(systems.BENEFIT, "units-per-document"),
            "usedUnsignedInt": usage.used,
        }
        if service.quantity_limit is not None:
            quantity["allowedUnsignedInt"] = service.quantity_limit
        item.setdefault("benefit", []).append(quantity)
        items.append(item)
    return items


def response_for(inquired: Inquired, request: Resource) -> CoverageEligibilityResponse:
    answer, question = inquired.answer, inquired.question
    insurance: dict[str, Any] = {
        "coverage": {
            "identifier": {"system": systems.INSURANCE_NUMBER, "value": question.insurance_number}
        },
        "inforce": answer.covered,
        "item": _items(inquired),
    }
    if answer.coverage is not None:
        period = {"start": answer.coverage.valid_from.isoformat()}
        if answer.coverage.valid_to is not None:
            period["end"] = answer.coverage.valid_to.isoformat()
        insurance["benefitPeriod"] = period
    disposition = (
        "; ".join(f"{r.code}: {r.message}" for r in answer.reasons)
        if answer.reasons
        else f"Covered at centre {inquired.centre_code} on {question.service_date}."
    )
    purpose = [p for p in request.get("purpose") or [] if isinstance(p, str)] or ["validation"]
    inquiry = {"system": systems.ELIGIBILITY_INQUIRY, "value": inquired.inquiry_id}
    patient = {"system": systems.NATIONAL_ID, "value": question.national_id}
    centre = {"system": systems.CENTRE_CODE, "value": inquired.centre_code}
    return CoverageEligibilityResponse.model_validate(
        {
            "resourceType": "CoverageEligibilityResponse",
            "id": inquired.inquiry_id,
            "identifier": [inquiry],
            "status": "active",
            "purpose": purpose,
            "patient": {"identifier": patient},
            "servicedDate": question.service_date.isoformat(),
            "created": datetime.now(UTC).date().isoformat(),
            "requestor": {"identifier": centre},
            "request": {"identifier": inquiry, "display": "The request this answers"},
            "outcome": "complete",
            "disposition": disposition,
            "insurer": INSURER,
            "insurance": [insurance],
        }
    )
