"""The client package's eligibility, void, replace and request-for-information calls
against a running gateway (API and worker processes on PostgreSQL)."""

from __future__ import annotations

import struct
import zlib
from typing import Any

import httpx
import pytest
from rasa_client import Client, Conflict

from gateway.domain.centres import Role
from tests import factories as f
from tests import services
from tests.clients.conftest import LiveGateway

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("integration")]


def reviewed_visit(number: str | None = None) -> dict[str, Any]:
    """A visit asking for more than the review threshold: it waits in UNDER_REVIEW."""
    return f.outpatient_visit([f.line("970000", 1, 600_000_000)], number=number)


def under_review(client: Client, code: str, visit: dict[str, Any]) -> str:
    (document,) = client.submit(f.as_json(f.submission(code, visit))).documents
    assert document.status == "ACCEPTED", document.errors
    client.follow([document.id], until={"UNDER_REVIEW"}, timeout_s=services.WAIT_S)
    return document.id


def test_eligibility_of_a_registered_patient(gateway: LiveGateway) -> None:
    code, token = gateway.centre()
    patient = f.patient()
    with Client(gateway.url, token) as client:
        answer = client.check_eligibility(
            national_id=patient["nationalId"],
            insurance_number=patient["insuranceNumber"],
            service_date=f.TODAY,
            setting="outpatient",
            services=[("service", "970000")],
        )
        assert answer["covered"] is True
        assert answer["centre_code"] == code
        assert [s["code"] for s in answer["services"]] == ["970000"]
        unknown = client.check_eligibility(
            national_id=f.national_id(999_999),
            insurance_number="99999999",
            service_date=f.TODAY,
        )
        assert unknown["covered"] is False
        assert unknown["reasons"]


def test_void_a_document_under_review(gateway: LiveGateway) -> None:
    code, token = gateway.centre()
    with Client(gateway.url, token) as client:
        document_id = under_review(client, code, reviewed_visit())
        voided = client.void(document_id, "Sent for the wrong patient.")
        assert voided.status == "VOIDED"
        with pytest.raises(Conflict) as again:
            client.void(document_id, "Twice.")
        assert again.value.codes == ["document.already-voided"]


def test_replace_a_document_under_review(gateway: LiveGateway) -> None:
    code, token = gateway.centre()
    original = reviewed_visit()
    number = original["outpatientVisit"]["documentNumber"]
    with Client(gateway.url, token) as client:
        original_id = under_review(client, code, original)
        corrected = f.submission(code, f.outpatient_visit())
        (replacement,) = client.replace(f.as_xml(corrected), replaces=number).documents
        assert replacement.status == "ACCEPTED", replacement.errors
        followed = client.follow([original_id], until={"VOIDED"}, timeout_s=services.WAIT_S)
        assert followed[original_id].status == "VOIDED"


def _png() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data)
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixel = zlib.compress(b"\x00\x10\x20\x30")
    signature = b"\x89PNG\r\n\x1a\n"
    return signature + chunk(b"IHDR", header) + chunk(b"IDAT", pixel) + chunk(b"IEND", b"")


def test_answer_a_request_for_information(gateway: LiveGateway) -> None:
    code, token = gateway.centre()
    auditor = f.make_staff_token(gateway.sessions, Role.AUDITOR)
    with Client(gateway.url, token) as client:
        document_id = under_review(client, code, reviewed_visit())
        asked = httpx.post(
            f"{gateway.url}/v1/documents/{document_id}/information-requests",
            json={"question": "The report, please.", "lines": [1], "attachment_kinds": ["report"]},
            headers={"Authorization": f"Bearer {auditor}"},
            timeout=30,
        )
        assert asked.status_code == 201, asked.text
        (waiting,) = client.information_requests(document_id)
        assert (waiting["question"], waiting["status"]) == ("The report, please.", "open")
        answered = client.answer_information(
            document_id, "Attached.", attachments=[("report.png", _png())]
        )
        assert answered["status"] == "answered"
        (attachment,) = answered["answers"][0]["attachments"]
        assert attachment["content_type"] == "image/png"
        assert client.document(document_id).status == "UNDER_REVIEW"
        with pytest.raises(Conflict):
            client.answer_information(document_id, "Again.")
