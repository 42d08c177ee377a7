"""Seeding for bench/pricing.py: accepted 25-line documents written straight to the tables.

All five kinds of document, codes of the sample tariff at mostly tariff prices (some above
tariff, over a quantity limit, not in the tariff, repeated, or missing a referral), valid
national IDs of insured people, four centres of different sectors and kinds.
"""

from __future__ import annotations

import random
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import insert
from sqlalchemy.orm import Session, sessionmaker

from gateway.admin import service as admin
from gateway.admin.registry import SAMPLE_REGISTRY_DIR, import_registry
from gateway.domain.centres import CentreKind, Sector
from gateway.domain.documents import CareSetting, DocumentKind
from gateway.domain.registry import CentreInfo
from gateway.domain.tariff import ItemKind, TariffBook
from gateway.kit.db import transaction
from gateway.pricing.engine.adjudicate import PricingRequest
from gateway.pricing.engine.rules import UnitPrice, tariff_unit_price
from gateway.pricing.service import TariffCache
from gateway.storage.models import Document, DocumentLine, InsuredCoverage, StatusEvent, Submission

MONTH = date(2026, 10, 1)  # service dates fall in this month (one K period)

CENTRES = (  # code, kind, sector, province
    ("BENCH-PRV", CentreKind.CONTRACTED, Sector.PRIVATE, "Tehran"),
    ("BENCH-GOV", CentreKind.OWNED, Sector.GOVERNMENTAL, "Isfahan"),
    ("BENCH-CHR", CentreKind.CONTRACTED, Sector.CHARITY, "Fars"),
    ("BENCH-PNG", CentreKind.CONTRACTED, Sector.PUBLIC_NON_GOVERNMENTAL, "Tehran"),
)
VISITS = ("970000", "970005", "970010", "970020")
LABS = ("800010", "800020", "800030", "800040", "800050", "800060", "800070")
IMAGING = ("700100", "700200", "700300", "700400")
OUTPATIENT_DRUGS = (*(f"200100{n}" for n in range(1, 7)), "2001009", "2001010")
WARD = ("300100", "300200", "300300")
INPATIENT_DRUGS = ("2001007", "2001008", "2001010", "2001001", "2001006")
REFILLS = ("2001001", "2001002", "2001003", "2001004", "2001006")  # limits of 60 to 180
QUANTITY = {  # a usual quantity per line
    "2001001": 21,
    "2001002": 60,
    "2001003": 30,
    "2001004": 30,
    "2001005": 1,
    "2001006": 14,
    "2001007": 4,
    "2001008": 3,
    "2001009": 2,
    "2001010": 3,
}
KINDS = (  # kind, share of documents
    (DocumentKind.OUTPATIENT_VISIT, 0.45),
    (DocumentKind.PARACLINICAL, 0.2),
    (DocumentKind.PRESCRIPTION, 0.2),
    (DocumentKind.INPATIENT_BILL, 0.1),
    (DocumentKind.SURGERY_PACKAGE, 0.05),
)


def national_id(rng: random.Random) -> str:
    while True:
        digits = [rng.randrange(10) for _ in range(9)]
        total = sum(d * (10 - i) for i, d in enumerate(digits)) % 11
        code = "".join(map(str, digits)) + str(total if total < 2 else 11 - total)
        if len(set(code)) > 1:
            return code


class Generator:
    """Realistic documents: mostly tariff prices, some above tariff or over a quantity
    limit, now and then a code not in the tariff, a repeated service or a missing referral."""

    def __init__(self, book: TariffBook, rng: random.Random) -> None:
        self.book = book
        self.rng = rng
        self.prices: dict[tuple[str, Sector], int] = {}
        self.package = ""

    def price(self, code: str, sector: Sector, on: date) -> int:
        key = (code, sector)
        if key not in self.prices:
            item = self.book.item(code, on)
            centre = CentreInfo("X", "X", CentreKind.CONTRACTED, sector)
            request = PricingRequest(centre=centre, setting=CareSetting.OUTPATIENT, lines=[])
            unit = tariff_unit_price(item, self.book, request, on) if item else None
            self.prices[key] = unit.price if isinstance(unit, UnitPrice) else 100_000
        return self.prices[key]

    def lines(self, kind: DocumentKind, sector: Sector, start: date, count: int) -> list[Any]:
        """Distinct codes first; then refills of common drugs on other days."""
        rng = self.rng
        codes: list[tuple[str, int, date]] = []  # code, quantity, date
        days = [start + timedelta(days=n) for n in range(rng.randint(4, 7))]
        if kind in (DocumentKind.INPATIENT_BILL, DocumentKind.SURGERY_PACKAGE):
            surgery = "400200" if kind is DocumentKind.INPATIENT_BILL else self.package_item()
            codes.append((surgery, 1, days[0]))
            codes += [(code, 1, day) for day in days for code in WARD]
            pool = [(c, QUANTITY[c]) for c in INPATIENT_DRUGS] + [(c, 1) for c in LABS]
        elif kind is DocumentKind.PRESCRIPTION:
            pool = [(c, QUANTITY[c]) for c in OUTPATIENT_DRUGS]
        elif kind is DocumentKind.PARACLINICAL:
            pool = [(c, 1) for c in LABS + IMAGING]
        else:
            codes.append((rng.choice(VISITS), 1, days[0]))
            pool = [(c, 1) for c in LABS + IMAGING] + [(c, QUANTITY[c]) for c in OUTPATIENT_DRUGS]
        picked = rng.sample(pool, min(len(pool), max(0, count - len(codes))))
        codes += [(code, quantity, rng.choice(days)) for code, quantity in picked]
        used = {(code, day) for code, _, day in codes}
        while len(codes) < count:
            free = [(code, day) for day in days for code in REFILLS if (code, day) not in used]
            for code, day in rng.sample(free, min(len(free), count - len(codes))):
                codes.append((code, max(1, QUANTITY[code] // 3), day))
                used.add((code, day))
            days.append(days[-1] + timedelta(days=1))
        for n, (_, quantity, day) in enumerate(codes):
            if rng.random() < 0.01:
                codes[n] = ("999999", quantity, day)  # not in the tariff
        return [self.line(code, quantity, day, sector) for code, quantity, day in codes[:count]]

    def package_item(self) -> str:
        self.package = self.rng.choice(("P400100", "P400300"))
        return "400100" if self.package == "P400100" else "400300"

    def line(self, code: str, quantity: int, day: date, sector: Sector) -> dict[str, Any]:
        unit = self.price(code, sector, day)
        roll = self.rng.random()
        if roll < 0.15:
            unit = unit * 11 // 10  # above tariff
        elif roll < 0.17:
            quantity += 2  # perhaps over the per-document limit
        item = self.book.item(code, day)
        drug = item is not None and item.kind is ItemKind.DRUG
        return {
            "code_type": "drug" if drug or code.startswith("2001") else "service",
            "code": code,
            "service_date": day,
            "quantity": quantity,
            "unit_price": unit,
            "amount": quantity * unit,
        }


def seed(sessions: sessionmaker[Session], documents: int, lines: int, seed: int) -> None:
    rng = random.Random(seed)
    with transaction(sessions) as session:
        admin.import_tariff(session=session, directory=admin.SAMPLE_TARIFF_DIR, label="sample")
        import_registry(session=session, directory=SAMPLE_REGISTRY_DIR)
        centres = [
            admin.add_centre(
                session=session, code=code, name=code, kind=kind, sector=sector, province=prov
            )
            for code, kind, sector, prov in CENTRES
        ]
    with sessions() as session:
        book = TariffCache().current(session)
    generator = Generator(book, rng)
    patients = list({national_id(rng): None for _ in range(documents * 9 // 10)})
    now = datetime.now(UTC)
    with transaction(sessions) as session:
        session.execute(
            insert(InsuredCoverage),
            [
                {
                    "national_id": p,
                    "insurance_number": insurance_number(p),
                    "valid_from": date(2020, 1, 1),
                    "valid_to": None,
                }
                for p in patients
            ],
        )
    kinds, weights = zip(*KINDS, strict=True)
    for start in range(0, documents, 1000):
        count = min(1000, documents - start)
        _seed_submission(sessions, centres, generator, patients, kinds, weights, count, lines, now)


def insurance_number(national_id: str) -> str:
    """The patient's registered insurance number (the documents give the same one)."""
    return national_id[:8]


def _seed_submission(
    sessions: sessionmaker[Session],
    centres: list[Any],
    generator: Generator,
    patients: list[str],
    kinds: tuple[DocumentKind, ...],
    weights: tuple[float, ...],
    count: int,
    lines: int,
    now: datetime,
) -> None:
    rng = generator.rng
    submission_id = uuid.uuid4()
    centre = rng.choice(centres)
    documents: list[dict[str, Any]] = []
    rows: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    for ordinal in range(count):
        kind = rng.choices(kinds, weights)[0]
        day = MONTH + timedelta(days=rng.randrange(25))
        document_id = uuid.uuid4()
        document_lines = generator.lines(kind, Sector(centre.sector), day, lines)
        total = sum(line["amount"] for line in document_lines)
        inpatient = kind in (DocumentKind.INPATIENT_BILL, DocumentKind.SURGERY_PACKAGE)
        package = generator.package if kind is DocumentKind.SURGERY_PACKAGE else None
        documents.append(
            {
                "id": document_id,
                "submission_id": submission_id,
                "centre_id": centre.id,
                "ordinal": ordinal,
                "kind": kind.value,
                "external_id": f"B-{uuid.uuid4().hex[:16]}",
                "status": "ACCEPTED",
                "source_path": f"/submission/documents/*[{ordinal + 1}]",
                "patient_national_id": (patient := rng.choice(patients)),
                "insurance_number": insurance_number(patient),
                "physician_number": f"{rng.randrange(10**6):06d}",
                "physician_grade": rng.choice(("general", "specialist", "subspecialist")),
                "referral_code": None if rng.random() < 0.05 else f"R{rng.randrange(10**9)}",
                "package_code": package,
                "service_date": day,
                "admission_date": day if inpatient else None,
                "discharge_date": day + timedelta(days=3) if inpatient else None,
                "total_amount": total,
                "requested_amount": total,
                "problems": [],
                "created_at": now,
                "updated_at": now,
            }
        )
        rows += [
            {"document_id": document_id, "line_no": n, **line}
            for n, line in enumerate(document_lines, start=1)
        ]
        events += [
            _event(document_id, None, "RECEIVED", now),
            _event(document_id, "RECEIVED", "ACCEPTED", now),
        ]
    with transaction(sessions) as session:
        session.execute(
            insert(Submission),
            [
                {
                    "id": submission_id,
                    "centre_id": centre.id,
                    "format": "xml",
                    "received_at": now,
                    "document_count": count,
                    "accepted_count": count,
                    "rejected_count": 0,
                }
            ],
        )
        session.execute(insert(Document), documents)
        session.execute(insert(DocumentLine), rows)
        session.execute(insert(StatusEvent), events)


def _event(document_id: uuid.UUID, old: str | None, new: str, at: datetime) -> dict[str, Any]:
    return {
        "document_id": document_id,
        "from_status": old,
        "to_status": new,
        "actor": "bench",
        "reason": "seeded",
        "created_at": at,
    }
