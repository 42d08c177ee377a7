"""The bundled examples: the valid ones pass and agree across formats; the invalid ones
fail with exactly the problems their manifest lists."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import orjson
import pytest

from gateway.admin.registry import SAMPLE_REGISTRY_DIR
from gateway.admin.service import SAMPLE_TARIFF_DIR
from gateway.domain.documents import Submission
from gateway.submissions.offline import check_file, load_reference
from validators.problems import Severity
from validators.reader import read_submission
from validators.schema import Format, SchemaResult, claim_schema

EXAMPLES = Path(__file__).resolve().parents[2] / "schemas" / "examples"
VALID_DIR = EXAMPLES / "valid"
INVALID_DIR = EXAMPLES / "invalid"
NOT_EXAMPLES = {"expected.json", "README.md"}

VALID = sorted(VALID_DIR.glob("*.*"))
INVALID = sorted(p for p in INVALID_DIR.iterdir() if p.is_file() and p.name not in NOT_EXAMPLES)
EXPECTED: dict[str, list[dict[str, str | None]]] = orjson.loads(
    (INVALID_DIR / "expected.json").read_bytes()
)
KINDS = {"outpatient-visit", "prescription", "paraclinical", "inpatient-bill", "surgery-package"}


def _format(path: Path) -> Format:
    return Format.JSON if path.suffix == ".json" else Format.XML


def _schema_check(path: Path) -> SchemaResult:
    data = path.read_bytes()
    schema = claim_schema()
    return schema.check_json(data) if _format(path) is Format.JSON else schema.check_xml(data)


def _read(path: Path) -> Submission:
    result = _schema_check(path)
    assert result.problems == []
    assert result.root is not None
    return read_submission(result.root, _format(path))


def _without_locations(submission: Submission) -> Submission:
    documents = [dataclasses.replace(d, path="", line_no=None) for d in submission.documents]
    return dataclasses.replace(submission, documents=documents, path="")


def test_every_document_type_has_an_xml_and_a_json_example() -> None:
    stems = {p.stem for p in VALID}
    assert stems == KINDS | {"mixed-submission"}
    assert {p.suffix for p in VALID} == {".xml", ".json"}
    assert all((VALID_DIR / f"{s}{ext}").exists() for s in stems for ext in (".xml", ".json"))


@pytest.mark.parametrize("path", VALID, ids=lambda p: p.name)
def test_valid_example_passes_the_schema(path: Path) -> None:
    result = _schema_check(path)
    assert result.problems == []
    assert result.ok


@pytest.mark.parametrize("path", VALID, ids=lambda p: p.name)
def test_valid_example_passes_the_business_rules(path: Path) -> None:
    assert check_file(path).problems == []


@pytest.mark.parametrize("path", VALID, ids=lambda p: p.name)
def test_valid_example_has_no_error_against_the_sample_registry_and_tariff(path: Path) -> None:
    """What the demo and a hospital trying the CLI see: the bundled examples are accepted
    (the inpatient bill's deliberate unknown code is only a warning)."""
    reference = load_reference(SAMPLE_REGISTRY_DIR, SAMPLE_TARIFF_DIR)
    errors = [p for p in check_file(path, reference).problems if p.severity is Severity.ERROR]
    assert errors == []


@pytest.mark.parametrize("path", VALID, ids=lambda p: p.name)
def test_valid_example_amounts_add_up(path: Path) -> None:
    documents = _read(path).documents
    assert documents
    for document in documents:
        for line in document.lines:
            assert line.amount == line.quantity * line.unit_price, (document.number, line.code)
        assert document.total_amount == sum(line.amount for line in document.lines)


@pytest.mark.parametrize("stem", sorted({p.stem for p in VALID}))
def test_xml_and_json_twins_read_the_same(stem: str) -> None:
    from_xml = _without_locations(_read(VALID_DIR / f"{stem}.xml"))
    from_json = _without_locations(_read(VALID_DIR / f"{stem}.json"))
    assert from_xml == from_json


def test_document_numbers_are_unique_across_valid_examples() -> None:
    numbers: dict[str, str] = {}
    for path in VALID_DIR.glob("*.xml"):
        for document in _read(path).documents:
            assert document.number not in numbers, (document.number, numbers.get(document.number))
            numbers[document.number] = path.name


def test_mixed_submission_holds_one_document_of_each_type() -> None:
    kinds = [d.kind.value for d in _read(VALID_DIR / "mixed-submission.xml").documents]
    assert sorted(kinds) == sorted(
        ["outpatientVisit", "prescription", "paraclinical", "inpatientBill", "surgeryPackage"]
    )


def test_manifest_covers_every_invalid_file() -> None:
    assert sorted(EXPECTED) == [p.name for p in INVALID]
    assert len(INVALID) >= 14


@pytest.mark.parametrize("path", INVALID, ids=lambda p: p.name)
def test_invalid_example_fails_as_expected(path: Path) -> None:
    report = check_file(path)
    assert not report.valid
    got = [(p.code, p.path) for p in report.problems]
    assert got == [(e["code"], e["path"]) for e in EXPECTED[path.name]]
