"""GET /fhir/metadata: an R4 CapabilityStatement naming exactly what the door serves."""

from __future__ import annotations

from fastapi.testclient import TestClient
from fhir.resources.R4B.capabilitystatement import CapabilityStatement

INTERACTION_PATHS = {
    "create": ("POST", "/fhir/{kind}"),
    "read": ("GET", "/fhir/{kind}/{{id}}"),
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
        for interaction in resource.interaction:
            method, template = INTERACTION_PATHS[interaction.code]
            listed.add((method, template.format(kind=resource.type)))
        for operation in resource.operation or []:
            listed.add(("POST", f"/fhir/{resource.type}/${operation.name}"))
    listed.add(("GET", "/fhir/metadata"))
    # The read routes name their id parameter after the resource.
    normalised = {(m, p.split("/{")[0] + "/{id}" if "/{" in p else p) for m, p in served}
    assert listed == normalised
