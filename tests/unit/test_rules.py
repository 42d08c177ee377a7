"""Business rules, each broken alone."""

from __future__ import annotations

import pytest

from tests import factories as f
from validators.business import validate_submission
from validators.reader import read_submission
from validators.rules.patient import national_id_is_valid
from validators.schema import Format, claim_schema


def read(data: dict, fmt: Format = Format.JSON):
    body = f.as_json(data) if fmt is Format.JSON else f.as_xml(data)
    result = claim_schema().check(body, fmt)
    assert result.ok, result.problems
    return read_submission(result.root, fmt)


@pytest.mark.parametrize("code", ["0013542419", "0084575948", "1111111121", "4608968882"])
def test_valid_national_ids(code: str) -> None:
    assert national_id_is_valid(code)


@pytest.mark.parametrize(
    "code", ["0013542418", "1111111111", "0000000000", "123456789", "12345678901", "abcdefghij"]
)
def test_invalid_national_ids(code: str) -> None:
    assert not national_id_is_valid(code)


def test_generated_national_ids_are_valid() -> None:
    assert all(national_id_is_valid(f.national_id(seed)) for seed in range(200))


def codes(report) -> list[list[str]]:
    return [[p.code for p in problems] for problems in report.documents]


def test_a_clean_submission_has_no_problems() -> None:
    report = validate_submission(read(f.submission("C01")), centre_code="C01")
    assert not report.refused
    assert codes(report) == [[]]


def test_national_id_checksum_rejects_only_that_document() -> None:
    bad = f.outpatient_visit()
    bad["outpatientVisit"]["patient"]["nationalId"] = "0013542418"
    report = validate_submission(
        read(f.submission("C01", f.outpatient_visit(), bad)), centre_code="C01"
    )
    assert codes(report) == [[], ["patient.national-id-checksum"]]
    problem = report.documents[1][0]
    assert problem.path == "/documents/1/outpatientVisit/patient/nationalId"


def test_line_amount_must_be_quantity_times_price() -> None:
    doc = f.outpatient_visit([f.line("970000", 2, 100)])
    doc["outpatientVisit"]["lines"][0]["amount"] = 150
    doc["outpatientVisit"]["totalAmount"] = 150
    report = validate_submission(read(f.submission("C01", doc)), centre_code="C01")
    assert codes(report) == [["line.amount-mismatch"]]
    assert report.documents[0][0].path == "/documents/0/outpatientVisit/lines/0/amount"


def test_total_must_be_sum_of_lines_with_xml_path_and_line() -> None:
    doc = f.outpatient_visit([f.line("970000", 1, 100), f.line("800010", 1, 50)])
    doc["outpatientVisit"]["totalAmount"] = 151
    report = validate_submission(read(f.submission("C01", doc), Format.XML), centre_code="C01")
    assert codes(report) == [["document.total-mismatch"]]
    problem = report.documents[0][0]
    assert problem.path == "/submission/documents/outpatientVisit/totalAmount"
    assert problem.line is not None


def test_duplicate_number_within_submission() -> None:
    first = f.outpatient_visit(number="DUP-1")
    second = f.outpatient_visit(number="DUP-1")
    report = validate_submission(read(f.submission("C01", first, second)), centre_code="C01")
    assert codes(report) == [[], ["document.duplicate-in-submission"]]


def test_duplicate_of_an_accepted_document() -> None:
    submission = read(f.submission("C01", f.outpatient_visit(number="OLD-7")))
    report = validate_submission(submission, centre_code="C01", accepted_numbers={"OLD-7"})
    assert codes(report) == [["document.duplicate"]]


def test_header_must_name_the_authenticated_centre() -> None:
    report = validate_submission(read(f.submission("C01")), centre_code="C02")
    assert report.refused
    assert [p.code for p in report.envelope] == ["centre.mismatch"]


def test_offline_validation_skips_the_centre_check() -> None:
    report = validate_submission(read(f.submission("C01")), centre_code=None)
    assert not report.refused


def test_document_count_limit() -> None:
    data = f.submission("C01", f.outpatient_visit(), f.outpatient_visit(), f.outpatient_visit())
    report = validate_submission(read(data), centre_code="C01", max_documents=2)
    assert [p.code for p in report.envelope] == ["submission.too-many-documents"]
