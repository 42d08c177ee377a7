"""The OpenAPI document is the contract: valid for an independent validator, secured,
typed, and listing the codes each operation answers (docs/api.md, The contract)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate
from sqlalchemy.orm import Session, sessionmaker

from gateway import metrics
from gateway.app import create_app
from gateway.eligibility.schemas import EligibilityIn, EligibilityOut
from gateway.settings import Settings
from tests import factories as f
from validators.schema import SCHEMA_DIR

MONEY = {
    "amount", "requested", "eligible", "deductions", "copayment", "insurer_share",
    "tariff_unit_price", "unit_price", "paid", "k",
}  # fmt: skip
EXAMPLES = SCHEMA_DIR / "examples"


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    app = create_app(Settings(database_url="sqlite://"), relay=False)
    return app.openapi()


def operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in document["paths"].items():
        for method, operation in item.items():
            yield method.upper(), path, operation


def test_the_document_passes_an_independent_validator(document: dict[str, Any]) -> None:
    validate(document)


def test_authenticated_operations_declare_bearer_and_429(document: dict[str, Any]) -> None:
    assert document["components"]["securitySchemes"]["bearer"] == {
        "type": "http",
        "scheme": "bearer",
        "description": document["components"]["securitySchemes"]["bearer"]["description"],
    }
    secured = 0
    for method, path, operation in operations(document):
        answers = operation["responses"]
        if "401" not in answers:
            assert "security" not in operation, (method, path)
            continue
        secured += 1
        assert operation["security"] == [{"bearer": []}], (method, path)
        assert "Retry-After" in answers["429"]["headers"], (method, path)
    assert secured >= 20


def test_every_refusal_has_the_error_shape_and_an_example(document: dict[str, Any]) -> None:
    text = json.dumps(document)
    assert "HTTPValidationError" not in text  # FastAPI's own 422 shape is never answered
    for method, path, operation in operations(document):
        for code, answer in operation["responses"].items():
            if not code.startswith("4"):
                continue
            if path.startswith("/fhir/"):
                fhir_json = answer["content"]["application/fhir+json"]
                assert fhir_json["schema"] == {"$ref": "#/components/schemas/FhirOperationOutcome"}
                assert fhir_json["example"]["resourceType"] == "OperationOutcome"
                continue
            ((media, content),) = answer["content"].items()
            assert media == "application/json", (method, path, code)
            assert content["schema"] == {"$ref": "#/components/schemas/ErrorResponse"}
            assert content["example"]["errors"][0]["code"], (method, path, code)


def test_gets_list_no_body_refusals(document: dict[str, Any]) -> None:
    for method, path, operation in operations(document):
        if method == "GET":
            assert not {"413", "415"} & set(operation["responses"]), path


def test_money_is_integer_rials_everywhere(document: dict[str, Any]) -> None:
    def walk(schema: Any, where: str) -> Iterator[tuple[str, Any]]:
        if isinstance(schema, dict):
            for name, value in schema.get("properties", {}).items():
                yield f"{where}.{name}", value
            for key, value in schema.items():
                yield from walk(value, f"{where}/{key}")
        elif isinstance(schema, list):
            for item in schema:
                yield from walk(item, where)

    found = 0
    for where, schema in walk(document["components"]["schemas"], ""):
        if where.rsplit(".", 1)[-1] in MONEY and "$ref" not in schema:
            types = {schema.get("type")} | {s.get("type") for s in schema.get("anyOf", [])}
            if "array" in types:  # "deductions" is also a list of them
                continue
            found += 1
            assert types - {None, "null"} == {"integer"}, (where, schema)
    assert found > 20


def test_enumerations_are_enums(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    assert "UNDER_REVIEW" in schemas["DocumentStatus"]["enum"]
    parameters = {p["name"]: p for p in document["paths"]["/v1/documents"]["get"]["parameters"]}
    assert "above-tariff" in parameters["reason"]["schema"]["enum"]
    assert "review-upcoded" in parameters["reason"]["schema"]["enum"]
    assert schemas["LineReviewIn"]["properties"]["action"] == {
        "$ref": "#/components/schemas/ReviewAction"
    }
    assert schemas["PaymentOrderOut"]["properties"]["status"]["enum"] == ["ordered", "paid"]


def test_the_submission_json_schema_is_the_xsd_s(document: dict[str, Any]) -> None:
    """Derived from the XSD: the valid examples pass, schema faults fail, XML names the XSD."""
    body = document["components"]["requestBodies"]["Submission"]["content"]
    schema = {**document["components"]["schemas"]["SubmissionJson"]}
    validator = Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
    for example in sorted((EXAMPLES / "valid").glob("*.json")):
        assert not list(validator.iter_errors(json.loads(example.read_text()))), example.name
    for name in ("missing-header", "quantity-zero", "bad-pattern-centre-code", "empty-lines"):
        refused = json.loads((EXAMPLES / "invalid" / f"{name}.json").read_text())
        assert list(validator.iter_errors(refused)), name
    assert not list(validator.iter_errors(body["application/json"]["example"]))
    assert "rasa-claim-1.xsd" in body["application/xml"]["schema"]["description"]
    assert document["paths"]["/v1/submissions"]["post"]["requestBody"] == {
        "$ref": "#/components/requestBodies/Submission"
    }


def test_fhir_operations_name_their_resources(document: dict[str, Any]) -> None:
    submit = document["paths"]["/fhir/Claim/$submit"]["post"]
    body = submit["requestBody"]["content"]["application/fhir+json"]["schema"]
    assert body == {
        "oneOf": [
            {"$ref": "#/components/schemas/FhirClaim"},
            {"$ref": "#/components/schemas/FhirBundle"},
        ]
    }
    answer = submit["responses"]["200"]["content"]["application/fhir+json"]["schema"]
    assert {"$ref": "#/components/schemas/FhirClaimResponse"} in answer["oneOf"]
    claim = document["components"]["schemas"]["FhirClaim"]
    assert claim["externalDocs"]["url"] == "https://hl7.org/fhir/R4/claim.html"


def test_eligibility_is_typed_and_lists_exactly_its_codes(document: dict[str, Any]) -> None:
    operation = document["paths"]["/v1/eligibility"]["post"]
    assert set(operation["responses"]) == {"200", "400", "401", "403", "422", "429"}
    assert operation["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/EligibilityIn"
    }
    schemas = document["components"]["schemas"]
    assert "surgery_package" in schemas["VisitSetting"]["enum"]
    assert schemas["ServiceIn"]["properties"]["code_type"] == {
        "$ref": "#/components/schemas/CodeType"
    }
    assert schemas["EligibilityIn"]["additionalProperties"] is False  # no centre in the body
    EligibilityIn.model_validate(schemas["EligibilityIn"]["examples"][0])
    EligibilityOut.model_validate(schemas["EligibilityOut"]["examples"][0])
    fhir = document["paths"]["/fhir/CoverageEligibilityRequest/$submit"]["post"]
    assert set(fhir["responses"]) == {"200", "400", "401", "403", "413", "415", "422", "429"}
    body = fhir["requestBody"]["content"]["application/fhir+json"]["schema"]
    assert body == {"$ref": "#/components/schemas/FhirCoverageEligibilityRequest"}
    answer = fhir["responses"]["200"]["content"]["application/fhir+json"]["schema"]
    assert answer == {"$ref": "#/components/schemas/FhirCoverageEligibilityResponse"}


# --- behaviour the document promises -------------------------------------------------------


def test_an_unknown_enum_value_in_a_query_is_422(
    client: TestClient, sessions: sessionmaker[Session]
) -> None:
    _, token = f.make_centre(sessions)
    headers = {"Authorization": f"Bearer {token}"}
    for query in ("status=BOGUS", "reason=bogus"):
        answer = client.get(f"/v1/documents?{query}", headers=headers)
        assert answer.status_code == 422, (query, answer.text)
        assert answer.json()["errors"][0]["code"] == "request.invalid"
    assert client.get("/v1/documents?status=PAID", headers=headers).status_code == 200


def test_a_route_without_that_method_is_405_method_not_allowed(client: TestClient) -> None:
    answer = client.get("/v1/batches")
    assert answer.status_code == 405
    assert answer.json()["errors"][0]["code"] == "method.not-allowed"


def test_docs_pages_use_packaged_assets(client: TestClient) -> None:
    for page, asset in (("/docs", "swagger-ui-bundle.js"), ("/redoc", "redoc.standalone.js")):
        html = client.get(page).text
        assert f"/docs-assets/{asset}" in html
        assert "cdn" not in html.lower()
        assert "fonts.googleapis" not in html
        assert client.get(f"/docs-assets/{asset}").status_code == 200
    xsd = client.get("/schemas/rasa-claim-1.xsd")
    assert xsd.status_code == 200
    assert b"xs:schema" in xsd.content


# --- documented codes against observed ones -------------------------------------------------


def observed() -> set[tuple[str, str, str]]:
    """(method, route template, status) of every answer this test process gave."""
    return {
        (s.labels["method"], s.labels["route"], s.labels["status"])
        for family in metrics.HTTP_REQUESTS.collect()
        for s in family.samples
        if s.name.endswith("_total") and s.value > 0
    }


@pytest.mark.contract_last
def test_every_observed_answer_is_documented(
    client: TestClient, sessions: sessionmaker[Session]
) -> None:
    """Every (route, status) the API gave in this test run is in the document; it runs
    after the other tests of the run (tests/conftest.py), so in a whole run it checks
    what every API test saw; alone, it drives the common refusals itself."""
    _, token = f.make_centre(sessions)
    staff = f.make_staff_token(sessions)
    centre = {"Authorization": f"Bearer {token}"}
    client.get("/v1/documents")  # 401
    client.get("/v1/documents/not-an-id", headers=centre)  # 404
    client.get("/v1/documents?limit=0", headers=centre)  # 422
    client.post("/v1/submissions", content=b"x", headers={**centre, "Content-Type": "text/plain"})
    client.post("/v1/submissions", headers={"Authorization": f"Bearer {staff}"})  # 403
    client.get("/fhir/metadata")
    client.get("/fhir/ClaimResponse/nope", headers=centre)  # 404
    client.get("/v1/settlements/abc", headers=centre)  # 422
    client.post("/v1/eligibility", json={}, headers=centre)  # 422
    client.post("/v1/eligibility", json={}, headers={"Authorization": f"Bearer {staff}"})  # 403
    client.post("/fhir/CoverageEligibilityRequest/$submit", content=b"{}", headers=centre)  # 415
    document = client.app.openapi()  # type: ignore[attr-defined]
    documented = {
        (method, path, code)
        for method, path, operation in operations(document)
        for code in operation["responses"]
    }
    routes = {(method, path) for method, path, _ in documented}
    # 405 (a method the route lacks) is no operation's; 500 is a bug, never a contract.
    undocumented = sorted(
        seen
        for seen in observed()
        if seen[:2] in routes and seen not in documented and seen[2] != "500"
    )
    assert not undocumented


def test_every_request_body_has_an_example(document: dict[str, Any]) -> None:
    components = document["components"]
    for method, path, operation in operations(document):
        body = operation.get("requestBody")
        if body is None:
            continue
        if "$ref" in body:
            body = components["requestBodies"][body["$ref"].rsplit("/", 1)[-1]]
        for media, content in body["content"].items():
            schema = content.get("schema", {})
            if "$ref" in schema:
                schema = components["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
            binary = schema.get("format") == "binary"  # a batch file: described, not shown
            has = "example" in content or "examples" in schema or binary
            has = has or any("examples" in p for p in schema.get("properties", {}).values())
            assert has, (method, path, media)
