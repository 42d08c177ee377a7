"""Claim -> JSON-form document: every mapping decision, with no database."""

from __future__ import annotations

import copy
from typing import Any

import orjson
import pytest

from gateway.fhir import systems
from gateway.fhir.mapping import map_submission
from gateway.fhir.parse import Syntax, parse_body
from gateway.fhir.response import claim_path
from gateway.fhir.text import DOCUMENT_NUMBER, document_number, tariff_code
from gateway.submissions.service import parse_valid
from tests import factories as f
from tests.fhir.claims import claim, item
from validators.schema import Format

NATIONAL_ID = f.INSURED[0]


def mapped(resource: dict[str, Any]) -> tuple[dict[str, Any], list[tuple[str, str, str]]]:
    """The one document of a Claim or Bundle, checked by the gateway's schema, and its
    problems as (code, severity, path)."""
    submission, problems = map_submission(parse_body(orjson.dumps(resource), Syntax.JSON), "C-1")
    parse_valid(orjson.dumps(submission), Format.JSON)  # raises unless schema-valid
    (document,) = submission["documents"]
    found = [(p.code, p.severity.value, p.path or "") for p in problems[0]]
    return document, found


def codes(problems: list[tuple[str, str, str]]) -> set[str]:
    return {code for code, _, _ in problems}


def test_a_claim_in_our_systems_maps_every_field() -> None:
    resource = claim(
        NATIONAL_ID,
        [
            item(1, "970000", None, 800_000),
            item(2, "2001002", 3, 1999.5, systems.TARIFF_DRUG, servicedDate="2026-11-10"),
            item(3, "800010", 2, 400_000, factor=0.75),
        ],
        number="OV-77",
    )
    document, problems = mapped(resource)
    assert problems == []
    assert document == {
        "outpatientVisit": {
            "documentNumber": "OV-77",
            "patient": {
                "nationalId": NATIONAL_ID,
                "insuranceNumber": "12345678",
                "fullName": "Sara Ahmadi",
                "birthDate": "1980-05-01",
                "gender": "female",
            },
            "physician": {"medicalCouncilNumber": "123456", "fullName": "Dr. Reza Karimi"},
            "serviceDate": "2026-11-10",
            "lines": [
                {"codeType": "service", "code": "970000", "quantity": 1, "unitPrice": 800_000,
                 "amount": 800_000},
                {"codeType": "drug", "code": "2001002", "serviceDate": "2026-11-10",
                 "quantity": 3, "unitPrice": 2000, "amount": 6000},
                {"codeType": "service", "code": "800010", "quantity": 2, "unitPrice": 300_000,
                 "amount": 600_000},
            ],
            "totalAmount": 1_406_000,
        }
    }  # fmt: skip


@pytest.mark.parametrize(
    ("kind", "end", "expected", "dates"),
    [
        ("institutional", "2026-11-13", "inpatientBill", ("admissionDate", "dischargeDate")),
        ("institutional", None, "outpatientVisit", ("serviceDate",)),
        ("pharmacy", None, "prescription", ("serviceDate",)),
        ("professional", None, "outpatientVisit", ("serviceDate",)),
        ("oral", None, "outpatientVisit", ("serviceDate",)),
        ("vision", None, "outpatientVisit", ("serviceDate",)),
    ],
)
def test_kind_follows_type_and_billable_period(
    kind: str, end: str | None, expected: str, dates: tuple[str, ...]
) -> None:
    document, problems = mapped(claim(NATIONAL_ID, [item(1, "970000", 1, 10)], kind=kind, end=end))
    ((name, body),) = document.items()
    assert name == expected
    assert [key for key in ("serviceDate", "admissionDate", "dischargeDate") if key in body] == [
        *dates
    ]
    if expected == "prescription":
        assert body["trackingCode"].startswith("FHIR")
        assert codes(problems) == {"fhir.tracking-code-missing"}
    else:
        assert problems == []


def test_pharmacy_lines_are_drugs_and_take_the_tracking_code() -> None:
    resource = claim(NATIONAL_ID, [item(1, "2001002", 30, 1900, "urn:other")], kind="pharmacy")
    resource["prescription"] = {
        "identifier": {"system": systems.TRACKING_CODE, "value": "rx8f3k2p"}
    }
    document, problems = mapped(resource)
    assert problems == []
    assert document["prescription"]["trackingCode"] == "RX8F3K2P"
    assert document["prescription"]["lines"][0]["codeType"] == "drug"


def test_unknown_claim_type_is_an_outpatient_visit_with_a_warning() -> None:
    resource = claim(NATIONAL_ID, [item(1, "970000", 1, 10)])
    resource["type"] = {"coding": [{"system": systems.CLAIM_TYPE, "code": "ambulance"}]}
    document, problems = mapped(resource)
    assert "outpatientVisit" in document
    assert problems == [("fhir.claim-type-unknown", "warning", "Claim.type")]


def test_missing_iranian_data_is_a_problem_not_a_failure() -> None:
    resource = claim(None, [item(1, "970000", 1, 10)])
    resource["contained"] = []
    resource["patient"] = {"reference": "Patient/elsewhere"}
    resource["provider"] = {"display": "a clinic"}
    document, problems = mapped(resource)
    body = document["outpatientVisit"]
    assert body["patient"] == {"nationalId": "0000000000", "insuranceNumber": "000000"}
    assert body["physician"] == {"medicalCouncilNumber": "00"}
    assert problems == [
        ("fhir.patient-national-id-missing", "error", "Claim.patient"),
        ("fhir.patient-insurance-number-missing", "error", "Claim.patient"),
        ("fhir.physician-missing", "warning", "Claim.careTeam"),
    ]


def test_malformed_identifiers_are_errors() -> None:
    resource = claim("12345", [item(1, "970000", 1, 10)])
    resource["contained"][0]["identifier"][1]["value"] = "12-34"
    _, problems = mapped(resource)
    assert codes(problems) == {
        "fhir.patient-national-id-invalid",
        "fhir.patient-insurance-number-invalid",
    }


def test_references_resolve_through_a_bundle() -> None:
    """urn:uuid fullUrls, Type/id, absolute URLs with _history, PractitionerRole."""
    first = claim(None, [item(1, "970000", 1, 10)])
    first["contained"] = []
    first["patient"] = {"reference": "urn:uuid:0d7e9c42-8a54-4b42-9c41-3c8f3a1b2c3d"}
    first["careTeam"] = [{"sequence": 1, "provider": {"reference": "PractitionerRole/r1"}}]
    second = copy.deepcopy(first)
    second["patient"] = {"reference": "https://his.example/fhir/Patient/p2/_history/3"}
    second["careTeam"] = [
        {"sequence": 1, "provider": {"identifier": {"system": systems.MEDICAL_COUNCIL,
                                                    "value": "ab98765"}}}
    ]  # fmt: skip
    people = claim(NATIONAL_ID, [])["contained"]
    other = {**people[0], "id": "p2"}
    role = {"resourceType": "PractitionerRole", "id": "r1", "practitioner": {"reference": "doc"}}
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {"fullUrl": "urn:uuid:0d7e9c42-8a54-4b42-9c41-3c8f3a1b2c3d", "resource": people[0]},
            {"fullUrl": "https://his.example/fhir/Patient/p2", "resource": other},
            {"resource": role},
            {"fullUrl": "https://his.example/fhir/Practitioner/doc", "resource": people[1]},
            {"resource": first},
            {"resource": second},
        ],
    }
    role["practitioner"] = {"reference": "Practitioner/doc"}
    submission, problems = map_submission(parse_body(orjson.dumps(bundle), Syntax.JSON), "C-1")
    assert problems == [[], []]
    bodies = [d["outpatientVisit"] for d in submission["documents"]]
    assert [b["patient"]["nationalId"] for b in bodies] == [NATIONAL_ID, NATIONAL_ID]
    assert [b["physician"]["medicalCouncilNumber"] for b in bodies] == ["123456", "AB98765"]


def test_amounts_are_rounded_then_multiplied_with_warnings_for_what_differs() -> None:
    items = [
        item(1, "970000", 2, 100.5, net={"value": 201, "currency": "USD"}),
        item(2, "800010", 2.5, 10),
        item(3, "800020", None, None),
        item(4, "800030", 3, None, net={"value": 100}),
    ]
    resource = claim(NATIONAL_ID, items, total={"value": 999})
    document, problems = mapped(resource)
    lines = document["outpatientVisit"]["lines"]
    assert [(ln["quantity"], ln["unitPrice"], ln["amount"]) for ln in lines] == [
        (2, 101, 202),
        (3, 10, 30),
        (1, 0, 0),
        (3, 33, 99),
    ]
    assert document["outpatientVisit"]["totalAmount"] == 331
    assert problems == [
        ("fhir.currency-not-irr", "warning", "Claim.item[0].net.currency"),
        ("fhir.item-net-mismatch", "warning", "Claim.item[0].net"),
        ("fhir.item-quantity-adjusted", "warning", "Claim.item[1].quantity"),
        ("fhir.item-price-missing", "warning", "Claim.item[2]"),
        ("fhir.item-net-mismatch", "warning", "Claim.item[3].net"),
        ("fhir.total-mismatch", "warning", "Claim.total"),
    ]


def test_negative_and_huge_prices_are_errors_billed_at_zero() -> None:
    items = [item(1, "970000", 1, -5), item(2, "970000", 1, 10**16)]
    document, problems = mapped(claim(NATIONAL_ID, items))
    assert [ln["amount"] for ln in document["outpatientVisit"]["lines"]] == [0, 0]
    assert [code for code, severity, _ in problems if severity == "error"] == [
        "fhir.item-price-negative",
        "fhir.amount-out-of-range",
    ]


def test_a_claim_without_items_gets_one_empty_line_and_an_error() -> None:
    resource = claim(NATIONAL_ID, [])
    del resource["item"]
    document, problems = mapped(resource)
    assert document["outpatientVisit"]["lines"][0]["amount"] == 0
    assert problems == [("fhir.claim-items-missing", "error", "Claim.item")]


@pytest.mark.parametrize(
    ("status", "use", "expected"),
    [
        ("draft", "claim", {"fhir.claim-status"}),
        ("active", "preauthorization", set()),
        ("active", "predetermination", set()),
    ],
)
def test_only_active_claims_are_taken(status: str, use: str, expected: set[str]) -> None:
    resource = claim(NATIONAL_ID, [item(1, "970000", 1, 10)], status=status, use=use)
    assert codes(mapped(resource)[1]) == expected


@pytest.mark.parametrize(
    ("use", "number", "expected"),
    [
        ("claim", "HIS-1", "HIS-1"),
        ("preauthorization", "HIS-1", "PA/HIS-1"),
        ("predetermination", "HIS-1", "PD/HIS-1"),
        ("preauthorization", "N" * 40, "PA/" + "N" * 28 + "-"),
    ],
)
def test_an_estimate_is_numbered_apart_from_the_bill(use: str, number: str, expected: str) -> None:
    """So the bill that follows a preauthorization may carry the same identifier."""
    resource = claim(NATIONAL_ID, [item(1, "970000", 1, 10)], use=use, number=number)
    got = mapped(resource)[0]["outpatientVisit"]["documentNumber"]
    assert got.startswith(expected)
    assert DOCUMENT_NUMBER.fullmatch(got)


def test_the_centre_named_by_the_provider_must_be_the_callers() -> None:
    resource = claim(NATIONAL_ID, [item(1, "970000", 1, 10)])
    resource["provider"] = {"identifier": {"system": systems.CENTRE_CODE, "value": "OTHER-1"}}
    _, problems = mapped(resource)
    assert ("fhir.centre-mismatch", "error", "Claim.provider") in problems


def test_referral_code_is_read_from_the_referral() -> None:
    resource = claim(NATIONAL_ID, [item(1, "970000", 1, 10)])
    resource["referral"] = {"identifier": {"system": systems.REFERRAL_CODE, "value": "10004567891"}}
    document, problems = mapped(resource)
    assert document["outpatientVisit"]["referralCode"] == "10004567891"
    assert problems == []


@pytest.mark.parametrize(
    "raw",
    ["RX/2026.01-7", "has spaces in it", "x" * 60, "!!!", "-leading", "ä-ünïcode", None],
)
def test_document_numbers_always_fit(raw: str | None) -> None:
    number, changed = document_number(raw, "seed")
    assert DOCUMENT_NUMBER.fullmatch(number)
    assert changed is (raw != "RX/2026.01-7")
    assert document_number(raw, "seed") == (number, changed)  # deterministic
    if raw is not None and changed:
        assert document_number(raw + "!", "seed")[0] != number


def test_a_claim_without_identifier_or_id_is_numbered_from_its_content() -> None:
    resource = claim(NATIONAL_ID, [item(1, "970000", 1, 10)])
    del resource["identifier"], resource["id"]
    first, problems = mapped(resource)
    again, _ = mapped(resource)
    number = first["outpatientVisit"]["documentNumber"]
    assert number.startswith("FHIR-")
    assert number == again["outpatientVisit"]["documentNumber"]
    assert codes(problems) == {"fhir.document-number-missing"}


def test_codes_that_cannot_be_tariff_codes_are_fitted() -> None:
    assert tariff_code("99213:25") == ("99213-25", True)
    assert tariff_code("1205") == ("1205", False)
    assert tariff_code("") == ("UNCODED", True)
    resource = claim(NATIONAL_ID, [item(1, "A B/C", 1, 10)])
    document, problems = mapped(resource)
    assert document["outpatientVisit"]["lines"][0]["code"] == "A-B-C"
    assert codes(problems) == {"fhir.item-code-adjusted"}


@pytest.mark.parametrize(
    ("pointer", "fhirpath"),
    [
        ("/documents/0/outpatientVisit/lines/2/code", "Claim.item[2].productOrService"),
        ("/documents/0/outpatientVisit/lines/0/serviceDate", "Claim.item[0].servicedDate"),
        ("/documents/0/outpatientVisit/lines/1/amount", "Claim.item[1].net"),
        ("/documents/0/outpatientVisit/lines/4", "Claim.item[4]"),
        ("/documents/2/inpatientBill/dischargeDate", "Claim.billablePeriod"),
        ("/documents/0/prescription/patient/nationalId", "Claim.patient"),
        ("/documents/0/prescription/trackingCode", "Claim.prescription"),
        ("/documents/0/outpatientVisit/documentNumber", "Claim.identifier"),
        ("/documents/0/outpatientVisit", "Claim"),
        ("Bundle.entry[3].resource.item[0].quantity", "Bundle.entry[3].resource.item[0].quantity"),
    ],
)
def test_a_rules_path_is_answered_as_the_claims_fhirpath(pointer: str, fhirpath: str) -> None:
    assert claim_path(pointer) == fhirpath
