"""POST /v1/eligibility against the registry's sample data and the factories' patients."""

from __future__ import annotations

import itertools
import json
from datetime import date
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from gateway import metrics
from gateway.admin import service as admin
from gateway.app import create_app
from gateway.audit import chain
from gateway.domain.centres import CentreKind, Role, Sector
from gateway.kit.db import transaction
from gateway.settings import Settings
from gateway.storage.models import AuditEntry, Centre, InsuredCoverage
from tests import factories as f
from tests.submissions.test_submissions import JSON, auth

# In the sample register (schemas/registry/sample/insured.csv), covered from 2024-01-01.
SAMPLE_PATIENT = {"national_id": "6383233564", "insurance_number": "55501234"}


def ask(client: TestClient, token: str, body: dict[str, Any]) -> Any:
    return client.post("/v1/eligibility", json=body, headers={"Authorization": f"Bearer {token}"})


def asked(client: TestClient, token: str, **body: Any) -> dict[str, Any]:
    answer = ask(client, token, body)
    assert answer.status_code == 200, answer.text
    found: dict[str, Any] = answer.json()
    return found


def centre_in(sessions: sessionmaker[Session], province: str | None) -> tuple[Centre, str]:
    code = f"P{f.new_national_id()}"
    with transaction(sessions) as session:
        centre = admin.add_centre(
            session=session,
            code=code,
            name=code,
            kind=CentreKind.CONTRACTED,
            sector=Sector.PRIVATE,
            province=province,
        )
        token = admin.add_token(session=session, role=Role.CENTRE, centre=centre)
    return centre, token


_seeds = itertools.count(10_000_000)


def unregistered_person() -> str:
    """A valid national ID outside the factories' register, never handed out twice in this
    process, for a test's own coverage."""
    registered = set(f.INSURED)
    while (candidate := f.national_id(next(_seeds))) in registered:
        pass
    return candidate


def test_a_registered_patient_is_covered_with_the_centre_s_rate(
    client: TestClient, sessions: sessionmaker[Session]
) -> None:
    centre, token = f.make_centre(sessions)
    counted = metrics.ELIGIBILITY_INQUIRIES.labels("api", "covered")
    before = counted._value.get()
    answer = asked(client, token, **SAMPLE_PATIENT, service_date="2026-11-25")
    assert answer["covered"] is True
    assert counted._value.get() == before + 1
    assert answer["reasons"] == []
    assert answer["centre_code"] == centre.code
    assert answer["setting"] == "outpatient"  # the default
    assert answer["coverage"] == {
        "insurance_number": "55501234",
        "valid_from": "2024-01-01",
        "valid_to": None,
    }
    assert (answer["copayment_rate"], answer["copayment_rate_percent"]) == ("0.30", "30")
    inpatient = asked(
        client, token, **SAMPLE_PATIENT, service_date="2026-11-25", setting="inpatient"
    )
    assert (inpatient["copayment_rate"], inpatient["copayment_rate_percent"]) == ("0.10", "10")
    _, owned = f.make_centre(sessions, kind=CentreKind.OWNED, sector=Sector.GOVERNMENTAL)
    own = asked(client, owned, **SAMPLE_PATIENT, service_date="2026-11-25", setting="paraclinical")
    assert Settings().copay_owned_outpatient == 0
    assert own["copayment_rate_percent"] == "0"


def test_a_coverage_ending_mid_period_covers_before_and_not_after(
    client: TestClient, sessions: sessionmaker[Session]
) -> None:
    person = unregistered_person()
    with transaction(sessions) as session:
        session.add(
            InsuredCoverage(
                national_id=person,
                insurance_number="700100200",
                valid_from=date(2026, 1, 1),
                valid_to=date(2026, 11, 15),
            )
        )
    _, token = f.make_centre(sessions)
    patient = {"national_id": person, "insurance_number": "700100200"}
    last_day = asked(client, token, **patient, service_date="2026-11-15")
    assert last_day["covered"] is True
    assert last_day["coverage"]["valid_to"] == "2026-11-15"
    after = asked(client, token, **patient, service_date="2026-11-16")
    assert after["covered"] is False
    assert after["coverage"] is None
    assert [(r["code"], r["path"]) for r in after["reasons"]] == [
        ("patient.not-eligible", "/service_date")
    ]
    wrong_number = asked(
        client, token, national_id=person, insurance_number="999999999", service_date="2026-11-10"
    )
    assert [r["code"] for r in wrong_number["reasons"]] == ["patient.insurance-number-mismatch"]
    bad_digit = asked(
        client,
        token,
        national_id="1234567890",
        insurance_number="55501234",
        service_date="2026-11-10",
    )
    assert [r["code"] for r in bad_digit["reasons"]] == ["patient.national-id-checksum"]


def test_a_centre_outside_its_contract_is_told_so(
    client: TestClient, sessions: sessionmaker[Session]
) -> None:
    centre, token = f.make_centre(sessions)
    with transaction(sessions) as session:
        stored = session.get(Centre, centre.id)
        assert stored is not None
        stored.contract_from, stored.contract_to = date(2025, 1, 1), date(2026, 11, 20)
    inside = asked(client, token, **SAMPLE_PATIENT, service_date="2026-11-20")
    assert inside["covered"] is True
    outside = asked(client, token, **SAMPLE_PATIENT, service_date="2026-11-21")
    assert [r["code"] for r in outside["reasons"]] == ["centre.contract-inactive"]


def test_services_answer_with_the_tariff_and_the_referral_province(
    client: TestClient, sessions: sessionmaker[Session]
) -> None:
    _, tehran = centre_in(sessions, "Tehran")
    _, isfahan = centre_in(sessions, "Isfahan")
    services = [
        {"code_type": "service", "code": "970005"},  # specialist visit: referral, outpatient
        {"code_type": "service", "code": "300100"},  # bed-day: inpatient only
        {"code_type": "drug", "code": "970005"},  # a service asked as a drug
        {"code_type": "service", "code": "NOPE-1"},
    ]
    body = {**SAMPLE_PATIENT, "service_date": "2026-11-25", "services": services}
    here = asked(client, tehran, **body)
    visit, bed, drug, unknown = here["services"]
    assert visit == {
        "code_type": "service",
        "code": "970005",
        "title": "Specialist visit",
        "covered": True,
        "reasons": [],
        "referral_required": True,
        "quantity_limit": 1,
        "quantity_period": "2026-11",
        "quantity_used": 0,
        "quantity_left": 1,
    }
    assert bed["covered"] is False
    assert [(r["code"], r["path"]) for r in bed["reasons"]] == [
        ("not-for-setting", "/services/1/code")
    ]
    assert drug["covered"] is False
    assert drug["title"] is None
    assert [r["code"] for r in drug["reasons"]] == ["not-in-tariff"]
    assert [r["code"] for r in unknown["reasons"]] == ["not-in-tariff"]
    assert unknown["quantity_limit"] is None
    assert unknown["quantity_left"] is None
    elsewhere = asked(client, isfahan, **body)
    assert elsewhere["services"][0]["referral_required"] is False
    inpatient = asked(client, tehran, **{**body, "setting": "inpatient"})
    assert inpatient["services"][1]["covered"] is True
    assert inpatient["services"][0]["reasons"][0]["code"] == "not-for-setting"


def test_a_quantity_limit_partly_used_this_month(
    client: TestClient, sessions: sessionmaker[Session]
) -> None:
    centre, token = f.make_centre(sessions)
    visit = f.outpatient_visit(
        [f.line("600100", 4, 700_000), f.line("800010", 1, 300_000)], service_date="2026-11-10"
    )
    patient = visit["outpatientVisit"]["patient"]
    sent = client.post(
        "/v1/submissions",
        content=f.as_json(f.submission(centre.code, visit)),
        headers=auth(token, JSON),
    )
    assert sent.status_code == 202, sent.text
    assert sent.json()["documents"][0]["status"] == "ACCEPTED"
    # A document refused at the door bills nothing: its units are not counted.
    refused = f.outpatient_visit([f.line("600100", 3, 700_000)], service_date="2026-11-11")
    refused["outpatientVisit"]["patient"] = {**patient, "insuranceNumber": "999999999"}
    sent = client.post(
        "/v1/submissions",
        content=f.as_json(f.submission(centre.code, refused)),
        headers=auth(token, JSON),
    )
    assert sent.json()["documents"][0]["status"] == "REJECTED"
    body = {
        "national_id": patient["nationalId"],
        "insurance_number": patient["insuranceNumber"],
        "services": [{"code_type": "service", "code": "600100"}],
    }
    later = asked(client, token, **body, service_date="2026-11-12")["services"][0]
    assert (later["quantity_limit"], later["quantity_used"], later["quantity_left"]) == (10, 4, 10)
    assert later["covered"] is True
    same_day = asked(client, token, **body, service_date="2026-11-10")["services"][0]
    assert same_day["covered"] is False
    assert (same_day["quantity_used"], same_day["quantity_left"]) == (4, 0)
    (reason,) = same_day["reasons"]
    assert reason["code"] == "duplicate-line"
    assert "of this centre" in reason["message"]
    next_month = asked(client, token, **body, service_date="2026-12-01")["services"][0]
    assert (next_month["quantity_period"], next_month["quantity_used"]) == ("2026-12", 0)


def test_the_token_decides_the_centre(client: TestClient, sessions: sessionmaker[Session]) -> None:
    mine, token = f.make_centre(sessions)
    other, _ = f.make_centre(sessions)
    on_behalf = ask(
        client,
        token,
        {**SAMPLE_PATIENT, "service_date": "2026-11-25", "centre_code": other.code},
    )
    assert on_behalf.status_code == 422
    (problem,) = on_behalf.json()["errors"]
    assert (problem["code"], problem["path"]) == ("request.invalid", "body/centre_code")
    answer = asked(client, token, **SAMPLE_PATIENT, service_date="2026-11-25")
    assert answer["centre_code"] == mine.code
    staff = ask(
        client, f.make_staff_token(sessions), {**SAMPLE_PATIENT, "service_date": "2026-11-25"}
    )
    assert staff.status_code == 403
    assert staff.json()["errors"][0]["code"] == "auth.forbidden"
    assert ask(client, "nope", {**SAMPLE_PATIENT, "service_date": "2026-11-25"}).status_code == 401


def test_each_inquiry_is_audited_without_the_patient_s_identifiers(
    client: TestClient, sessions: sessionmaker[Session]
) -> None:
    centre, token = f.make_centre(sessions)
    services = [{"code_type": "service", "code": "970000"}]
    answer = asked(client, token, **SAMPLE_PATIENT, service_date="2026-11-25", services=services)
    with sessions() as session:
        (entry,) = session.scalars(
            select(AuditEntry).where(AuditEntry.subject_id == answer["inquiry_id"])
        )
        assert chain.verify_newest(session, 20).ok
    assert (entry.actor, entry.action, entry.subject_type) == (
        f"centre:{centre.code}",
        "eligibility.inquiry",
        "eligibility_inquiry",
    )
    assert entry.details["covered"] is True
    assert entry.details["services"] == [
        {"code_type": "service", "code": "970000", "covered": True}
    ]
    text = json.dumps(entry.details)
    assert SAMPLE_PATIENT["national_id"] not in text
    assert SAMPLE_PATIENT["insurance_number"] not in text


def test_invalid_bodies_are_422_with_each_problem_located(
    client: TestClient, sessions: sessionmaker[Session]
) -> None:
    _, token = f.make_centre(sessions)
    answer = ask(client, token, {"national_id": "12345", "service_date": "2026-13-01"})
    assert answer.status_code == 422
    paths = {p["path"] for p in answer.json()["errors"]}
    assert paths == {"body/national_id", "body/insurance_number", "body/service_date"}
    assert {p["code"] for p in answer.json()["errors"]} == {"request.invalid"}
    many = [{"code_type": "service", "code": "970000"}] * 101
    too_many = ask(
        client, token, {**SAMPLE_PATIENT, "service_date": "2026-11-25", "services": many}
    )
    assert too_many.status_code == 422
    assert too_many.json()["errors"][0]["path"] == "body/services"
    not_json = client.post(
        "/v1/eligibility",
        content=b"{",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    assert not_json.status_code == 422
    assert not_json.json()["errors"][0]["code"] == "request.invalid"
    assert not_json.json()["errors"][0]["message"] == "JSON decode error"


def test_unknown_enum_values_are_422(client: TestClient, sessions: sessionmaker[Session]) -> None:
    _, token = f.make_centre(sessions)
    base = {**SAMPLE_PATIENT, "service_date": "2026-11-25"}
    for body, path in (
        ({**base, "setting": "bogus"}, "body/setting"),
        (
            {**base, "services": [{"code_type": "package", "code": "970000"}]},
            "body/services/0/code_type",
        ),
    ):
        answer = ask(client, token, body)
        assert answer.status_code == 422, body
        (problem,) = answer.json()["errors"]
        assert (problem["code"], problem["path"]) == ("request.invalid", path)


def test_inquiries_spend_a_budget_of_their_own(
    settings: Settings, sessions: sessionmaker[Session]
) -> None:
    # One inquiry a minute: no token comes back before the second, however slow the machine.
    slow = settings.model_copy(update={"eligibility_per_minute": 1})
    (centre, token), (_, other) = f.make_centre(sessions), f.make_centre(sessions)
    body = {**SAMPLE_PATIENT, "service_date": "2026-11-25"}
    with TestClient(create_app(slow, relay=False)) as limited:
        assert ask(limited, token, body).status_code == 200
        refused = ask(limited, token, body)
        assert refused.status_code == 429
        assert int(refused.headers["Retry-After"]) >= 1
        assert refused.json()["errors"][0]["code"] == "rate-limited"
        # The centre's other requests and other centres' inquiries go on.
        documents = limited.get("/v1/documents", headers={"Authorization": f"Bearer {token}"})
        assert documents.status_code == 200
        assert ask(limited, other, body).status_code == 200
    with sessions() as session:
        audited = session.scalars(
            select(AuditEntry).where(
                AuditEntry.action == "eligibility.inquiry",
                AuditEntry.actor == f"centre:{centre.code}",
            )
        ).all()
    assert len(audited) == 1  # the refused inquiry was not answered, nor recorded


def test_the_first_and_last_days_a_date_can_name(
    client: TestClient, sessions: sessionmaker[Session]
) -> None:
    _, token = f.make_centre(sessions)
    services = [{"code_type": "service", "code": "970000"}]
    for day, period in (("0001-01-01", "0001-01"), ("9999-12-31", "9999-12")):
        answer = asked(client, token, **SAMPLE_PATIENT, service_date=day, services=services)
        assert answer["covered"] is (day > "2024")
        assert answer["services"][0]["quantity_period"] == period


def test_care_too_long_ago_to_bill_is_not_covered(
    client: TestClient, sessions: sessionmaker[Session]
) -> None:
    """Today is 2026-11-23 (GATEWAY_CLOCK_DATE); outpatient bills count for 90 days."""
    _, token = f.make_centre(sessions)
    last = asked(client, token, **SAMPLE_PATIENT, service_date="2026-08-25")
    assert last["covered"] is True
    late = asked(client, token, **SAMPLE_PATIENT, service_date="2026-08-24")
    assert [(r["code"], r["path"]) for r in late["reasons"]] == [
        ("date.submission-late", "/service_date")
    ]
    # A stay's window runs from its discharge, which an inquiry does not know.
    stay = asked(client, token, **SAMPLE_PATIENT, service_date="2026-08-01", setting="inpatient")
    assert stay["covered"] is True


def test_another_centre_s_bill_is_named_without_its_number(
    client: TestClient, sessions: sessionmaker[Session]
) -> None:
    first, first_token = f.make_centre(sessions)
    _, second_token = f.make_centre(sessions)
    visit = f.outpatient_visit([f.line("970000", 1, 700_000)], service_date="2026-11-09")
    sent = client.post(
        "/v1/submissions",
        content=f.as_json(f.submission(first.code, visit)),
        headers=auth(first_token, JSON),
    )
    assert sent.json()["documents"][0]["status"] == "ACCEPTED"
    patient = visit["outpatientVisit"]["patient"]
    answer = asked(
        client,
        second_token,
        national_id=patient["nationalId"],
        insurance_number=patient["insuranceNumber"],
        service_date="2026-11-09",
        services=[{"code_type": "service", "code": "970000"}],
    )
    (service,) = answer["services"]
    assert [r["code"] for r in service["reasons"]] == ["duplicate-line"]
    assert "of another centre" in service["reasons"][0]["message"]
    assert visit["outpatientVisit"]["documentNumber"] not in json.dumps(answer)
