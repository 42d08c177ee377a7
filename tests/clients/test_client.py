"""The client package (clients/python, ``rasa_client``) against a running gateway: the API
and a worker as processes, on PostgreSQL."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import httpx
import pytest
from rasa_client import (
    DECIDED,
    Client,
    GatewayUnreachable,
    NotFound,
    PayloadTooLarge,
    Unauthorized,
    UnknownContent,
    ValidationFailed,
    WebhookVerificationError,
    verify_webhook,
)

from tests import factories as f
from tests import services
from tests.clients.conftest import LiveGateway
from tests.receiver import running_receiver

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("integration")]


def test_submit_a_file_told_by_content_and_follow_it_to_a_decision(
    gateway: LiveGateway, tmp_path: Path
) -> None:
    code, token = gateway.centre()
    data = f.submission(code, f.outpatient_visit(), f.outpatient_visit())
    path = tmp_path / "claims.txt"  # the name says nothing; the content is XML
    path.write_bytes(f.as_xml(data))
    with Client(gateway.url, token) as client:
        submission = client.submit(path)
        assert submission.status == "ACCEPTED"
        assert submission.location is not None
        assert [d.external_id for d in submission.documents] == [
            entry["outpatientVisit"]["documentNumber"] for entry in data["documents"]
        ]
        ids = [d.id for d in submission.documents]
        followed = client.follow(ids, timeout_s=services.WAIT_S)
    assert set(followed) == set(ids)
    assert all(document.status in DECIDED for document in followed.values())
    assert {document.status for document in followed.values()} == {"APPROVED"}
    assert all(document.totals["requested"] == 950_000 for document in followed.values())


def test_submit_a_folder_of_xml_and_json_files(gateway: LiveGateway, tmp_path: Path) -> None:
    code, token = gateway.centre()
    (tmp_path / "a.xml").write_bytes(f.as_xml(f.submission(code)))
    (tmp_path / "b.json").write_bytes(f.as_json(f.submission(code)))
    (tmp_path / "c.dat").write_bytes(b"  \n" + f.as_json(f.submission(code)))
    broken = f.submission(code)
    broken["documents"][0]["outpatientVisit"]["lines"][0]["quantity"] = "x"
    (tmp_path / "d.json").write_bytes(f.as_json(broken))
    (tmp_path / "notes.md").write_text("# not a submission")
    with Client(gateway.url, token) as client:
        items = client.submit_folder(tmp_path)
    assert [item.path.name for item in items] == ["a.xml", "b.json", "c.dat", "d.json", "notes.md"]
    sent = [item.submission for item in items[:3]]
    assert all(s is not None and s.status == "ACCEPTED" for s in sent)
    refused = items[3].error
    assert isinstance(refused, ValidationFailed)
    assert refused.status_code == 422
    assert refused.codes == ["json.type"]
    assert refused.problems[0].path == "/documents/0/outpatientVisit/lines/0/quantity"
    assert isinstance(items[4].error, UnknownContent)


def test_a_document_the_rules_refuse_comes_back_rejected_with_its_errors(
    gateway: LiveGateway,
) -> None:
    code, token = gateway.centre()
    bad = f.outpatient_visit()
    bad["outpatientVisit"]["totalAmount"] = 99
    with Client(gateway.url, token) as client:
        submission = client.submit(f.as_json(f.submission(code, bad)))
        (document,) = submission.documents
        assert document.status == "REJECTED"
        assert [p.code for p in document.errors] == ["document.total-mismatch"]
        assert client.follow([document.id], timeout_s=services.WAIT_S)[document.id].status == (
            "REJECTED"
        )


def test_refusals_raise_typed_errors_with_the_api_problems(gateway: LiveGateway) -> None:
    code, token = gateway.centre()
    with Client(gateway.url, "not-a-token") as client, pytest.raises(Unauthorized) as unknown:
        client.submit(f.as_json(f.submission(code)))
    assert unknown.value.status_code == 401
    with Client(gateway.url, token) as client:
        with pytest.raises(NotFound) as missing:
            client.document("0b7e5c1e-8f4a-4d52-9a57-3c1f0f3b2a10")
        assert missing.value.codes == ["not-found"]
        many = f.as_xml(
            f.submission(code, *[_fixed_visit(n, f.national_id(n)) for n in range(300)])
        )
        assert len(many) > 64 * 1024
        with pytest.raises(PayloadTooLarge) as large:
            client.submit(many)
        assert large.value.codes == ["body.too-large"]
        with pytest.raises(ValidationFailed) as schema:
            client.submit(b'{"schemaVersion": "1"}')
        assert schema.value.codes == ["schema.missing-element"]
    down = Client(f"http://127.0.0.1:{_closed_port()}", token)
    with down, pytest.raises(GatewayUnreachable, match="connection refused"):
        down.document("x")


def _fixed_visit(n: int, national_id: str | None = None) -> dict[str, Any]:
    """A visit numbered ``n``, of a registered patient of its own unless ``national_id``
    names one (for bodies refused before any patient is looked at)."""
    lines = [f.line("970000", 1, 650_000)]
    patient = {
        "nationalId": national_id or f.new_national_id(),
        "insuranceNumber": f.INSURANCE_NUMBER,
    }
    return {
        "outpatientVisit": {
            "documentNumber": f"BATCH-{n:05d}",
            "patient": patient,
            "physician": {"medicalCouncilNumber": "123456"},
            "serviceDate": "2026-11-10",
            "lines": lines,
            "totalAmount": 650_000,
        }
    }


def _closed_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_upload_a_batch_with_progress_then_resume_without_uploading(
    gateway: LiveGateway, tmp_path: Path
) -> None:
    code, token = gateway.centre()
    data = f.submission(code, *[_fixed_visit(n) for n in range(120)])
    path = tmp_path / "november.xml"
    path.write_bytes(f.as_xml(data))
    progress: list[tuple[int, int]] = []
    with Client(gateway.url, token) as client:
        batch = client.upload_batch(
            path, on_progress=lambda done, total: progress.append((done, total))
        )
        assert not batch.replayed
        assert progress[-1] == (path.stat().st_size, path.stat().st_size)
        done = client.follow_batch(batch.id, timeout_s=services.WAIT_S)
        assert (done.status, done.documents_read, done.accepted, done.rejected) == (
            "done", 120, 120, 0,
        )  # fmt: skip
        assert done.priced == 120
        # Again: the journal beside the file names the batch; nothing is uploaded.
        progress.clear()
        again = client.upload_batch(path, on_progress=lambda d, t: progress.append((d, t)))
        assert (again.id, again.replayed, progress) == (batch.id, True, [])
        # Without the journal the file goes up again, and the gateway answers with the
        # batch it made from the same bytes: never a second batch.
        (tmp_path / "november.xml.batch.json").unlink()
        resent = client.upload_batch(path)
        assert (resent.id, resent.replayed) == (batch.id, True)


def test_a_webhook_delivery_verifies_with_the_client(gateway: LiveGateway) -> None:
    code, token = gateway.centre()
    with running_receiver() as receiver:
        registered = httpx.post(
            f"{gateway.url}/v1/webhooks",
            json={"url": receiver.url},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert registered.status_code == 201, registered.text
        secret = registered.json()["secret"]
        with Client(gateway.url, token) as client:
            submission = client.submit(f.as_json(f.submission(code)))
        received = receiver.wait_for(lambda seen: len(seen) >= 1)
    assert received, gateway.logs()
    delivery = received[0]
    event = verify_webhook(secret, delivery.headers, delivery.body)
    assert event["data"]["document_id"] == submission.documents[0].id
    with pytest.raises(WebhookVerificationError):
        verify_webhook(secret, delivery.headers, delivery.body + b" ")
    other = copy.deepcopy(delivery.headers)
    other["webhook-id"] = "another"
    with pytest.raises(WebhookVerificationError):
        verify_webhook(secret, other, delivery.body)
