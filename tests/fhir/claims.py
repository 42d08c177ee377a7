"""Hand-made FHIR Claims using the gateway's identifier systems, and request helpers."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from gateway.fhir import systems

# Public FHIR examples kept in the repository (tests/data/fhir/SOURCES.md says whence).
CORPUS = Path(__file__).resolve().parents[1] / "data" / "fhir"
FHIR_JSON = "application/fhir+json"
FHIR_XML = "application/fhir+xml"


def auth(token: str, media: str | None = FHIR_JSON, **extra: str) -> dict[str, str]:
    headers = {"Authorization": f"Bearer {token}", **extra}
    if media is not None:
        headers["Content-Type"] = media
    return headers


def item(
    sequence: int,
    code: str,
    quantity: float | None,
    unit_price: float | None,
    system: str = systems.TARIFF_SERVICE,
    **extra: Any,
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "sequence": sequence,
        "productOrService": {"coding": [{"system": system, "code": code}]},
    }
    if quantity is not None:
        out["quantity"] = {"value": quantity}
    if unit_price is not None:
        out["unitPrice"] = {"value": unit_price, "currency": "IRR"}
    return {**out, **extra}


def patient(national_id: str | None, insurance: str | None = "12345678") -> dict[str, Any]:
    identifiers = []
    if national_id is not None:
        identifiers.append({"system": systems.NATIONAL_ID, "value": national_id})
    if insurance is not None:
        identifiers.append({"system": systems.INSURANCE_NUMBER, "value": insurance})
    return {
        "resourceType": "Patient",
        "id": "pat",
        "identifier": identifiers,
        "name": [{"given": ["Sara"], "family": "Ahmadi"}],
        "gender": "female",
        "birthDate": "1980-05-01",
    }


def practitioner(number: str = "123456") -> dict[str, Any]:
    return {
        "resourceType": "Practitioner",
        "id": "doc",
        "identifier": [{"system": systems.MEDICAL_COUNCIL, "value": number}],
        "name": [{"text": "Dr. Reza Karimi"}],
    }


def claim(
    national_id: str | None,
    items: list[dict[str, Any]],
    *,
    number: str | None = None,
    kind: str = "professional",
    start: str = "2026-11-10",
    end: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A Claim whose Patient and Practitioner are contained, in our identifier systems."""
    return {
        "resourceType": "Claim",
        "id": f"c-{uuid.uuid4().hex[:8]}",
        "identifier": [
            {"system": "urn:example:his", "value": number or f"FH-{uuid.uuid4().hex[:10]}"}
        ],
        "contained": [patient(national_id), practitioner()],
        "status": "active",
        "type": {"coding": [{"system": systems.CLAIM_TYPE, "code": kind}]},
        "use": "claim",
        "patient": {"reference": "#pat"},
        "billablePeriod": {"start": start, "end": end or start},
        "created": "2026-11-20",
        "provider": {"reference": "#doc"},
        "priority": {"coding": [{"code": "normal"}]},
        "insurance": [{"sequence": 1, "focal": True, "coverage": {"display": "basic"}}],
        "item": items,
        **extra,
    }
