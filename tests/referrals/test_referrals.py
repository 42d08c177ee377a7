"""Referrals issued by a level-1 centre, checked and used at the specialist, read by the
two centres involved only, fed back (docs/referrals.md)."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from gateway.domain.centres import Role
from gateway.domain.referrals import new_referral_code, referral_code_is_valid
from gateway.kit.db import transaction
from gateway.referrals import service as referrals
from gateway.storage import repository
from gateway.storage.models import (
    AuditEntry,
    Document,
    OutboxMessage,
    Referral,
    ReferralUse,
    Webhook,
)
from tests import factories as f
from tests.referrals.helpers import (
    JSON,
    Programme,
    auth,
    error_codes,
    issue,
    programme,
    specialist_visit,
    submit,
)
from tests.submissions.test_submissions import price_all

VISIT = "/documents/0/outpatientVisit"


def test_issue_read_and_use_a_referral(client: TestClient, sessions, tmp_path: Path) -> None:
    p = programme(sessions, tmp_path)
    issued = issue(client, p, specialty="cardiology", reason_text="chest pain on effort")
    code = issued["code"]
    assert referral_code_is_valid(code)
    assert len(code) == 14
    assert issued["status"] == "open"
    assert (issued["issued_on"], issued["valid_until"]) == ("2026-11-01", "2026-11-30")
    assert (issued["visits"], issued["visits_used"], issued["source"]) == (1, 0, "api")

    (document,) = submit(client, p, specialist_visit(p, code, specialty="cardiology"))
    assert document["status"] == "ACCEPTED", document

    read = client.get(f"/v1/referrals/{code}", headers=auth(p.family_token)).json()
    assert (read["visits_used"], read["status"]) == (1, "used")
    # The centre that used it may read it too: the programme's exception.
    by_user = client.get(f"/v1/referrals/{code}", headers=auth(p.specialist_token))
    assert by_user.status_code == 200
    used = client.get("/v1/referrals?status=used", headers=auth(p.family_token)).json()
    assert [r["code"] for r in used["items"]] == [code]
    opened = client.get("/v1/referrals?status=open", headers=auth(p.family_token)).json()
    assert opened["total"] == 0
    with sessions() as session:
        reads = session.scalars(
            select(AuditEntry.action).where(AuditEntry.subject_id == code)
        ).all()
    assert {"referral.issued", "referral.read"} <= set(reads)


def test_an_unknown_status_is_422(client: TestClient, sessions, tmp_path: Path) -> None:
    p = programme(sessions, tmp_path)
    answer = client.get("/v1/referrals?status=lost", headers=auth(p.family_token))
    assert answer.status_code == 422


def test_only_a_family_physician_refers_patients_on_the_list(
    client: TestClient, sessions, tmp_path: Path
) -> None:
    p = programme(sessions, tmp_path)
    body = {"physician": p.physician, "patient": f.new_national_id(), "level": 2, "reason": "I20"}
    answer = client.post("/v1/referrals", json=body, headers=auth(p.family_token))
    assert answer.status_code == 422
    assert answer.json()["errors"][0]["code"] == "referral.not-on-list"
    body["patient"] = p.patient
    answer = client.post("/v1/referrals", json=body, headers=auth(p.specialist_token))
    assert answer.status_code == 422
    assert answer.json()["errors"][0]["code"] == "referral.not-family-physician"


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("unknown", ("referral.unknown", f"{VISIT}/referralCode")),
        ("mistyped", ("referral.unknown", f"{VISIT}/referralCode")),
        ("other-patient", ("referral.other-patient", f"{VISIT}/patient/nationalId")),
        ("wrong-level", ("referral.wrong-specialty", f"{VISIT}/physician/grade")),
        ("wrong-specialty", ("referral.wrong-specialty", f"{VISIT}/physician/specialty")),
        ("expired", ("referral.expired", f"{VISIT}/serviceDate")),
        ("missing", ("referral.missing", f"{VISIT}/referralCode")),
    ],
)
def test_each_failure_has_its_code_and_path(
    client: TestClient, sessions, tmp_path: Path, case: str, expected: tuple[str, str]
) -> None:
    p = programme(sessions, tmp_path)
    code = issue(client, p, specialty="cardiology")["code"]
    changes: dict[str, object] = {"specialty": "cardiology"}
    if case == "unknown":
        code = new_referral_code()  # well formed, never issued
    elif case == "mistyped":
        code = code[:-1] + str((int(code[-1]) + 1) % 10)
    elif case == "other-patient":
        changes["patient"] = f.new_national_id()
    elif case == "wrong-level":
        changes["grade"] = "subspecialist"
    elif case == "wrong-specialty":
        changes["specialty"] = "ophthalmology"
    elif case == "expired":
        changes["service_date"] = "2026-12-01"
    visit = specialist_visit(p, None if case == "missing" else code, **changes)  # type: ignore[arg-type]
    (document,) = submit(client, p, visit)
    assert document["status"] == "REJECTED"
    assert expected in error_codes(document)


def test_a_used_up_referral_is_refused_and_a_retry_uses_nothing_more(
    client: TestClient, sessions, tmp_path: Path
) -> None:
    p = programme(sessions, tmp_path)
    code = issue(client, p)["code"]
    first = specialist_visit(p, code)
    (accepted,) = submit(client, p, first)
    assert accepted["status"] == "ACCEPTED"
    (again,) = submit(client, p, first)  # the same document again: a duplicate
    assert again["status"] == "REJECTED"
    (second,) = submit(client, p, specialist_visit(p, code))
    assert ("referral.used-up", f"{VISIT}/referralCode") in error_codes(second)
    with sessions() as session:
        assert session.scalar(select(Referral.visits_used).where(Referral.code == code)) == 1


def test_two_documents_of_one_submission_race_for_the_last_visit(
    client: TestClient, sessions, tmp_path: Path
) -> None:
    p = programme(sessions, tmp_path)
    code = issue(client, p)["code"]
    documents = submit(client, p, specialist_visit(p, code), specialist_visit(p, code))
    assert [d["status"] for d in documents] == ["ACCEPTED", "REJECTED"]
    assert error_codes(documents[1]) == [
        ("referral.used-up", "/documents/1/outpatientVisit/referralCode")
    ]


def test_self_referred_and_emergency_visits_are_not_refused(
    client: TestClient, sessions, tmp_path: Path
) -> None:
    p = programme(sessions, tmp_path)
    self_referred = specialist_visit(p, None, attributes={"selfReferred": True})
    emergency = specialist_visit(p, None, attributes={"emergency": True})
    assert [d["status"] for d in submit(client, p, self_referred, emergency)] == [
        "ACCEPTED",
        "ACCEPTED",
    ]


def test_outside_the_rollout_no_referral_is_needed(
    client: TestClient, sessions, tmp_path: Path
) -> None:
    # Isfahan is not in the rollout; Alborz requires it in owned centres only.
    for province in ("Isfahan", "Alborz"):
        p = programme(sessions, tmp_path / province, province=province)
        (document,) = submit(client, p, specialist_visit(p, None))
        assert document["status"] == "ACCEPTED", (province, document)


def test_only_the_two_centres_read_a_referral(client: TestClient, sessions, tmp_path: Path) -> None:
    p = programme(sessions, tmp_path)
    code = issue(client, p)["code"]
    before_use = client.get(f"/v1/referrals/{code}", headers=auth(p.specialist_token))
    assert before_use.status_code == 404  # not used by it (yet): as if it did not exist
    assert client.get(f"/v1/referrals/{code}", headers=auth(p.other_token)).status_code == 404
    listed = client.get("/v1/referrals", headers=auth(p.other_token)).json()
    assert code not in [r["code"] for r in listed["items"]]
    for role in (Role.AUDITOR, Role.FINANCE, Role.ADMIN):
        token = f.make_staff_token(sessions, role)
        answer = client.get(f"/v1/referrals/{code}", headers=auth(token))
        assert answer.status_code == 403, role
        assert client.get("/v1/referrals", headers=auth(token)).status_code == 403
    assert client.get(f"/v1/referrals/{code}").status_code == 401


def test_feedback_from_the_specialist_to_the_family_physician(
    client: TestClient, sessions, tmp_path: Path
) -> None:
    p = programme(sessions, tmp_path)
    code = issue(client, p)["code"]
    feedback = {
        "diagnosis": "I25.1",
        "findings": "Stable angina; exercise test positive.",
        "plan": "Beta blocker; review in three months.",
        "back_to_level1": True,
    }
    url = f"/v1/referrals/{code}/feedback"
    assert client.post(url, json=feedback, headers=auth(p.specialist_token)).status_code == 404
    submit(client, p, specialist_visit(p, code))
    assert client.post(url, json=feedback, headers=auth(p.family_token)).status_code == 403
    assert client.post(url, json=feedback, headers=auth(p.other_token)).status_code == 404
    staff = f.make_staff_token(sessions, Role.AUDITOR)
    assert client.post(url, json=feedback, headers=auth(staff)).status_code == 403
    given = client.post(url, json=feedback, headers=auth(p.specialist_token))
    assert given.status_code == 200, given.text
    assert client.post(url, json=feedback, headers=auth(p.specialist_token)).status_code == 409
    read = client.get(f"/v1/referrals/{code}", headers=auth(p.family_token)).json()
    assert read["feedback"]["diagnosis"] == "I25.1"
    assert read["feedback"]["back_to_level1"] is True
    assert read["feedback"]["centre"] == p.specialist_centre


def test_events_go_to_the_issuing_centre(client: TestClient, sessions, tmp_path: Path) -> None:
    p = programme(sessions, tmp_path)
    with transaction(sessions) as session:
        centre = repository.get_centre_by_code(session, p.family_centre)
        assert centre is not None
        hook = Webhook(centre_id=centre.id, url="https://his.example.ir/events", secret="s" * 32)
        session.add(hook)
        session.flush()
        hook_id = hook.id
    code = issue(client, p)["code"]
    submit(client, p, specialist_visit(p, code))
    feedback = {"diagnosis": "I25.1", "findings": "x", "plan": "y", "back_to_level1": False}
    client.post(f"/v1/referrals/{code}/feedback", json=feedback, headers=auth(p.specialist_token))
    with sessions() as session:  # in the order they were written (an update moves a row)
        payloads = session.scalars(select(OutboxMessage.payload).order_by(OutboxMessage.id)).all()
    events = [
        m["event"]
        for m in payloads
        if m.get("webhook_id") == hook_id and m["event"]["type"].startswith("referral.")
    ]
    assert [e["type"] for e in events] == ["referral.used", "referral.feedback"]
    assert all(e["data"]["code"] == code for e in events)


def test_a_released_visit_is_given_back_once(
    client: TestClient, sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    p = programme(sessions, tmp_path)
    code = issue(client, p)["code"]
    (document,) = submit(client, p, specialist_visit(p, code))
    with transaction(sessions) as session:
        assert referrals.release_for_document(session, uuid.UUID(document["id"]))
        assert not referrals.release_for_document(session, uuid.UUID(document["id"]))
    with sessions() as session:
        assert session.scalar(select(Referral.visits_used).where(Referral.code == code)) == 0
        assert session.get(Document, uuid.UUID(document["id"])) is not None
    (other,) = submit(client, p, specialist_visit(p, code))
    assert other["status"] == "ACCEPTED"


def test_a_self_referred_visit_is_priced_under_the_policy(
    client: TestClient, sessions, tmp_path: Path
) -> None:
    p = programme(sessions, tmp_path)
    visit = specialist_visit(p, None, attributes={"selfReferred": True})
    referred = specialist_visit(p, issue(client, p)["code"])
    ids = [d["id"] for d in submit(client, p, visit, referred)]
    price_all(sessions, ids)
    lines = []
    for document_id in ids:
        answer = client.get(f"/v1/documents/{document_id}", headers=auth(p.specialist_token))
        (line,) = answer.json()["lines"]
        lines.append(line["pricing"])
    # 970005: 2.6 RVU x K; the self-referred patient pays all of it (the default policy),
    # the referred one the contracted centre's usual 30%.
    assert [(x["copay_reason"], x["copay_rate"]) for x in lines] == [
        ("referral.self-referred", "1.0000"),
        (None, "0.3000"),
    ]
    assert lines[0]["insurer_share"] == 0
    assert lines[0]["copayment"] == lines[0]["eligible"] > 0
    remittance = client.get(f"/v1/documents/{ids[0]}/remittance", headers=auth(p.specialist_token))
    assert remittance.status_code == 200, remittance.text
    assert "referral.self-referred" in remittance.text


def _family_visit(p: Programme, **changes: object) -> dict[str, object]:
    visit = f.outpatient_visit([f.line("970000", 1, 700_000)])
    body = visit["outpatientVisit"]
    body["patient"] = {"nationalId": p.patient, "insuranceNumber": f.INSURANCE_NUMBER}
    body["physician"] = {"medicalCouncilNumber": p.physician}
    body["referralsIssued"] = [
        {"level": 2, "specialty": "cardiology", "reason": "I20.9"},
        {"level": 3, "reason": "E11.9", "reasonText": "poorly controlled", "visits": 2},
    ]
    body.update(changes)
    return visit


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_a_level_1_visit_issues_referrals(
    client: TestClient, sessions, tmp_path: Path, fmt: str
) -> None:
    p = programme(sessions, tmp_path)
    data = f.submission(p.family_centre, _family_visit(p))
    body = f.as_json(data) if fmt == "json" else f.as_xml(data)
    media = "application/json" if fmt == "json" else "application/xml"
    headers = auth(p.family_token, {"Content-Type": media, "Idempotency-Key": f"k-{fmt}"})
    answer = client.post("/v1/submissions", content=body, headers=headers)
    assert answer.status_code == 202, answer.text
    (document,) = answer.json()["documents"]
    assert document["status"] == "ACCEPTED", document
    codes = document["referrals_issued"]
    assert len(codes) == 2
    assert all(referral_code_is_valid(c) for c in codes)
    again = client.post("/v1/submissions", content=body, headers=headers).json()
    assert again["documents"][0]["referrals_issued"] == codes
    stored = client.get(answer.json()["url"], headers=auth(p.family_token)).json()
    assert stored["documents"][0]["referrals_issued"] == codes
    first, second = (
        client.get(f"/v1/referrals/{c}", headers=auth(p.family_token)).json() for c in codes
    )
    assert (first["source"], first["level"], first["specialty"], first["issued_on"]) == (
        "document",
        2,
        "cardiology",
        "2026-11-10",
    )
    assert (second["level"], second["visits"], second["reason_text"]) == (
        3,
        2,
        "poorly controlled",
    )
    # The specialist uses the first one.
    (used,) = submit(client, p, specialist_visit(p, codes[0], specialty="cardiology"))
    assert used["status"] == "ACCEPTED", used


def test_a_visit_issuing_for_a_patient_off_the_list_is_rejected(
    client: TestClient, sessions, tmp_path: Path
) -> None:
    p = programme(sessions, tmp_path)
    stranger = {"nationalId": f.new_national_id(), "insuranceNumber": f.INSURANCE_NUMBER}
    answer = client.post(
        "/v1/submissions",
        content=f.as_json(f.submission(p.family_centre, _family_visit(p, patient=stranger))),
        headers=auth(p.family_token, JSON),
    )
    (document,) = answer.json()["documents"]
    assert document["status"] == "REJECTED"
    assert error_codes(document) == [
        ("referral.not-on-list", "/documents/0/outpatientVisit/referralsIssued")
    ]
    assert document["referrals_issued"] == []
    with sessions() as session:
        issued = session.scalar(
            select(func.count()).where(Referral.patient_national_id == stranger["nationalId"])
        )
    assert issued == 0


def _sample(client: TestClient, name: str, **labels: str) -> float:
    from prometheus_client.parser import text_string_to_metric_families

    for family in text_string_to_metric_families(client.get("/metrics").text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return float(sample.value)
    return 0.0


def test_a_retried_request_uses_no_second_visit_and_is_counted_once(
    client: TestClient, sessions, tmp_path: Path
) -> None:
    p = programme(sessions, tmp_path)
    issued_before = _sample(client, "gateway_referrals_issued_total", source="api", level="2")
    used_before = _sample(client, "gateway_referrals_used_total", level="2")
    code = issue(client, p, visits=2)["code"]
    body = f.as_json(f.submission(p.specialist_centre, specialist_visit(p, code)))
    headers = auth(p.specialist_token, {**JSON, "Idempotency-Key": f"retry-{code}"})
    first = client.post("/v1/submissions", content=body, headers=headers)
    again = client.post("/v1/submissions", content=body, headers=headers)
    assert again.headers.get("idempotent-replayed") == "true"
    assert first.json()["documents"] == again.json()["documents"]
    read = client.get(f"/v1/referrals/{code}", headers=auth(p.family_token)).json()
    assert (read["visits_used"], read["status"]) == (1, "open")
    assert _sample(client, "gateway_referrals_issued_total", source="api", level="2") == (
        issued_before + 1
    )
    assert _sample(client, "gateway_referrals_used_total", level="2") == used_before + 1


def test_a_voided_document_gives_its_visit_back(
    client: TestClient, sessions, tmp_path: Path
) -> None:
    p = programme(sessions, tmp_path)
    code = issue(client, p)["code"]
    (held,) = submit(client, p, specialist_visit(p, code))
    voided = client.post(
        f"/v1/documents/{held['id']}/void",
        json={"reason": "wrong patient"},
        headers=auth(p.specialist_token),
    )
    assert voided.status_code == 200, voided.text
    read = client.get(f"/v1/referrals/{code}", headers=auth(p.family_token)).json()
    assert (read["visits_used"], read["status"]) == (0, "open")
    (again,) = submit(client, p, specialist_visit(p, code))
    assert again["status"] == "ACCEPTED", again["errors"]


def test_a_replacement_holds_the_visit_its_original_gave_back(
    client: TestClient, sessions, tmp_path: Path
) -> None:
    p = programme(sessions, tmp_path)
    code = issue(client, p)["code"]
    original = specialist_visit(p, code)
    (first,) = submit(client, p, original)
    assert first["status"] == "ACCEPTED"
    corrected = specialist_visit(p, code)
    body = corrected["outpatientVisit"]
    number = original["outpatientVisit"]["documentNumber"]
    corrected["outpatientVisit"] = {
        "documentNumber": body.pop("documentNumber"),
        "replaces": number,
        **body,
    }
    (second,) = submit(client, p, corrected)
    assert second["status"] == "ACCEPTED", second
    with sessions() as session:
        assert session.scalar(select(Referral.visits_used).where(Referral.code == code)) == 1
        holders = session.scalars(
            select(ReferralUse.document_id).where(ReferralUse.released_at.is_(None))
            .join(Referral, Referral.id == ReferralUse.referral_id)
            .where(Referral.code == code)
        ).all()  # fmt: skip
    assert [str(h) for h in holders] == [second["id"]]


FEEDBACK_ELEMENT = {
    "diagnosis": "I25.1",
    "findings": "Stable angina.",
    "plan": "Beta blocker; back to the family physician.",
    "backToLevel1": True,
}


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_the_specialists_document_carries_the_feedback(
    client: TestClient, sessions, tmp_path: Path, fmt: str
) -> None:
    p = programme(sessions, tmp_path)
    code = issue(client, p)["code"]
    visit = specialist_visit(p, code, attributes={"referralFeedback": FEEDBACK_ELEMENT})
    data = f.submission(p.specialist_centre, visit)
    body = f.as_json(data) if fmt == "json" else f.as_xml(data)
    media = "application/json" if fmt == "json" else "application/xml"
    answer = client.post(
        "/v1/submissions", content=body, headers=auth(p.specialist_token, {"Content-Type": media})
    )
    (document,) = answer.json()["documents"]
    assert document["status"] == "ACCEPTED", document
    read = client.get(f"/v1/referrals/{code}", headers=auth(p.family_token)).json()
    assert read["feedback"]["diagnosis"] == "I25.1"
    assert read["feedback"]["plan"] == FEEDBACK_ELEMENT["plan"]
    assert read["feedback"]["back_to_level1"] is True
    assert read["feedback"]["centre"] == p.specialist_centre
    again = client.post(
        f"/v1/referrals/{code}/feedback",
        json={"diagnosis": "I20", "findings": "x", "plan": "y", "back_to_level1": False},
        headers=auth(p.specialist_token),
    )
    assert again.status_code == 409


def test_feedback_without_a_referral_is_ignored_with_a_warning(
    client: TestClient, sessions, tmp_path: Path
) -> None:
    p = programme(sessions, tmp_path)
    visit = specialist_visit(
        p, None, attributes={"selfReferred": True, "referralFeedback": FEEDBACK_ELEMENT}
    )
    (document,) = submit(client, p, visit)
    assert document["status"] == "ACCEPTED"
    warnings = [(w["code"], w["path"]) for w in document["warnings"]]
    assert warnings == [
        ("referral.feedback-ignored", "/documents/0/outpatientVisit/referralFeedback")
    ]
