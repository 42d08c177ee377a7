"""Validation throughput on one core: schema + every business rule, reference data in memory.

Prints documents/s for XML and JSON, beside xmlschema validating the same document's JSON
(its own JSON form, through the same XSD), and the ratios the targets are stated in:
XML >= 5,000 documents/s; JSON >= 20 x xmlschema. The workloads take turns in short
rounds and each figure is the median round, so a change in the machine's load touches
all of them alike and the ratios stay comparable.

    python bench/validate.py [--lines 25] [--seconds 3]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from statistics import median
from typing import NamedTuple

import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import xmlschema  # noqa: E402
from lxml import etree  # noqa: E402

from gateway.admin.registry import SAMPLE_REGISTRY_DIR, read_registry  # noqa: E402
from gateway.domain.centres import CentreKind, Sector  # noqa: E402
from gateway.domain.registry import CentreInfo  # noqa: E402
from gateway.domain.tariff import TariffBook  # noqa: E402
from gateway.pricing.tariff_csv import read_book  # noqa: E402
from validators.business import validate_submission  # noqa: E402
from validators.context import RuleContext  # noqa: E402
from validators.reader import read_result  # noqa: E402
from validators.schema import CLAIM_XSD, Format, claim_schema  # noqa: E402

EXAMPLE = ROOT / "schemas" / "examples" / "valid" / "outpatient-visit.json"
ROUNDS = 15


class Figure(NamedTuple):
    median: float
    low: float
    high: float


def document(lines: int) -> dict:
    """The bundled outpatient visit, with ``lines`` distinct covered codes of the tariff."""
    data = orjson.loads(EXAMPLE.read_bytes())
    (visit,) = data["documents"][0].values()
    visit["referralCode"] = "1000456789"
    items = [
        i
        for i in read_book(ROOT / "schemas" / "tariff" / "sample").items
        if i.covered and i.kind != "package" and i.valid_to is None
    ]
    visit["lines"] = []
    for index in range(lines):
        item = items[index % len(items)]
        unit = 100_000 + 1_000 * index
        visit["lines"].append(
            {
                "codeType": "drug" if item.kind == "drug" else "service",
                "code": item.code,
                "description": item.title[:60],
                "quantity": 1,
                "unitPrice": unit,
                "amount": unit,
            }
        )
    visit["totalAmount"] = sum(line["amount"] for line in visit["lines"])
    return data


def context() -> RuleContext:
    book = read_book(ROOT / "schemas" / "tariff" / "sample")
    registry = read_registry(SAMPLE_REGISTRY_DIR)
    centre = registry.centres.get("DEMO-001") or CentreInfo(
        "DEMO-001", "Demo", CentreKind.CONTRACTED, Sector.PRIVATE, "Tehran"
    )
    return RuleContext(
        today=date(2026, 11, 23),
        centre=centre,
        coverages=registry.coverages,
        tariff=TariffBook.build(1, "sample", book.items, book.ks),
    )


def rates(workloads: dict[str, Callable[[], object]], seconds: float) -> dict[str, Figure]:
    """Documents/s of each workload over ``seconds``, in interleaved rounds."""
    for work in workloads.values():
        work()  # warm-up: first-use costs are not part of the steady state
    samples: dict[str, list[float]] = {name: [] for name in workloads}
    for _ in range(ROUNDS):
        for name, work in workloads.items():
            done, began = 0, time.perf_counter()
            while (elapsed := time.perf_counter() - began) < seconds / ROUNDS:
                for _ in range(5):
                    work()
                done += 5
            samples[name].append(done / elapsed)
    return {name: Figure(median(v), min(v), max(v)) for name, v in samples.items()}


def measure(lines: int = 25, seconds: float = 3.0) -> dict[str, Figure]:
    """Documents/s of each workload (the names below), median of the rounds."""
    schema, ctx = claim_schema(), context()
    data = document(lines)
    json_body = orjson.dumps(data, option=orjson.OPT_INDENT_2)  # as the bundled examples
    # Indented like the bundled XML examples (and most hand-written or HIS-exported XML).
    tree = etree.fromstring(
        etree.tostring(schema.check_json(json_body).root),
        parser=etree.XMLParser(remove_blank_text=True),
    )
    xml_body = etree.tostring(tree, encoding="UTF-8", xml_declaration=True, pretty_print=True)

    def full(body: bytes, fmt: Format) -> Callable[[], object]:
        def run() -> object:
            result = schema.check(body, fmt)
            assert result.ok, result.problems
            report = validate_submission(read_result(result), ctx, centre_code="DEMO-001")
            assert not any(report.documents[0]), report.documents
            return report

        return run

    # xmlschema's documented way to validate JSON data against a schema: from_json decodes
    # it and encodes it into an element tree through the schema, validating as it goes
    # (validation="strict" raises on the first error). The JSON is xmlschema's own
    # convention for this document, so it needs no conversion first.
    reference = xmlschema.XMLSchema10(str(CLAIM_XSD))
    their_json = orjson.dumps(reference.to_dict(xml_body.decode()))

    def xmlschema_json() -> object:
        return xmlschema.from_json(their_json.decode(), schema=reference)

    lxml_schema = etree.XMLSchema(etree.parse(str(CLAIM_XSD)))

    def bare_lxml() -> object:
        return lxml_schema.validate(etree.fromstring(xml_body))

    return rates(
        {
            "XML: schema + rules": full(xml_body, Format.XML),
            "JSON: schema + rules": full(json_body, Format.JSON),
            "JSON: schema only": lambda: schema.check_json(json_body),
            "xmlschema: from_json of the same document": xmlschema_json,
            "bare lxml parse + validate of the XML (floor)": bare_lxml,
        },
        seconds,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lines", type=int, default=25)
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()
    figures = measure(args.lines, args.seconds)
    width = max(map(len, figures))
    print(
        f"\n  {args.lines}-line outpatient visit, one core, documents/s (median of {ROUNDS} rounds)"
    )
    for name, (value, low, high) in figures.items():
        print(f"  {name:<{width}}  {value:>8,.0f}   ({low:,.0f} to {high:,.0f})")
    xml = figures["XML: schema + rules"].median
    js = figures["JSON: schema + rules"].median
    theirs = figures["xmlschema: from_json of the same document"].median
    floor = figures["bare lxml parse + validate of the XML (floor)"].median
    print(f"\n  XML full validation vs target 5,000/s      {xml / 5000:6.2f} x")
    print(f"  JSON full validation / xmlschema JSON      {js / theirs:6.1f} x (target >= 20)")
    print(f"  XML full validation / bare lxml floor      {xml / floor:6.2f}")


if __name__ == "__main__":
    main()
