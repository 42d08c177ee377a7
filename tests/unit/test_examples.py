"""The bundled examples: the valid ones pass and agree across formats; the invalid ones
fail with exactly the problems their manifest lists."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import orjson
import pytest

from gateway.offline import check_file
from validators.reader import read_submission
from validators.schema import Format, claim_schema

EXAMPLES = Path(__file__).resolve().parents[2] / "schemas" / "examples"
VALID = sorted((EXAMPLES / "valid").glob("*.*"))
INVALID = sorted(
    p
    for p in (EXAMPLES / "invalid").iterdir()
    if p.suffix in (".xml", ".json") and p.name != "expected.json"
)
EXPECTED = orjson.loads((EXAMPLES / "invalid" / "expected.json").read_bytes())
KINDS = {"outpatient-visit", "prescription", "paraclinical", "inpatient-bill", "surgery-package"}


def read(path: Path):
    fmt = Format.JSON if path.suffix == ".json" else Format.XML
    result = claim_schema().check(path.read_bytes(), fmt)
    assert result.problems == []
    assert result.root is not None
    return read_submission(result.root, fmt)


def test_every_document_type_has_an_xml_and_a_json_example() -> None:
    stems = {p.stem for p in VALID}
    assert stems >= KINDS | {"mixed-submission"}
    assert all(
        (EXAMPLES / "valid" / f"{s}.{ext}").exists() for s in stems for ext in ("xml", "json")
    )


@pytest.mark.parametrize("path", VALID, ids=lambda p: p.name)
def test_valid_example_passes_schema_and_rules(path: Path) -> None:
    report = check_file(path)
    assert report.problems == []
    for document in read(path).documents:
        assert all(line.amount == line.quantity * line.unit_price for line in document.lines)
        assert document.total_amount == sum(line.amount for line in document.lines)


@pytest.mark.parametrize("stem", sorted({p.stem for p in VALID}))
def test_xml_and_json_twins_read_the_same(stem: str) -> None:
    def normalised(path: Path):
        submission = read(path)
        submission.documents = [
            dataclasses.replace(d, path="", line_no=None) for d in submission.documents
        ]
        return submission

    assert normalised(EXAMPLES / "valid" / f"{stem}.xml") == normalised(
        EXAMPLES / "valid" / f"{stem}.json"
    )


def test_manifest_covers_every_invalid_file() -> None:
    assert sorted(EXPECTED) == [p.name for p in INVALID]
    assert len(INVALID) >= 14


@pytest.mark.parametrize("path", INVALID, ids=lambda p: p.name)
def test_invalid_example_fails_as_expected(path: Path) -> None:
    report = check_file(path)
    assert not report.valid
    got = [{"code": p.code, "path": p.path} for p in report.problems]
    assert got == EXPECTED[path.name]
