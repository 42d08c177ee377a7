"""Writes realistic batch files of any size, streaming (constant memory).

All five document types; lines with codes of the sample tariff (drugs as drugs,
inpatient services on stays, package contents on surgery packages); national IDs with a
valid check digit, registered in an insured.csv written beside (load it with `gateway
registry import DIR`); dates inside the submission window of the fixed clock
(GATEWAY_CLOCK_DATE, 2026-11-23). ``--invalid-share`` of the documents carry one fault
each: some the schema refuses, some the rules.

    python bench/generate.py batch.xml --documents 100000
    python bench/generate.py batch.json.gz --format json --gzip --invalid-share 0.1 --seed 7
"""

from __future__ import annotations

import argparse
import csv
import gzip
import io
import random
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any, BinaryIO

import orjson

ROOT = Path(__file__).resolve().parent.parent
TARIFF = ROOT / "schemas" / "tariff" / "sample"
NAMESPACE = "urn:rasa-gateway:claim:1"
CLOCK = date(2026, 11, 23)
EARLIEST = CLOCK - timedelta(days=80)  # inside the 90-day submission window
LATEST = CLOCK - timedelta(days=3)
KINDS = ("outpatientVisit", "prescription", "paraclinical", "inpatientBill", "surgeryPackage")
FAULTS = (
    "schema-national-id",  # the schema refuses: nine digits
    "schema-missing-total",  # the schema refuses: no totalAmount
    "national-id-checksum",
    "amount-mismatch",
    "total-mismatch",
    "date-in-future",
    "not-insured",
    "duplicate-number",
)


@dataclass(frozen=True, slots=True)
class Code:
    code: str
    kind: str  # service | drug | package
    setting: str  # outpatient | inpatient | both
    max_quantity: int


@dataclass(slots=True)
class Tariff:
    outpatient: list[Code] = field(default_factory=list)
    inpatient: list[Code] = field(default_factory=list)
    drugs: list[Code] = field(default_factory=list)
    paraclinical: dict[str, list[Code]] = field(default_factory=dict)
    packages: dict[str, list[str]] = field(default_factory=dict)


def load_tariff(directory: Path = TARIFF) -> Tariff:
    tariff = Tariff()
    seen: set[str] = set()
    with (directory / "services.csv").open(newline="") as handle:
        for row in csv.DictReader(handle):
            if row["code"] in seen or row["kind"] == "package" or row["covered"] != "true":
                continue
            seen.add(row["code"])
            code = Code(row["code"], row["kind"], row["setting"], int(row["max_quantity"] or 99))
            if code.kind == "drug":
                tariff.drugs.append(code)
                continue
            if code.setting in ("outpatient", "both"):
                tariff.outpatient.append(code)
            if code.setting in ("inpatient", "both"):
                tariff.inpatient.append(code)
            family = {"8": "laboratory", "7": "imaging", "6": "physiotherapy"}.get(code.code[0])
            if family:
                tariff.paraclinical.setdefault(family, []).append(code)
    with (directory / "package_contents.csv").open(newline="") as handle:
        for row in csv.DictReader(handle):
            tariff.packages.setdefault(row["package_code"], []).append(row["item_code"])
    return tariff


def national_id(rng: random.Random) -> str:
    """Ten digits whose last is the Iranian check digit of the nine before it."""
    while True:
        digits = [rng.randrange(10) for _ in range(9)]
        total = sum(d * (10 - i) for i, d in enumerate(digits)) % 11
        code = "".join(map(str, digits)) + str(total if total < 2 else 11 - total)
        if len(set(code)) > 1:
            return code


def patients(count: int, seed: int) -> list[tuple[str, str]]:
    """(national ID, insurance number) of ``count`` distinct people."""
    rng = random.Random(f"patients-{seed}")
    found: dict[str, str] = {}
    while len(found) < count:
        found.setdefault(national_id(rng), str(rng.randrange(10**8, 10**10)))
    return list(found.items())


def write_insured(path: Path, people: list[tuple[str, str]]) -> None:
    """The register of the generated people, as `gateway registry import` reads it."""
    with path.open("w", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(["national_id", "insurance_number", "valid_from", "valid_to"])
        for code, number in people:
            out.writerow([code, number, "2024-01-01", ""])


class Documents:
    """Document after document, as the JSON form (keys in the XSD's order)."""

    def __init__(
        self,
        *,
        tariff: Tariff,
        people: list[tuple[str, str]],
        lines: int,
        invalid_share: float,
        seed: int,
    ) -> None:
        self.tariff = tariff
        self.people = people
        self.lines = lines
        self.invalid_share = invalid_share
        self.rng = random.Random(seed)
        self.seed = seed
        self.faults: dict[str, int] = {}
        self.kinds: dict[str, int] = {}

    def __iter__(self) -> Iterator[dict[str, Any]]:
        number = 0
        while True:
            kind = KINDS[number % len(KINDS)]
            body = getattr(self, f"_{kind}")(self.rng)
            body["documentNumber"] = f"B{self.seed}-{number:08d}"
            if self.rng.random() < self.invalid_share:
                self._spoil(body, number)
            else:
                self._total(body)
            self.kinds[kind] = self.kinds.get(kind, 0) + 1
            yield {kind: body}
            number += 1

    # -- the five kinds --------------------------------------------------------------

    def _base(self, rng: random.Random) -> dict[str, Any]:
        code, insurance = rng.choice(self.people)
        return {
            "documentNumber": "",
            "patient": {"nationalId": code, "insuranceNumber": insurance},
            "physician": {
                "medicalCouncilNumber": str(rng.randrange(100000, 999999)),
                "grade": rng.choice(("general", "specialist", "specialist", "subspecialist")),
            },
            "referralCode": str(rng.randrange(10**9, 10**10)),
            # A made-up code names no referral: marked self-referred, the document is
            # accepted (the code kept as a warning) and priced under the self-referral
            # policy, as in bench/ingest.py.
            "selfReferred": True,
        }

    def _day(self, rng: random.Random, latest: date = LATEST) -> date:
        return EARLIEST + timedelta(days=rng.randrange((latest - EARLIEST).days + 1))

    def _lines(
        self, rng: random.Random, codes: list[Code], days: list[date] | None, drugs: float
    ) -> list[dict[str, Any]]:
        used: dict[str, int] = {}
        out: list[dict[str, Any]] = []
        for _ in range(self.lines):
            pool = self.tariff.drugs if rng.random() < drugs else codes
            code = rng.choice(pool)
            left = code.max_quantity - used.get(code.code, 0)
            if left <= 0:
                code = rng.choice(self.tariff.drugs)
                left = code.max_quantity - used.get(code.code, 0)
            quantity = max(1, min(left, rng.randrange(1, 4)))
            used[code.code] = used.get(code.code, 0) + quantity
            if code.kind == "drug":
                price = rng.randrange(20, 400) * 1000
            else:
                price = rng.randrange(3, 90) * 100_000
            line: dict[str, Any] = {"codeType": code.kind, "code": code.code}
            if days is not None:
                line["serviceDate"] = rng.choice(days).isoformat()
            line.update(quantity=quantity, unitPrice=price, amount=quantity * price)
            out.append(line)
        return out

    def _outpatientVisit(self, rng: random.Random) -> dict[str, Any]:
        body = self._base(rng)
        body["serviceDate"] = self._day(rng).isoformat()
        body["lines"] = self._lines(rng, self.tariff.outpatient, None, 0.4)
        return body

    def _prescription(self, rng: random.Random) -> dict[str, Any]:
        body = self._base(rng)
        body["trackingCode"] = f"RX{rng.randrange(10**9, 10**10)}"
        body["serviceDate"] = self._day(rng).isoformat()
        body["lines"] = self._lines(rng, self.tariff.drugs, None, 1.0)
        return body

    def _paraclinical(self, rng: random.Random) -> dict[str, Any]:
        body = self._base(rng)
        category = rng.choice(sorted(self.tariff.paraclinical))
        body["category"] = category
        body["serviceDate"] = self._day(rng).isoformat()
        body["lines"] = self._lines(rng, self.tariff.paraclinical[category], None, 0.2)
        return body

    def _stay(self, rng: random.Random, body: dict[str, Any]) -> list[date]:
        discharge = self._day(rng)
        admission = max(EARLIEST, discharge - timedelta(days=rng.randrange(1, 8)))
        body["admissionDate"] = admission.isoformat()
        body["dischargeDate"] = discharge.isoformat()
        return [admission + timedelta(days=n) for n in range((discharge - admission).days + 1)]

    def _inpatientBill(self, rng: random.Random) -> dict[str, Any]:
        body = self._base(rng)
        days = self._stay(rng, body)
        body["lines"] = self._lines(rng, self.tariff.inpatient, days, 0.4)
        return body

    def _surgeryPackage(self, rng: random.Random) -> dict[str, Any]:
        body = self._base(rng)
        package = rng.choice(sorted(self.tariff.packages))
        body["packageCode"] = package
        days = self._stay(rng, body)
        contents = [c for c in self.tariff.inpatient if c.code in self.tariff.packages[package]]
        body["lines"] = self._lines(rng, contents or self.tariff.inpatient, days, 0.3)
        return body

    # -- totals and faults -----------------------------------------------------------

    @staticmethod
    def _total(body: dict[str, Any]) -> None:
        body["totalAmount"] = sum(line["amount"] for line in body["lines"])

    def _spoil(self, body: dict[str, Any], number: int) -> None:
        fault = self.rng.choice(FAULTS)
        self.faults[fault] = self.faults.get(fault, 0) + 1
        self._total(body)
        patient = body["patient"]
        if fault == "schema-national-id":
            patient["nationalId"] = patient["nationalId"][:9]
        elif fault == "schema-missing-total":
            del body["totalAmount"]
        elif fault == "national-id-checksum":
            last = int(patient["nationalId"][9])
            patient["nationalId"] = patient["nationalId"][:9] + str((last + 1) % 10)
        elif fault == "amount-mismatch":
            body["lines"][0]["amount"] += 1000
            self._total(body)
        elif fault == "total-mismatch":
            body["totalAmount"] += 1
        elif fault == "date-in-future":
            key = "serviceDate" if "serviceDate" in body else "dischargeDate"
            body[key] = (CLOCK + timedelta(days=5)).isoformat()
        elif fault == "not-insured":
            patient["nationalId"] = national_id(self.rng)
        elif fault == "duplicate-number" and number > 0:
            body["documentNumber"] = f"B{self.seed}-{self.rng.randrange(number):08d}"


# Keys the XSD has as attributes (the JSON form has them as keys like any other).
ATTRIBUTES = frozenset({"selfReferred", "emergency"})


def _xml(name: str, value: Any, indent: str, out: list[str]) -> None:
    if isinstance(value, dict):
        attributes = "".join(
            f' {key}="{str(item).lower() if isinstance(item, bool) else item}"'
            for key, item in value.items()
            if key in ATTRIBUTES
        )
        out.append(f"{indent}<{name}{attributes}>\n")
        for key, item in value.items():
            if key not in ATTRIBUTES:
                _xml(key, item, indent + "  ", out)
        out.append(f"{indent}</{name}>\n")
    elif isinstance(value, list):
        out.append(f"{indent}<{name}>\n")
        for item in value:
            _xml("line", item, indent + "  ", out)
        out.append(f"{indent}</{name}>\n")
    else:
        out.append(f"{indent}<{name}>{value}</{name}>\n")


def header(centre: str, seed: int) -> dict[str, str]:
    return {
        "centreCode": centre,
        "submissionNumber": f"BATCH-{seed}",
        "createdAt": f"{LATEST.isoformat()}T20:00:00+03:30",
        "software": "bench/generate.py",
    }


def write_batch(
    out: BinaryIO,
    documents: Iterator[dict[str, Any]],
    count: int,
    *,
    fmt: str,
    centre: str,
    seed: int,
) -> None:
    """``count`` documents from ``documents`` as one submission in XML or JSON."""
    text = io.TextIOWrapper(out, encoding="utf-8", newline="\n", write_through=False)
    head = header(centre, seed)
    if fmt == "json":
        text.write('{"schemaVersion":"1","header":' + orjson.dumps(head).decode())
        text.write(',"documents":[\n')
    else:
        text.write('<?xml version="1.0" encoding="UTF-8"?>\n')
        text.write(f'<submission xmlns="{NAMESPACE}" schemaVersion="1">\n')
        parts: list[str] = []
        _xml("header", head, "  ", parts)
        text.write("".join(parts) + "  <documents>\n")
    for index, document in zip(range(count), documents, strict=False):
        (body,) = document.values()
        if fmt == "json":
            text.write(("," if index else "") + orjson.dumps(document).decode() + "\n")
        else:
            parts = []
            ((kind, body),) = document.items()
            _xml(kind, body, "    ", parts)
            text.write("".join(parts))
    text.write("]}\n" if fmt == "json" else "  </documents>\n</submission>\n")
    text.flush()
    text.detach()


@dataclass(frozen=True, slots=True)
class Generated:
    path: Path
    documents: int
    faulty: int
    insured: Path | None


def generate(
    path: Path,
    *,
    documents: int,
    fmt: str = "xml",
    invalid_share: float = 0.05,
    seed: int = 1,
    lines: int = 25,
    centre: str = "DEMO-001",
    gzipped: bool = False,
    patients_count: int | None = None,
    insured: Path | None = None,
) -> Generated:
    """Write a batch file (and the register of its patients when ``insured`` is given)."""
    people = patients(patients_count or max(1000, documents // 2), seed)
    if insured is not None:
        write_insured(insured, people)
    source = Documents(
        tariff=load_tariff(), people=people, lines=lines, invalid_share=invalid_share, seed=seed
    )
    with path.open("wb") as raw:
        if gzipped:
            with gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=6) as packed:
                write_batch(packed, iter(source), documents, fmt=fmt, centre=centre, seed=seed)  # type: ignore[arg-type]
        else:
            write_batch(raw, iter(source), documents, fmt=fmt, centre=centre, seed=seed)
    return Generated(path, documents, sum(source.faults.values()), insured)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("output", type=Path)
    parser.add_argument("--documents", type=int, default=1000)
    parser.add_argument("--format", choices=("xml", "json"), default="xml")
    parser.add_argument("--invalid-share", type=float, default=0.05)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--lines", type=int, default=25)
    parser.add_argument("--centre", default="DEMO-001")
    parser.add_argument("--patients", type=int, default=None, help="default: documents / 2")
    parser.add_argument("--gzip", action="store_true")
    parser.add_argument(
        "--insured",
        type=Path,
        default=None,
        help="also write the patients' register here (insured.csv)",
    )
    args = parser.parse_args(argv)
    made = generate(
        args.output,
        documents=args.documents,
        fmt=args.format,
        invalid_share=args.invalid_share,
        seed=args.seed,
        lines=args.lines,
        centre=args.centre,
        gzipped=args.gzip,
        patients_count=args.patients,
        insured=args.insured,
    )
    size = made.path.stat().st_size
    print(
        f"{made.path}: {made.documents} documents ({made.faulty} with a fault), "
        f"{size / 1e6:.1f} MB",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
