"""Plain factory functions for test data."""

from __future__ import annotations

import copy
import itertools
import random
import uuid
from datetime import date
from pathlib import Path
from typing import Any

import orjson
from lxml import etree
from sqlalchemy.orm import Session, sessionmaker

from gateway.admin import service as admin
from gateway.admin.registry import SAMPLE_REGISTRY_DIR, import_registry
from gateway.domain.centres import CentreKind, Role, Sector
from gateway.kit.db import transaction
from gateway.pricing import repository as tariffs
from gateway.storage.models import Centre, InsuredCoverage
from validators.schema import claim_schema

_numbers = itertools.count(1)


# Where a priced document rests: pricing approves it or sends it to review in one step.
PRICED_STATES = frozenset({"APPROVED", "UNDER_REVIEW"})
TODAY = date(2026, 11, 23)  # tests pin the clock (GATEWAY_CLOCK_DATE): figures stay exact
INSURANCE_NUMBER = "12345678"


def _registered() -> list[str]:
    """The insured people registered in every test database, reference data like the
    tariff. Each is handed to one test only (``new_national_id``): pricing deducts a
    service already paid for the same patient on the same date, whatever the centre, so
    a patient shared by two tests would let one see the other's documents."""
    ids: dict[str, None] = {}
    seed = 0
    while len(ids) < 6000:
        ids.setdefault(national_id(seed))
        seed += 1
    return list(ids)


def seed_sample_tariff(sessions: sessionmaker[Session], registry: Path | None = None) -> None:
    """The sample tariff and the registered insured people tests are handed; ``registry``
    is another registry folder (for a database at an older revision, without the tables
    of the newer registry files)."""
    with transaction(sessions) as session:
        if tariffs.latest_tariff_version(session) is None:
            admin.import_tariff(session=session, directory=admin.SAMPLE_TARIFF_DIR, label="sample")
            import_registry(session=session, directory=registry or SAMPLE_REGISTRY_DIR)
            session.add_all(
                InsuredCoverage(
                    national_id=code,
                    insurance_number=INSURANCE_NUMBER,
                    valid_from=date(2020, 1, 1),
                    valid_to=None,
                )
                for code in INSURED
            )


def make_centre(
    sessions: sessionmaker[Session],
    *,
    kind: CentreKind = CentreKind.CONTRACTED,
    sector: Sector = Sector.PRIVATE,
) -> tuple[Centre, str]:
    """A new centre with a unique code, and its bearer token."""
    code = f"T{uuid.uuid4().hex[:10].upper()}"
    with transaction(sessions) as session:
        centre = admin.add_centre(session=session, code=code, name=code, kind=kind, sector=sector)
        token = admin.add_token(session=session, role=Role.CENTRE, centre=centre)
    return centre, token


def make_staff_token(sessions: sessionmaker[Session], role: Role = Role.AUDITOR) -> str:
    with transaction(sessions) as session:
        return admin.add_token(session=session, role=role, centre=None)


def national_id(seed: int | None = None) -> str:
    """A national ID with a correct check digit."""
    rng = random.Random(seed)
    while True:
        digits = [rng.randrange(10) for _ in range(9)]
        total = sum(d * (10 - i) for i, d in enumerate(digits)) % 11
        check = total if total < 2 else 11 - total
        code = "".join(map(str, digits)) + str(check)
        if len(set(code)) > 1:
            return code


INSURED = _registered()
_unused = iter(INSURED)


def new_national_id() -> str:
    """An insured person no other test has met: never handed out twice in this process,
    and other processes have databases of their own."""
    try:
        return next(_unused)
    except StopIteration:
        raise RuntimeError(f"all {len(INSURED)} registered patients handed out") from None


def patient() -> dict[str, str]:
    """A new insured person (see ``new_national_id``)."""
    return {"nationalId": new_national_id(), "insuranceNumber": INSURANCE_NUMBER}


def line(code: str, quantity: int, unit_price: int, code_type: str = "service") -> dict[str, Any]:
    return {
        "codeType": code_type,
        "code": code,
        "quantity": quantity,
        "unitPrice": unit_price,
        "amount": quantity * unit_price,
    }


def outpatient_visit(
    lines: list[dict[str, Any]] | None = None,
    *,
    number: str | None = None,
    service_date: str = "2026-11-10",
) -> dict[str, Any]:
    lines = lines or [line("970000", 1, 650_000), line("800010", 1, 300_000)]
    return {
        "outpatientVisit": {
            "documentNumber": number or f"OV-T{next(_numbers):06d}-{uuid.uuid4().hex[:6]}",
            "patient": patient(),
            "physician": {"medicalCouncilNumber": "123456"},
            "serviceDate": service_date,
            "lines": lines,
            "totalAmount": sum(item["amount"] for item in lines),
        }
    }


def inpatient_bill(lines: list[dict[str, Any]], *, number: str | None = None) -> dict[str, Any]:
    return {
        "inpatientBill": {
            "documentNumber": number or f"IP-T{next(_numbers):06d}-{uuid.uuid4().hex[:6]}",
            "patient": patient(),
            "physician": {"medicalCouncilNumber": "123456"},
            "admissionDate": "2026-11-05",
            "dischargeDate": "2026-11-08",
            "lines": lines,
            "totalAmount": sum(item["amount"] for item in lines),
        }
    }


def submission(centre_code: str, *documents: dict[str, Any]) -> dict[str, Any]:
    return {
        "schemaVersion": "1",
        "header": {"centreCode": centre_code, "createdAt": "2026-11-20T10:00:00+03:30"},
        "documents": list(documents) or [outpatient_visit()],
    }


def as_json(data: dict[str, Any]) -> bytes:
    return orjson.dumps(data)


def as_xml(data: dict[str, Any]) -> bytes:
    """The same submission as XML (built through the schema's JSON mapping)."""
    result = claim_schema().check_json(orjson.dumps(data))
    assert result.root is not None
    return etree.tostring(result.root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def renumbered(data: dict[str, Any]) -> dict[str, Any]:
    """A copy whose documents carry fresh numbers and patients, so it can be accepted and
    paid again (not refused as a duplicate document, nor its lines as duplicate services)."""
    copied = copy.deepcopy(data)
    for entry in copied["documents"]:
        (body,) = entry.values()
        body["documentNumber"] = f"R{uuid.uuid4().hex[:12]}"
        body["patient"] = patient()
    return copied
