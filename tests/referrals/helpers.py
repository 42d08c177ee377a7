"""A referral programme of a test's own: a level-1 centre with a family physician and a
patient on the list, a specialist centre, both in a province the sample rollout covers."""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from gateway.admin import service as admin
from gateway.admin.registry import import_registry
from gateway.domain.centres import CentreKind, Role, Sector
from gateway.kit.db import transaction
from tests import factories as f

JSON = {"Content-Type": "application/json"}


def auth(token: str, extra: dict[str, str] | None = None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", **(extra or {})}


@dataclass(frozen=True, slots=True)
class Programme:
    family_centre: str
    family_token: str
    physician: str
    patient: str
    specialist_centre: str
    specialist_token: str
    other_token: str


def _centre(
    sessions: sessionmaker[Session], kind: CentreKind, province: str | None
) -> tuple[str, str]:
    code = f"R{uuid.uuid4().hex[:10].upper()}"
    with transaction(sessions) as session:
        centre = admin.add_centre(
            session=session,
            code=code,
            name=code,
            kind=kind,
            sector=Sector.GOVERNMENTAL if kind is CentreKind.OWNED else Sector.PRIVATE,
            province=province,
        )
        token = admin.add_token(session=session, role=Role.CENTRE, centre=centre)
    return code, token


def programme(
    sessions: sessionmaker[Session], folder: Path, *, province: str = "Tehran"
) -> Programme:
    """Centres, a family physician and one patient on the list, through the registry import."""
    family, family_token = _centre(sessions, CentreKind.OWNED, province)
    specialist, specialist_token = _centre(sessions, CentreKind.CONTRACTED, province)
    _, other_token = _centre(sessions, CentreKind.CONTRACTED, province)
    physician = f"{random.randrange(10**7, 10**8)}"
    patient = f.new_national_id()
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "family_physicians.csv").write_text(
        f"medical_council_number,full_name,centre_code\n{physician},Dr. Test,{family}\n"
    )
    (folder / "patient_lists.csv").write_text(
        f"national_id,medical_council_number,valid_from,valid_to\n{patient},{physician},"
        "2024-01-01,\n"
    )
    with transaction(sessions) as session:
        import_registry(session=session, directory=folder)
    return Programme(
        family, family_token, physician, patient, specialist, specialist_token, other_token
    )


def issue(client: TestClient, p: Programme, **changes: Any) -> dict[str, Any]:
    body = {
        "physician": p.physician,
        "patient": p.patient,
        "level": 2,
        "reason": "I20.9",
        "issued_on": "2026-11-01",
        **changes,
    }
    answer = client.post("/v1/referrals", json=body, headers=auth(p.family_token))
    assert answer.status_code == 201, answer.text
    result: dict[str, Any] = answer.json()
    return result


def specialist_visit(
    p: Programme,
    code: str | None,
    *,
    patient: str | None = None,
    service_date: str = "2026-11-10",
    grade: str = "specialist",
    specialty: str | None = None,
    attributes: dict[str, Any] | None = None,
) -> dict[str, Any]:
    visit = f.outpatient_visit([f.line("970005", 1, 1_500_000)], service_date=service_date)
    body = visit["outpatientVisit"]
    body["patient"] = {"nationalId": patient or p.patient, "insuranceNumber": f.INSURANCE_NUMBER}
    body["physician"] = {"medicalCouncilNumber": "654321", "grade": grade}
    if specialty:
        body["physician"]["specialty"] = specialty
    if code is not None:
        body["referralCode"] = code
    body.update(attributes or {})
    return visit


def submit(
    client: TestClient, p: Programme, *documents: dict[str, Any], token: str | None = None
) -> list[dict[str, Any]]:
    answer = client.post(
        "/v1/submissions",
        content=f.as_json(f.submission(p.specialist_centre, *documents)),
        headers=auth(token or p.specialist_token, JSON),
    )
    assert answer.status_code == 202, answer.text
    documents_out: list[dict[str, Any]] = answer.json()["documents"]
    return documents_out


def error_codes(document: dict[str, Any]) -> list[tuple[str, str]]:
    return [(e["code"], e["path"]) for e in document["errors"]]
