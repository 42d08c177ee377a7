"""Every route refuses whoever may not use it: no token 401, a role's forbidden action 403,
another centre's object 404, and no list, search or count shows another centre's data.

The table below must name every API route: a new route without a row fails the first
test, so nobody adds a route without deciding who may call it.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient

from gateway.domain.centres import Role
from gateway.kit.db import transaction
from gateway.pricing.engine.review import ReviewPolicy
from gateway.pricing.service import Policies
from gateway.storage.models import FamilyPhysician, PatientListEntry, PaymentOrder, Webhook
from tests import factories as f
from tests.submissions.test_submissions import JSON, POLICIES, auth, price_all

CENTRE, AUDITOR, FINANCE, ADMIN = "centre", "auditor", "finance", "admin"
EVERYONE = frozenset({CENTRE, AUDITOR, FINANCE, ADMIN})
STAFF = frozenset({AUDITOR, FINANCE, ADMIN})
PUBLIC = {"/healthz", "/readyz", "/metrics", "/openapi.json", "/docs", "/docs/oauth2-redirect",
          "/redoc", "/fhir/metadata"}  # fmt: skip


@dataclass(frozen=True)
class Rule:
    roles: frozenset[str]
    owned: bool = False  # an object of one centre: another centre gets 404
    body: Any = None
    query: dict[str, str] | None = None
    form: bool = False  # the body as a form (urlencoded), not JSON


FHIR_CLAIM = {"resourceType": "Claim"}
FHIR_REFERRAL = {"resourceType": "ServiceRequest"}
FHIR_COMMUNICATION = {"resourceType": "Communication"}
REFERRAL = {"physician": "00", "patient": "0000000000", "level": 2, "reason": "I20"}
FEEDBACK = {"diagnosis": "I20", "findings": "x", "plan": "y", "back_to_level1": True}
ROUTES: dict[tuple[str, str], Rule] = {
    ("POST", "/v1/submissions"): Rule(frozenset({CENTRE})),
    ("GET", "/v1/submissions/{submission_id}"): Rule(EVERYONE, owned=True),
    ("POST", "/v1/batches"): Rule(frozenset({CENTRE})),
    ("GET", "/v1/batches/{batch_id}"): Rule(EVERYONE, owned=True),
    ("GET", "/v1/batches/{batch_id}/acknowledgement"): Rule(EVERYONE, owned=True),
    ("GET", "/v1/batches/{batch_id}/acknowledgement.csv"): Rule(EVERYONE, owned=True),
    ("GET", "/v1/documents"): Rule(EVERYONE),
    ("GET", "/v1/documents/{document_id}"): Rule(EVERYONE, owned=True),
    ("GET", "/v1/documents/{document_id}/remittance"): Rule(EVERYONE, owned=True),
    ("POST", "/v1/documents/{document_id}/lines/{line_no}/review"): Rule(
        frozenset({AUDITOR, ADMIN}), body={"action": "accept"}
    ),
    ("POST", "/v1/documents/{document_id}/decision"): Rule(
        frozenset({AUDITOR, ADMIN}), body={"decision": "approve"}
    ),
    ("POST", "/v1/documents/{document_id}/appeal"): Rule(
        frozenset({CENTRE}), owned=True, body={"reason": "x"}
    ),
    ("POST", "/v1/documents/{document_id}/void"): Rule(
        frozenset({CENTRE}), owned=True, body={"reason": "x"}
    ),
    ("POST", "/v1/settlements"): Rule(frozenset({FINANCE, ADMIN}), body={"period": "2026-01"}),
    ("GET", "/v1/settlements"): Rule(EVERYONE),
    ("GET", "/v1/settlements/{order_id}"): Rule(EVERYONE, owned=True),
    ("GET", "/v1/settlements/{order_id}/statement.csv"): Rule(EVERYONE, owned=True),
    ("POST", "/v1/settlements/{order_id}/paid"): Rule(
        frozenset({FINANCE, ADMIN}), body={"reference": "R"}
    ),
    ("POST", "/v1/webhooks"): Rule(frozenset({CENTRE}), body={"url": "https://x.example/h"}),
    ("GET", "/v1/webhooks"): Rule(frozenset({CENTRE})),
    ("DELETE", "/v1/webhooks/{webhook_id}"): Rule(frozenset({CENTRE}), owned=True),
    ("GET", "/v1/webhooks/{webhook_id}/deliveries"): Rule(frozenset({CENTRE}), owned=True),
    ("POST", "/fhir/Claim/$submit"): Rule(frozenset({CENTRE}), body=FHIR_CLAIM),
    ("POST", "/fhir/Claim"): Rule(frozenset({CENTRE}), body=FHIR_CLAIM),
    ("GET", "/fhir/ClaimResponse/{claim_response_id}"): Rule(EVERYONE, owned=True),
    ("GET", "/fhir/ExplanationOfBenefit/{eob_id}"): Rule(EVERYONE, owned=True),
    ("POST", "/v1/eligibility"): Rule(
        frozenset({CENTRE}),
        body={
            "national_id": "6383233564",
            "insurance_number": "55501234",
            "service_date": "2026-11-25",
        },
    ),
    ("POST", "/fhir/CoverageEligibilityRequest/$submit"): Rule(
        frozenset({CENTRE}), body={"resourceType": "CoverageEligibilityRequest"}
    ),
    # The referral programme: the issuing centre (and a centre that used the referral);
    # staff may not read the physicians' correspondence (docs/referrals.md).
    ("POST", "/v1/referrals"): Rule(frozenset({CENTRE}), body=REFERRAL),
    ("GET", "/v1/referrals"): Rule(frozenset({CENTRE})),
    ("GET", "/v1/referrals/{code}"): Rule(frozenset({CENTRE}), owned=True),
    ("POST", "/v1/referrals/{code}/feedback"): Rule(frozenset({CENTRE}), owned=True, body=FEEDBACK),
    ("POST", "/fhir/ServiceRequest"): Rule(frozenset({CENTRE}), body=FHIR_REFERRAL),
    ("GET", "/fhir/ServiceRequest/{code}"): Rule(frozenset({CENTRE}), owned=True),
    # Requests for information: auditors ask and withdraw, the document's centre answers.
    ("POST", "/v1/documents/{document_id}/information-requests"): Rule(
        frozenset({AUDITOR, ADMIN}), body={"question": "Which ward?"}
    ),
    ("GET", "/v1/documents/{document_id}/information-requests"): Rule(EVERYONE, owned=True),
    ("POST", "/v1/documents/{document_id}/information-requests/{request_id}/withdraw"): Rule(
        frozenset({AUDITOR, ADMIN}), body={"reason": "asked twice"}
    ),
    ("POST", "/v1/documents/{document_id}/information"): Rule(
        frozenset({CENTRE}), owned=True, body={"text": "the discharge summary"}, form=True
    ),
    ("GET", "/v1/attachments/{sha256}"): Rule(EVERYONE, owned=True),
    ("GET", "/fhir/CommunicationRequest"): Rule(frozenset({CENTRE})),
    ("POST", "/fhir/Communication"): Rule(frozenset({CENTRE}), body=FHIR_COMMUNICATION),
    # The further payers: finance keeps the fund's books; staff may enrol patients.
    ("GET", "/v1/payers/programmes"): Rule(STAFF),
    ("POST", "/v1/payers/programmes"): Rule(frozenset({FINANCE, ADMIN}), body={"code": "X"}),
    ("POST", "/v1/payers/enrolments"): Rule(STAFF, body={"programme": "X"}),
    ("GET", "/v1/payers/donations"): Rule(frozenset({FINANCE, ADMIN})),
    ("POST", "/v1/payers/donations"): Rule(frozenset({FINANCE, ADMIN}), body={"donor": "X"}),
    ("GET", "/v1/payers/donations/{receipt}/report"): Rule(frozenset({FINANCE, ADMIN})),
    ("GET", "/v1/payers/insurers/{insurer}/statement"): Rule(
        frozenset({FINANCE, ADMIN}), query={"period": "2026-11"}
    ),
    ("GET", "/v1/payers/insurers/{insurer}/statement.csv"): Rule(
        frozenset({FINANCE, ADMIN}), query={"period": "2026-11"}
    ),
    ("GET", "/fhir/Claim"): Rule(
        frozenset({FINANCE, ADMIN}), query={"insurer": "ALBORZ-SUP", "period": "2026-11"}
    ),
}


def api_routes(client: TestClient) -> set[tuple[str, str]]:
    """Every operation the OpenAPI document publishes under /v1 and /fhir."""
    paths = client.get("/openapi.json").json()["paths"]
    return {
        (method.upper(), path)
        for path, operations in paths.items()
        if path.startswith(("/v1/", "/fhir/")) and path not in PUBLIC
        for method in operations
    }


def test_every_api_route_has_a_rule(client: TestClient) -> None:
    assert api_routes(client) == set(ROUTES)


def test_the_document_declares_bearer_exactly_where_a_token_is_needed(
    client: TestClient,
) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    secured = {
        (method.upper(), path)
        for path, item in paths.items()
        for method, operation in item.items()
        if operation.get("security") == [{"bearer": []}]
    }
    assert secured == set(ROUTES)


@dataclass
class World:
    tokens: dict[str, str]
    other_centre: str
    ids: dict[str, Any] = field(default_factory=dict)

    def url(self, path: str) -> str:
        return path.format(**self.ids)


@pytest.fixture
def world(client: TestClient, sessions) -> World:
    """Centre A's objects (a priced document under review, a payment order, a webhook),
    and a token of every role plus one of centre B."""
    centre, token = f.make_centre(sessions)
    _, other = f.make_centre(sessions)
    body = f.as_json(f.submission(centre.code))
    answer = client.post("/v1/submissions", content=body, headers=auth(token, JSON)).json()
    document_id = answer["documents"][0]["id"]
    batch = client.post("/v1/batches", content=body, headers=auth(token, JSON)).json()
    always = Policies(
        copay=POLICIES.copay,
        review=ReviewPolicy(0, Decimal(1), Decimal(0)),
        clock_date=POLICIES.clock_date,
    )
    price_all(sessions, [document_id], always)
    with transaction(sessions) as session:
        order = PaymentOrder(
            centre_id=centre.id, period="2026-01", documents=0, requested_amount=0,
            eligible_amount=0, deduction_amount=0, deductions_by_reason={},
            copayment_amount=0, insurer_amount=0, closed_by="test",
        )  # fmt: skip
        hook = Webhook(centre_id=centre.id, url="https://a.example/h", secret="s")
        session.add_all([order, hook])
        session.flush()
        order_id, hook_id = order.id, hook.id
        physician, patient = f"{random.randrange(10**7, 10**8)}", f.new_national_id()
        session.add(
            FamilyPhysician(medical_council_number=physician, full_name="Dr", centre_id=centre.id)
        )
        session.flush()
        session.add(
            PatientListEntry(
                national_id=patient, physician_number=physician, valid_from=date(2024, 1, 1)
            )
        )
    referral = {**REFERRAL, "physician": physician, "patient": patient}
    issued = client.post("/v1/referrals", json=referral, headers=auth(token))
    assert issued.status_code == 201, issued.text
    return World(
        tokens={
            CENTRE: token,
            AUDITOR: f.make_staff_token(sessions, Role.AUDITOR),
            FINANCE: f.make_staff_token(sessions, Role.FINANCE),
            ADMIN: f.make_staff_token(sessions, Role.ADMIN),
        },
        other_centre=other,
        ids={
            "submission_id": answer["id"],
            "batch_id": batch["id"],
            "document_id": document_id,
            "line_no": 1,
            "order_id": order_id,
            "webhook_id": hook_id,
            "claim_response_id": document_id,
            "eob_id": document_id,
            "code": issued.json()["code"],
            "request_id": "5b0e2c1e-8f4a-4d52-9a57-3c1f0f3b2a10",
            "sha256": "0" * 64,
            "receipt": "CF-2026-0000001",
            "insurer": "ALBORZ-SUP",
        },
    )


def call(client: TestClient, method: str, url: str, rule: Rule, token: str | None) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    if url.startswith("/fhir/"):
        headers["Content-Type"] = "application/fhir+json"
        headers["Accept"] = "application/fhir+json"
    if rule.body is None:
        return client.request(method, url, headers=headers, params=rule.query)
    if rule.form:
        return client.request(method, url, headers=headers, params=rule.query, data=rule.body)
    return client.request(method, url, headers=headers, params=rule.query, json=rule.body)


def test_no_token_is_401_everywhere(client: TestClient, world: World) -> None:
    got = {
        (method, path): call(client, method, world.url(path), rule, None).status_code
        for (method, path), rule in ROUTES.items()
    }
    assert {k: v for k, v in got.items() if v != 401} == {}


def test_forbidden_roles_get_403_everywhere(client: TestClient, world: World) -> None:
    wrong = {}
    for (method, path), rule in ROUTES.items():
        for role in sorted(EVERYONE - rule.roles):
            answer = call(client, method, world.url(path), rule, world.tokens[role])
            if answer.status_code != 403:
                wrong[(method, path, role)] = answer.status_code
    assert wrong == {}


def test_another_centre_gets_404_for_every_owned_object(client: TestClient, world: World) -> None:
    wrong = {}
    for (method, path), rule in ROUTES.items():
        if not (rule.owned and CENTRE in rule.roles):
            continue
        answer = call(client, method, world.url(path), rule, world.other_centre)
        if answer.status_code != 404 or world.ids["document_id"] in answer.text:
            wrong[(method, path)] = (answer.status_code, answer.text[:200])
    assert wrong == {}


def test_lists_and_counts_show_only_the_callers_centre(client: TestClient, world: World) -> None:
    other = auth(world.other_centre)
    documents = client.get("/v1/documents", headers=other).json()
    assert documents["total"] == 0
    assert documents["items"] == []
    queue = client.get("/v1/documents", params={"status": "UNDER_REVIEW"}, headers=other).json()
    assert queue["total"] == 0
    assert client.get("/v1/settlements", headers=other).json() == []
    assert client.get("/v1/webhooks", headers=other).json() == []
    mine = client.get("/v1/documents", headers=auth(world.tokens[CENTRE])).json()
    assert [item["id"] for item in mine["items"]] == [world.ids["document_id"]]
    staff = client.get(
        "/v1/documents",
        params={"national_id": mine["items"][0]["patient_national_id"]},
        headers=auth(world.tokens[AUDITOR]),
    ).json()
    assert world.ids["document_id"] in [item["id"] for item in staff["items"]]
