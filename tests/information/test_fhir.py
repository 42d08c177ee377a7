"""The FHIR door: a centre's open requests for information as CommunicationRequests, its
answer as a Communication with base64 attachments, checked like any answer."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import orjson
from fastapi.testclient import TestClient
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.communication import Communication

from tests.information.helpers import ask, png, under_review
from tests.submissions.test_submissions import auth

FHIR = {"Content-Type": "application/fhir+json", "Accept": "application/fhir+json"}
HTML = b"<html><script>alert(1)</script></html>"


def _communication(request_id: str, *files: tuple[str, bytes]) -> dict[str, Any]:
    payload: list[dict[str, Any]] = [{"contentString": "Here is the scan."}]
    payload += [
        {"contentAttachment": {"title": name, "data": base64.b64encode(data).decode()}}
        for name, data in files
    ]
    return {
        "resourceType": "Communication",
        "status": "completed",
        "basedOn": [{"reference": f"CommunicationRequest/{request_id}"}],
        "payload": payload,
    }


def test_requests_out_and_communications_in(client: TestClient, sessions) -> None:
    centre, token, auditor, document_id = under_review(client, sessions)
    asked = ask(client, auditor, document_id, lines=[2], attachment_kinds=["image"]).json()
    listed = client.get("/fhir/CommunicationRequest", headers={**auth(token), **FHIR})
    assert listed.status_code == 200, listed.text
    bundle = Bundle.model_validate_json(listed.content)
    assert bundle.type == "searchset"
    (entry,) = bundle.entry
    request = entry.resource.model_dump(mode="json")
    assert request["id"] == asked["id"]
    assert request["status"] == "active"
    assert request["payload"][0]["contentString"] == asked["question"]
    assert request["category"][0]["coding"][0]["code"] == "image"
    assert request["recipient"][0]["identifier"]["value"] == centre.code
    assert client.get("/fhir/CommunicationRequest", headers=auth(auditor)).status_code == 403

    refused = client.post(
        "/fhir/Communication",
        content=orjson.dumps(_communication(asked["id"], ("x.pdf", HTML))),
        headers={**auth(token), **FHIR},
    )
    assert refused.status_code == 422
    assert "attachment.unsupported-type" in refused.json()["issue"][0]["diagnostics"]

    image = png(21)
    sent = client.post(
        "/fhir/Communication",
        content=orjson.dumps(_communication(asked["id"], ("scan.png", image))),
        headers={**auth(token), **FHIR},
    )
    assert sent.status_code == 201, sent.text
    stored = Communication.model_validate_json(sent.content)
    assert stored.basedOn[0].reference == f"CommunicationRequest/{asked['id']}"
    attachment = stored.payload[1].contentAttachment
    assert attachment.url == f"/v1/attachments/{hashlib.sha256(image).hexdigest()}"
    assert attachment.contentType == "image/png"
    document = client.get(f"/v1/documents/{document_id}", headers=auth(token)).json()
    assert document["status"] == "UNDER_REVIEW"
    after = Bundle.model_validate_json(
        client.get("/fhir/CommunicationRequest", headers={**auth(token), **FHIR}).content
    )
    assert not after.entry

    again = client.post(
        "/fhir/Communication",
        content=orjson.dumps(_communication(asked["id"])),
        headers={**auth(token), **FHIR},
    )
    assert again.status_code == 409


def test_a_communication_must_name_a_request_of_the_centre(client: TestClient, sessions) -> None:
    _, token, auditor, document_id = under_review(client, sessions)
    _, stranger, _, _ = under_review(client, sessions)
    asked = ask(client, auditor, document_id).json()
    body = _communication(asked["id"])
    other = client.post(
        "/fhir/Communication", content=orjson.dumps(body), headers={**auth(stranger), **FHIR}
    )
    assert other.status_code == 404
    unnamed = {**body, "basedOn": []}
    missing = client.post(
        "/fhir/Communication", content=orjson.dumps(unnamed), headers={**auth(token), **FHIR}
    )
    assert missing.status_code == 422
    assert missing.json()["issue"][0]["expression"] == ["Communication.basedOn"]
    bad_data = _communication(asked["id"])
    bad_data["payload"].append({"contentAttachment": {"data": "***not base64***"}})
    garbled = client.post(
        "/fhir/Communication", content=orjson.dumps(bad_data), headers={**auth(token), **FHIR}
    )
    assert garbled.status_code == 422
    document = client.get(f"/v1/documents/{document_id}", headers=auth(token)).json()
    assert document["status"] == "INFO_REQUESTED"


def test_a_communication_in_xml_is_answered_in_xml(client: TestClient, sessions) -> None:
    _, token, auditor, document_id = under_review(client, sessions)
    asked = ask(client, auditor, document_id).json()
    resource = Communication.model_validate(_communication(asked["id"], ("scan.png", png(33))))
    dumped: str | bytes = resource.model_dump_xml()
    body = dumped.encode() if isinstance(dumped, str) else dumped
    sent = client.post(
        "/fhir/Communication",
        content=body,
        headers={**auth(token), "Content-Type": "application/fhir+xml"},
    )
    assert sent.status_code == 201, sent.text
    assert sent.headers["content-type"].startswith("application/fhir+xml")
    assert b"<Communication" in sent.content
    assert b"image/png" in sent.content
