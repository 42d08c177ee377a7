"""GET /fhir/metadata: an R4 CapabilityStatement naming exactly what the door serves."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient
from fhir.resources.R4B.capabilitystatement import CapabilityStatement
from sqlalchemy.orm import Session, sessionmaker

from tests import factories as f

INTERACTION_PATHS = {
    "create": ("POST", "/fhir/{kind}"),
    "read": ("GET", "/fhir/{kind}/{{id}}"),
    "search-type": ("GET", "/fhir/{kind}"),
}


def test_metadata_is_a_valid_capability_statement(client: TestClient) -> None:
    answer = client.get("/fhir/metadata")  # no token: a client reads it before anything
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("application/fhir+json")
    statement = CapabilityStatement.model_validate_json(answer.content)
    assert statement.fhirVersion == "4.0.1"
    assert statement.kind == "instance"
    assert "application/fhir+xml" in statement.format
    xml = client.get("/fhir/metadata?_format=xml")
    assert xml.headers["content-type"].startswith("application/fhir+xml")
    assert b"<CapabilityStatement" in xml.content


def test_every_listed_interaction_is_a_route_of_the_door(client: TestClient) -> None:
    statement = CapabilityStatement.model_validate_json(client.get("/fhir/metadata").content)
    paths = client.app.openapi()["paths"]  # type: ignore[attr-defined]
    served = {(m.upper(), p) for p, item in paths.items() for m in item if p.startswith("/fhir/")}
    listed = set()
    (rest,) = statement.rest
    for resource in rest.resource:
        for interaction in resource.interaction or []:  # an operation-only resource has none
            method, template = INTERACTION_PATHS[interaction.code]
            listed.add((method, template.format(kind=resource.type)))
        for operation in resource.operation or []:
            listed.add(("POST", f"/fhir/{resource.type}/${operation.name}"))
    listed.add(("GET", "/fhir/metadata"))
    # The read routes name their id parameter after the resource.
    normalised = {(m, p.split("/{")[0] + "/{id}" if "/{" in p else p) for m, p in served}
    assert listed == normalised


def test_the_documented_claim_examples_are_accepted(
    client: TestClient, sessions: sessionmaker[Session]
) -> None:
    """The OpenAPI examples of $submit, JSON and XML, are Claims the door takes."""
    _, token = f.make_centre(sessions)
    operation = client.app.openapi()["paths"]["/fhir/Claim/$submit"]["post"]  # type: ignore[attr-defined]
    for media, content in operation["requestBody"]["content"].items():
        example = content["example"]
        body = json.dumps(example) if isinstance(example, dict) else example
        answer = client.post(
            "/fhir/Claim/$submit",
            content=body.encode(),
            headers={"Authorization": f"Bearer {token}", "Content-Type": media,
                     "Accept": "application/fhir+json"},
        )  # fmt: skip
        assert answer.status_code == 200, (media, answer.text)
        assert answer.json()["resourceType"] == "ClaimResponse"
