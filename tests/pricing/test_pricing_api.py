"""Pricing as centres and auditors see it: explained lines, remittance advice, the FHIR
ExplanationOfBenefit, review decisions and package pricing, on SQLite and PostgreSQL."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from fastapi.testclient import TestClient
from fhir.resources.R4B.explanationofbenefit import ExplanationOfBenefit

from gateway.fhir.xml import fhir_schema, parse_xml
from gateway.pricing.engine.review import ReviewPolicy
from gateway.pricing.service import Policies
from tests import factories as f
from tests.submissions.test_submissions import JSON, POLICIES, auth, price_all


def surgery_package(lines: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "surgeryPackage": {
            "documentNumber": f"SP-{f.national_id()}",
            "patient": f.patient(),
            "physician": {"medicalCouncilNumber": "167310", "grade": "specialist"},
            "packageCode": "P400100",
            "admissionDate": "2026-11-09",
            "dischargeDate": "2026-11-11",
            "lines": lines,
            "totalAmount": sum(line["amount"] for line in lines),
        }
    }


def submit(client: TestClient, token: str, centre_code: str, *documents: dict[str, Any]) -> str:
    body = f.as_json(f.submission(centre_code, *documents))
    response = client.post("/v1/submissions", content=body, headers=auth(token, JSON))
    assert response.status_code == 202, response.text
    document = response.json()["documents"][0]
    assert document["status"] == "ACCEPTED", document
    return str(document["id"])


def categories(adjudications: list[dict[str, Any]]) -> dict[str, int]:
    out: dict[str, int] = {}
    for entry in adjudications:
        code = entry["category"]["coding"][0]["code"]
        out[code] = out.get(code, 0) + entry["amount"]["value"]
    return out


def test_lines_explain_units_k_and_deductions(client: TestClient, sessions) -> None:
    centre, token = f.make_centre(sessions)
    document_id = submit(
        client,
        token,
        centre.code,
        f.outpatient_visit([f.line("970000", 1, 800_000), f.line("999999", 1, 50_000)]),
    )
    price_all(sessions, [document_id])
    detail = client.get(f"/v1/documents/{document_id}", headers=auth(token)).json()
    visit, unknown = (line["pricing"] for line in detail["lines"])
    assert visit["price_basis"] == "rvu"
    assert visit["terms"] == [
        {"component": "professional", "units": "1.5", "k": 492_000, "amount": 738_000}
    ]
    assert visit["tariff_unit_price"] == 738_000
    assert visit["deductions"] == [
        {
            "reason": "above-tariff",
            "amount": 62_000,
            "detail": "requested 800,000 per unit, tariff 738,000",
        }
    ]
    assert visit["explanation"].startswith("1.5 professional RVU x K 492,000 = 738,000 rials")
    assert unknown["price_basis"] is None
    assert unknown["deductions"][0]["reason"] == "not-in-tariff"
    assert detail["deductions_by_reason"] == [
        {"reason": "above-tariff", "amount": 62_000},
        {"reason": "not-in-tariff", "amount": 50_000},
    ]
    moves = [(e["from_status"], e["to_status"]) for e in detail["history"]]
    assert moves[-2] == ("ACCEPTED", "PRICED")
    assert moves[-1][1] == detail["status"]
    assert detail["review"] == detail["history"][-1]["reason"]


def test_package_replaces_the_lines_it_covers(client: TestClient, sessions) -> None:
    centre, token = f.make_centre(sessions)
    document_id = submit(
        client,
        token,
        centre.code,
        surgery_package(
            [
                f.line("400100", 1, 100_000_000),
                f.line("300100", 3, 6_000_000),
                f.line("2001007", 6, 62_000, "drug"),
                f.line("800020", 1, 200_000),
            ]
        ),
    )
    price_all(sessions, [document_id])
    advice = client.get(f"/v1/documents/{document_id}/remittance", headers=auth(token)).json()
    # Private sector, 2026: P400100 costs 115,200,000 for the three lines it covers
    # (118,372,000 asked); blood sugar is not in the package and priced alone:
    # 0.1 x 492000 + 0.35 x 312000 = 158,400.
    got = [(ln["eligible"], ln["copayment"], ln["deductions"]) for ln in advice["lines"]]
    assert [(eligible, copay) for eligible, copay, _ in got] == [
        (100_000_000, 10_000_000),
        (15_200_000, 1_520_000),
        (0, 0),
        (158_400, 15_840),
    ]
    assert [[d["reason"] for d in deductions] for *_, deductions in got] == [
        [],
        ["covered-by-package"],
        ["covered-by-package"],
        ["above-tariff"],
    ]
    assert advice["totals"] == {
        "requested": 118_572_000,
        "eligible": 115_358_400,
        "deducted": 3_213_600,
        "copayment": 11_535_840,
        "insurer_share": 103_822_560,
    }
    assert advice["deductions_by_reason"] == [
        {"reason": "above-tariff", "amount": 41_600},
        {"reason": "covered-by-package", "amount": 3_172_000},
    ]
    assert advice["notes"][0].startswith("package P400100 (Appendectomy global package)")
    assert advice["tariff"]["version"] >= 1


def test_remittance_waits_for_pricing_and_stays_with_its_centre(
    client: TestClient, sessions
) -> None:
    centre, token = f.make_centre(sessions)
    _, other = f.make_centre(sessions)
    auditor = f.make_staff_token(sessions)
    document_id = submit(client, token, centre.code, f.outpatient_visit())
    url = f"/v1/documents/{document_id}/remittance"
    early = client.get(url, headers=auth(token))
    assert early.status_code == 409
    assert early.json()["errors"][0]["code"] == "conflict"
    assert "not priced yet" in early.json()["errors"][0]["message"]
    price_all(sessions, [document_id])
    assert client.get(url, headers=auth(other)).status_code == 404
    mine = client.get(url, headers=auth(token))
    assert mine.status_code == 200
    assert client.get(url, headers=auth(auditor)).json() == mine.json()
    totals = mine.json()["totals"]
    assert totals["requested"] == totals["eligible"] + totals["deducted"]
    assert totals["eligible"] == totals["copayment"] + totals["insurer_share"]


def test_explanation_of_benefit_carries_the_same_figures(client: TestClient, sessions) -> None:
    centre, token = f.make_centre(sessions)
    _, other = f.make_centre(sessions)
    document_id = submit(
        client,
        token,
        centre.code,
        f.outpatient_visit([f.line("970000", 1, 800_000), f.line("800010", 2, 300_000)]),
    )
    url = f"/fhir/ExplanationOfBenefit/{document_id}"
    assert client.get(url, headers=auth(token)).status_code == 404  # nothing decided yet
    price_all(sessions, [document_id])
    assert client.get(url, headers=auth(other)).status_code == 404
    response = client.get(url, headers=auth(token))
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/fhir+json"
    eob = ExplanationOfBenefit.model_validate(response.json())
    advice = client.get(f"/v1/documents/{document_id}/remittance", headers=auth(token)).json()
    totals = advice["totals"]
    assert categories(response.json()["total"]) == {
        "submitted": totals["requested"],
        "eligible": totals["eligible"],
        "deduction": totals["deducted"],
        "copay": totals["copayment"],
        "benefit": totals["insurer_share"],
    }
    assert eob.item is not None
    first = response.json()["item"][0]
    assert first["productOrService"]["coding"][0]["code"] == "970000"
    reasons = [a["reason"]["coding"][0]["code"] for a in first["adjudication"] if "reason" in a]
    assert reasons == ["above-tariff"]
    xml = client.get(url, headers=auth(token, {"Accept": "application/fhir+xml"}))
    assert xml.status_code == 200
    root = parse_xml(xml.content)
    assert root.tag == "{http://hl7.org/fhir}ExplanationOfBenefit"
    assert fhir_schema().errors(root) == []  # valid against the official FHIR XSD


def test_review_decision_is_recorded_with_its_reason(client: TestClient, sessions) -> None:
    centre, token = f.make_centre(sessions)
    strict = Policies(
        copay=POLICIES.copay,
        review=ReviewPolicy(
            amount_threshold=1_000_000, deduction_share=Decimal(1), sample_percent=Decimal(0)
        ),
        clock_date=POLICIES.clock_date,
    )
    big = submit(client, token, centre.code, f.outpatient_visit([f.line("700400", 1, 9_000_000)]))
    small = submit(client, token, centre.code, f.outpatient_visit([f.line("970000", 1, 500_000)]))
    price_all(sessions, [big, small], strict)
    big_detail = client.get(f"/v1/documents/{big}", headers=auth(token)).json()
    small_detail = client.get(f"/v1/documents/{small}", headers=auth(token)).json()
    assert big_detail["status"] == "UNDER_REVIEW"
    assert big_detail["review"].startswith("amount: requested 9,000,000 rials is above")
    assert big_detail["history"][-1]["actor"] == "worker:review-sampling"
    assert small_detail["status"] == "APPROVED"
    assert small_detail["review"].startswith("none: approved automatically")
