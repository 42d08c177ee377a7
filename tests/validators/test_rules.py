"""Business rules: each rule broken alone, against a full context (register, centre, tariff)."""

from __future__ import annotations

import dataclasses
from datetime import date
from typing import Any

import pytest

from gateway.admin.registry import SAMPLE_REGISTRY_DIR, read_registry
from gateway.admin.service import SAMPLE_TARIFF_DIR
from gateway.domain.centres import CentreKind, Sector
from gateway.domain.referrals import Rollout
from gateway.domain.registry import CentreInfo, Coverage
from gateway.domain.tariff import TariffBook
from gateway.pricing.tariff_csv import read_book
from tests import factories as f
from validators.business import validate_submission
from validators.context import RuleContext
from validators.problems import Severity
from validators.reader import read_submission
from validators.rules.patient import national_id_is_valid
from validators.schema import Format, claim_schema

_book = read_book(SAMPLE_TARIFF_DIR)
BOOK = TariffBook.build(1, "sample", _book.items, _book.ks)
CENTRE = CentreInfo(
    "C01",
    "Test",
    CentreKind.CONTRACTED,
    Sector.PRIVATE,
    "Tehran",
    date(2024, 3, 20),
    date(2027, 3, 20),
)
COVERAGES = {code: [Coverage(code, f.INSURANCE_NUMBER, date(2020, 1, 1))] for code in f.INSURED}
ROLLOUT = Rollout.of(read_registry(SAMPLE_REGISTRY_DIR).programme.rollout or [])
CONTEXT = RuleContext(
    today=f.TODAY, centre=CENTRE, coverages=COVERAGES, tariff=BOOK, rollout=ROLLOUT
)


def read(data: dict, fmt: Format = Format.JSON):
    body = f.as_json(data) if fmt is Format.JSON else f.as_xml(data)
    result = claim_schema().check(body, fmt)
    assert result.ok, result.problems
    return read_submission(result.root, fmt)


def check(*documents: dict[str, Any], context: RuleContext = CONTEXT, fmt: Format = Format.JSON):
    return validate_submission(
        read(f.submission("C01", *documents), fmt), context, centre_code="C01"
    )


def codes(report) -> list[list[str]]:
    return [[p.code for p in problems] for problems in report.documents]


def visit(**changes: Any) -> dict[str, Any]:
    document = f.outpatient_visit()
    document["outpatientVisit"].update(changes)
    return document


@pytest.mark.parametrize("code", ["0013542419", "0084575948", "1111111121", "4608968882"])
def test_valid_national_ids(code: str) -> None:
    assert national_id_is_valid(code)


@pytest.mark.parametrize(
    "code", ["0013542418", "1111111111", "0000000000", "123456789", "12345678901", "abcdefghij"]
)
def test_invalid_national_ids(code: str) -> None:
    assert not national_id_is_valid(code)


def test_a_clean_submission_has_no_problems() -> None:
    report = check(f.outpatient_visit(), f.outpatient_visit())
    assert not report.refused
    assert codes(report) == [[], []]


def test_national_id_checksum_rejects_only_that_document() -> None:
    bad = f.outpatient_visit()
    bad["outpatientVisit"]["patient"]["nationalId"] = "0013542418"
    report = check(f.outpatient_visit(), bad)
    assert codes(report) == [[], ["patient.national-id-checksum"]]
    assert report.documents[1][0].path == "/documents/1/outpatientVisit/patient/nationalId"


def test_patient_not_covered_on_the_date() -> None:
    periods = {
        code: [Coverage(code, f.INSURANCE_NUMBER, date(2020, 1, 1), date(2026, 11, 9))]
        for code in f.INSURED
    }
    report = check(f.outpatient_visit(), context=dataclasses.replace(CONTEXT, coverages=periods))
    assert codes(report) == [["patient.not-eligible"]]


def test_insurance_number_must_be_the_registered_one() -> None:
    document = f.outpatient_visit()
    document["outpatientVisit"]["patient"]["insuranceNumber"] = "99999999"
    report = check(document)
    assert codes(report) == [["patient.insurance-number-mismatch"]]
    assert report.documents[0][0].path.endswith("/patient/insuranceNumber")


def test_contract_must_be_in_force() -> None:
    ended = dataclasses.replace(CENTRE, contract_to=date(2026, 3, 20))
    report = check(f.outpatient_visit(), context=dataclasses.replace(CONTEXT, centre=ended))
    assert codes(report) == [["centre.contract-inactive"]]


def test_owned_centre_needs_no_contract() -> None:
    owned = dataclasses.replace(
        CENTRE, kind=CentreKind.OWNED, contract_from=None, contract_to=date(2000, 1, 1)
    )
    assert codes(
        check(f.outpatient_visit(), context=dataclasses.replace(CONTEXT, centre=owned))
    ) == [[]]


def test_future_service_date() -> None:
    # Lines without their own date take the document's, so only the document is flagged.
    report = check(f.outpatient_visit(service_date="2026-11-24"))
    assert codes(report) == [["date.in-future"]]
    assert report.documents[0][0].path == "/documents/0/outpatientVisit/serviceDate"


def test_discharge_before_admission() -> None:
    bill = f.inpatient_bill([f.line("300100", 1, 1000)])
    bill["inpatientBill"].update(admissionDate="2026-11-08", dischargeDate="2026-11-05")
    assert "date.discharge-before-admission" in codes(check(bill))[0]


def test_line_date_outside_the_period() -> None:
    line = {**f.line("300100", 1, 1000), "serviceDate": "2026-11-12"}
    bill = f.inpatient_bill([line])
    report = check(bill)
    assert codes(report) == [["date.line-outside-period"]]
    assert report.documents[0][0].path == "/documents/0/inpatientBill/lines/0/serviceDate"


def test_submission_window() -> None:
    report = check(f.outpatient_visit(service_date="2026-08-24"))
    assert codes(report) == [["date.submission-late"]]
    assert not codes(check(f.outpatient_visit(service_date="2026-08-25")))[0]


def test_line_amount_must_be_quantity_times_price() -> None:
    doc = f.outpatient_visit([f.line("800010", 2, 100)])
    doc["outpatientVisit"]["lines"][0]["amount"] = 150
    doc["outpatientVisit"]["totalAmount"] = 150
    report = check(doc)
    assert codes(report) == [["line.amount-mismatch"]]
    assert report.documents[0][0].path == "/documents/0/outpatientVisit/lines/0/amount"


def test_total_must_be_sum_of_lines_with_xml_path_and_line() -> None:
    doc = f.outpatient_visit([f.line("970000", 1, 100), f.line("800010", 1, 50)])
    doc["outpatientVisit"]["totalAmount"] = 151
    report = check(doc, fmt=Format.XML)
    assert codes(report) == [["document.total-mismatch"]]
    problem = report.documents[0][0]
    assert problem.path == "/submission/documents/outpatientVisit/totalAmount"
    assert problem.line is not None


def test_code_not_in_tariff_is_a_warning() -> None:
    report = check(f.outpatient_visit([f.line("970000", 1, 1), f.line("999999", 1, 1)]))
    assert codes(report) == [["line.code-not-in-tariff"]]
    (problem,) = report.documents[0]
    assert problem.severity is Severity.WARNING
    assert problem.path == "/documents/0/outpatientVisit/lines/1/code"


def test_drug_code_sent_as_service_is_not_in_tariff() -> None:
    assert codes(check(f.outpatient_visit([f.line("2001002", 1, 1)]))) == [
        ["line.code-not-in-tariff"]
    ]


def test_quantity_above_the_limit_is_a_warning() -> None:
    report = check(f.outpatient_visit([f.line("800010", 2, 1), f.line("800010", 1, 1)]))
    assert codes(report) == [["line.quantity-above-limit"]]
    assert report.documents[0][0].severity is Severity.WARNING


def test_referral_required_in_a_referral_province() -> None:
    specialist = f.outpatient_visit([f.line("970005", 1, 1)])
    assert codes(check(specialist)) == [["referral.missing"]]
    specialist["outpatientVisit"]["referralCode"] = "1000456789"
    assert codes(check(specialist)) == [[]]


def test_referral_not_required_elsewhere() -> None:
    isfahan = dataclasses.replace(CENTRE, province="Isfahan")
    context = dataclasses.replace(CONTEXT, centre=isfahan)
    assert codes(check(f.outpatient_visit([f.line("970005", 1, 1)]), context=context)) == [[]]


def test_duplicate_number_within_submission() -> None:
    report = check(f.outpatient_visit(number="DUP-1"), f.outpatient_visit(number="DUP-1"))
    assert codes(report) == [[], ["document.duplicate-in-submission"]]


def test_duplicate_of_an_accepted_document() -> None:
    context = dataclasses.replace(CONTEXT, accepted_numbers={"OLD-7"})
    assert codes(check(f.outpatient_visit(number="OLD-7"), context=context)) == [
        ["document.duplicate"]
    ]


def test_same_patient_code_and_date_twice_is_a_warning() -> None:
    first = f.outpatient_visit([f.line("800020", 1, 1)])
    second = f.outpatient_visit([f.line("800020", 1, 1)])
    second["outpatientVisit"]["patient"] = first["outpatientVisit"]["patient"]
    report = check(first, second)
    assert codes(report) == [[], ["line.possible-duplicate"]]
    assert report.documents[1][0].severity is Severity.WARNING
    patient = first["outpatientVisit"]["patient"]["nationalId"]
    stored = dataclasses.replace(CONTEXT, stored_services={(patient, "800020", date(2026, 11, 10))})
    assert codes(check(first, context=stored)) == [["line.possible-duplicate"]]


def test_an_id_failing_its_check_digit_is_never_the_same_patient() -> None:
    """Two documents with the FHIR door's filler ID (or any invalid ID) name no one: only
    the check-digit error each, no possible-duplicate warning between them."""
    first = f.outpatient_visit([f.line("800020", 1, 1)])
    second = f.outpatient_visit([f.line("800020", 1, 1)])
    for document in (first, second):
        document["outpatientVisit"]["patient"]["nationalId"] = "0000000000"
    report = check(first, second)
    assert codes(report) == [["patient.national-id-checksum"]] * 2
    stored = dataclasses.replace(
        CONTEXT, stored_services={("0000000000", "800020", date(2026, 11, 10))}
    )
    assert codes(check(first, context=stored)) == [["patient.national-id-checksum"]]


def test_header_must_name_the_authenticated_centre() -> None:
    report = validate_submission(read(f.submission("C01")), CONTEXT, centre_code="C02")
    assert report.refused
    assert [(p.code, p.path) for p in report.envelope] == [
        ("centre.mismatch", "/header/centreCode")
    ]


def test_offline_validation_skips_what_it_has_no_data_for() -> None:
    bare = RuleContext(today=f.TODAY)
    document = f.outpatient_visit([f.line("999999", 1, 1)])
    document["outpatientVisit"]["patient"]["nationalId"] = "0013542419"
    report = validate_submission(read(f.submission("C01", document)), bare, centre_code=None)
    assert codes(report) == [[]]


def test_document_count_limit() -> None:
    data = f.submission("C01", f.outpatient_visit(), f.outpatient_visit(), f.outpatient_visit())
    report = validate_submission(
        read(data, Format.XML), CONTEXT, centre_code="C01", max_documents=2
    )
    assert [(p.code, p.path) for p in report.envelope] == [
        ("submission.too-many-documents", "/submission/documents")
    ]


PRICED_BOOK = TariffBook.build(
    1, "sample", _book.items, _book.ks, _book.package_prices, _book.package_contents
)


def surgery(package_code: str) -> dict[str, Any]:
    lines = [f.line("400100", 1, 18_000_000), f.line("300100", 2, 2_100_000)]
    return {
        "surgeryPackage": {
            "documentNumber": f"SP-{package_code}",
            "patient": f.patient(),
            "physician": {"medicalCouncilNumber": "123456"},
            "packageCode": package_code,
            "admissionDate": "2026-11-09",
            "dischargeDate": "2026-11-11",
            "lines": lines,
            "totalAmount": sum(line["amount"] for line in lines),
        }
    }


def test_a_priced_package_has_no_problem() -> None:
    context = dataclasses.replace(CONTEXT, tariff=PRICED_BOOK)
    assert codes(check(surgery("P400100"), context=context)) == [[]]


@pytest.mark.parametrize(
    ("package_code", "why"),
    [
        ("P999999", "is not a covered package"),  # not in the tariff at all
        ("400100", "is not a covered package"),  # a service, not a package
    ],
)
def test_a_package_not_in_the_tariff_is_a_warning(package_code: str, why: str) -> None:
    context = dataclasses.replace(CONTEXT, tariff=PRICED_BOOK)
    report = check(surgery(package_code), context=context)
    assert codes(report) == [["document.package-not-in-tariff"]]
    (problem,) = report.documents[0]
    assert problem.severity is Severity.WARNING
    assert why in problem.message
    assert problem.path == "/documents/0/surgeryPackage/packageCode"


def test_a_package_without_a_price_for_the_centres_sector_is_a_warning() -> None:
    charity = dataclasses.replace(CENTRE, sector=Sector.CHARITY)
    prices = [p for p in _book.package_prices if p.sector is not Sector.CHARITY]
    book = TariffBook.build(1, "sample", _book.items, _book.ks, prices, _book.package_contents)
    context = dataclasses.replace(CONTEXT, tariff=book, centre=charity)
    report = check(surgery("P400100"), context=context, fmt=Format.XML)
    assert codes(report) == [["document.package-not-in-tariff"]]
    (problem,) = report.documents[0]
    assert "no price for the charity sector on 2026-11-09" in problem.message
    assert problem.path == "/submission/documents/surgeryPackage/packageCode"
