"""Attachments: told by their content, limited in size and number, stored once by SHA-256,
downloaded only as attachments, and only by the document's centre or staff."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from gateway.app import create_app
from gateway.errors import GatewayError
from gateway.information import files
from gateway.settings import Settings
from gateway.storage.models import AnswerAttachment, Attachment, AuditEntry
from tests import factories as f
from tests.information.helpers import answer, ask, jpeg, pdf, png, under_review
from tests.submissions.test_submissions import auth

HTML = b"<!doctype html><html><body><script>alert(1)</script></body></html>"


# --- the content check, without a database ----------------------------------------------


def test_the_type_is_told_by_the_bytes() -> None:
    assert files.content_type_of(pdf()) == "application/pdf"
    assert files.content_type_of(png()) == "image/png"
    assert files.content_type_of(jpeg()) == "image/jpeg"
    assert files.content_type_of(HTML) is None
    assert files.content_type_of(b"%PDF-1.4\n" + HTML) is None  # no %%EOF: not a whole PDF
    assert files.content_type_of(png()[:-12]) is None  # cut before IEND
    assert files.content_type_of(b"") is None


def test_a_safe_name_takes_the_real_type_s_extension() -> None:
    assert files.safe_name("scan.pdf", "image/png") == "scan.png"
    assert files.safe_name("../../etc/passwd", "application/pdf") == "passwd.pdf"
    assert files.safe_name('a"b\r\n;c.jpeg', "image/jpeg") == "a_b_c.jpg"
    assert files.safe_name("خلاصه ترخیص.pdf", "application/pdf") == "خلاصه ترخیص.pdf"
    assert files.safe_name("...", "image/png") == "attachment.png"


def test_check_names_each_bad_file_by_its_place() -> None:
    uploads = [files.Upload("ok.pdf", pdf()), files.Upload("x.pdf", HTML), files.Upload("e", b"")]
    with pytest.raises(GatewayError) as refused:
        files.check(uploads, max_bytes=10_000, max_count=5)
    assert refused.value.status_code == 422
    assert [(p.code, p.path) for p in refused.value.problems] == [
        ("attachment.unsupported-type", "attachments[1]"),
        ("attachment.empty", "attachments[2]"),
    ]
    with pytest.raises(GatewayError) as too_many:
        files.check([files.Upload("a.png", png())] * 3, max_bytes=10_000, max_count=2)
    assert too_many.value.problems[0].code == "attachment.too-many"


# --- over HTTP ----------------------------------------------------------------------------


@pytest.fixture
def small(settings: Settings) -> Iterator[TestClient]:
    """The API with room for two attachments of at most 2,000 bytes each."""
    limited = settings.model_copy(update={"attachment_max_bytes": 2000, "attachment_max_count": 2})
    with TestClient(create_app(limited, relay=False)) as test_client:
        yield test_client


def _stored(sessions, digest: str) -> int:
    with sessions() as session:
        return int(
            session.scalar(
                select(func.count()).select_from(Attachment).where(Attachment.sha256 == digest)
            )
            or 0
        )


def test_a_png_named_pdf_is_kept_as_a_png(client: TestClient, sessions) -> None:
    _, token, auditor, document_id = under_review(client, sessions)
    ask(client, auditor, document_id)
    image = png(11)
    answered = answer(client, token, document_id, [("report.pdf", image, "application/pdf")])
    assert answered.status_code == 201, answered.text
    (sent,) = answered.json()["answers"][0]["attachments"]
    assert (sent["filename"], sent["content_type"]) == ("report.png", "image/png")
    download = client.get(sent["url"], headers=auth(token))
    assert download.headers["content-type"] == "image/png"
    assert download.content == image


def test_html_named_pdf_is_refused_and_nothing_is_stored(client: TestClient, sessions) -> None:
    _, token, auditor, document_id = under_review(client, sessions)
    ask(client, auditor, document_id)
    good = pdf("kept only with its answer")
    refused = answer(
        client,
        token,
        document_id,
        [("summary.pdf", good, "application/pdf"), ("x.pdf", HTML, "application/pdf")],
    )
    assert refused.status_code == 422
    (problem,) = refused.json()["errors"]
    assert (problem["code"], problem["path"]) == ("attachment.unsupported-type", "attachments[1]")
    assert _stored(sessions, hashlib.sha256(good).hexdigest()) == 0
    document = client.get(f"/v1/documents/{document_id}", headers=auth(token)).json()
    assert document["status"] == "INFO_REQUESTED"  # still waiting for a good answer


def test_size_and_count_limits(small: TestClient, sessions) -> None:
    _, token, auditor, document_id = under_review(small, sessions)
    ask(small, auditor, document_id)
    big = pdf("x" * 3000)
    too_large = answer(small, token, document_id, [("big.pdf", big, "application/pdf")])
    assert too_large.status_code == 422
    assert too_large.json()["errors"][0]["code"] == "attachment.too-large"
    assert too_large.json()["errors"][0]["path"] == "attachments[0]"
    three = [(f"{n}.png", png(n), "image/png") for n in range(3)]
    too_many = answer(small, token, document_id, three)
    assert too_many.status_code == 422
    assert too_many.json()["errors"][0]["code"] == "attachment.too-many"
    huge = small.post(
        f"/v1/documents/{document_id}/information",
        data={"text": "x"},
        files=[("attachments", ("h.pdf", b"%PDF" + b"0" * 1_100_000 * 2, "application/pdf"))],
        headers=auth(token),
    )
    assert huge.status_code == 413
    assert huge.json()["errors"][0]["code"] == "body.too-large"
    wrong_type = small.post(
        f"/v1/documents/{document_id}/information", json={"text": "x"}, headers=auth(token)
    )
    assert wrong_type.status_code == 415
    no_text = small.post(
        f"/v1/documents/{document_id}/information",
        files=[("attachments", ("a.png", png(), "image/png"))],
        headers=auth(token),
    )
    assert no_text.status_code == 422
    assert no_text.json()["errors"][0]["path"] == "text"
    assert _stored(sessions, hashlib.sha256(png()).hexdigest()) == 0


def test_the_same_bytes_are_stored_once(client: TestClient, sessions) -> None:
    shared = pdf("the same summary, sent three times")
    digest = hashlib.sha256(shared).hexdigest()
    for _ in range(2):
        _, token, auditor, document_id = under_review(client, sessions)
        ask(client, auditor, document_id)
        sent = [("a.pdf", shared, "application/pdf"), ("b.pdf", shared, "application/pdf")]
        assert answer(client, token, document_id, sent).status_code == 201
    assert _stored(sessions, digest) == 1
    with sessions() as session:
        links = session.scalar(
            select(func.count())
            .select_from(AnswerAttachment)
            .where(AnswerAttachment.sha256 == digest)
        )
    assert links == 4


def test_downloads_are_attachments_for_the_centre_and_staff_only(
    client: TestClient, sessions
) -> None:
    _, token, auditor, document_id = under_review(client, sessions)
    _, stranger = f.make_centre(sessions)
    ask(client, auditor, document_id)
    data = pdf("private")
    answered = answer(client, token, document_id, [("خلاصه.pdf", data, "application/pdf")])
    url = answered.json()["answers"][0]["attachments"][0]["url"]
    own = client.get(url, headers=auth(token))
    assert own.status_code == 200
    assert own.content == data
    assert own.headers["content-type"] == "application/pdf"
    assert own.headers["x-content-type-options"] == "nosniff"
    disposition = own.headers["content-disposition"]
    assert disposition.startswith('attachment; filename="')
    assert "filename*=UTF-8''%D8%AE%D9%84%D8%A7%D8%B5%D9%87.pdf" in disposition
    assert client.get(url, headers=auth(auditor)).status_code == 200
    for other in (
        client.get(url, headers=auth(stranger)),
        client.get(f"/v1/documents/{document_id}/information-requests", headers=auth(stranger)),
        answer(client, stranger, document_id),
        client.get("/v1/attachments/" + "0" * 64, headers=auth(token)),
        client.get("/v1/attachments/not-a-digest", headers=auth(auditor)),
    ):
        assert other.status_code == 404, other.text
    assert client.get(url).status_code == 401
    with sessions() as session:
        reads = session.scalars(
            select(AuditEntry.details).where(
                AuditEntry.action == "patient.read", AuditEntry.subject_id == document_id
            )
        ).all()
    assert any(r["route"] == "GET /v1/attachments/{sha256}" for r in reads)
