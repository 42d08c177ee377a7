"""Batch files through the API in-process, on SQLite and on PostgreSQL: upload, gzip and
its limits, idempotency, the envelope, processing (run here in the test, as the worker
would), resume after a crash, progress, acknowledgements and who may see them."""

from __future__ import annotations

import copy
import csv
import gzip
import hashlib
import io
import math
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session, sessionmaker

from gateway.batches import repository as store
from gateway.batches.runner import process_batch
from gateway.domain import documents as dm
from gateway.domain.centres import Role
from gateway.kit.db import transaction
from gateway.settings import Settings
from gateway.storage.models import (
    Batch,
    BatchRejection,
    Centre,
    Document,
    DocumentLine,
    OutboxMessage,
)
from gateway.submissions.service import ingest
from tests import factories as f
from tests.submissions.test_submissions import JSON, XML, auth, price_all
from validators.rules.patient import national_id_is_valid
from validators.schema import Format

MEDIA = {"xml": XML, "json": JSON}


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        database_url=database_url,
        broker_url=f"sqla+sqlite:///{tmp_path / 'broker.sqlite'}",
        max_body_bytes=256 * 1024,
        clock_date=f.TODAY,
        batch_spool_dir=tmp_path / "spool",
        batch_chunk_documents=2,
        batch_pricing_documents=2,
        batch_max_wait_s=0,  # tests/batches' own backlog test sets the bound
    )


def body_of(data: dict[str, Any], fmt: str) -> bytes:
    return f.as_xml(data) if fmt == "xml" else f.as_json(data)


def upload(client: TestClient, token: str, body: bytes, fmt: str, **headers: str) -> Any:
    return client.post("/v1/batches", content=body, headers=auth(token, {**MEDIA[fmt], **headers}))


def process(sessions: sessionmaker[Session], settings: Settings, batch_id: str, **kw: Any) -> str:
    return process_batch(sessions=sessions, batch_id=uuid.UUID(batch_id), settings=settings, **kw)


def schema_invalid(document: dict[str, Any]) -> dict[str, Any]:
    (body,) = document.values()
    body["patient"]["nationalId"] = "123"
    return document


def bad_checksum(document: dict[str, Any]) -> dict[str, Any]:
    (body,) = document.values()
    code = body["patient"]["nationalId"]
    body["patient"]["nationalId"] = code[:9] + str((int(code[9]) + 1) % 10)
    return document


def other_patients(data: dict[str, Any]) -> dict[str, Any]:
    """The same documents for other insured patients (an invalid national ID stays as it
    is): a second centre billing the first one's patients would be warned of the bills
    already stored, since the possible-duplicate warning looks at every centre."""
    data = copy.deepcopy(data)
    new: dict[str, str] = {}
    for document in data["documents"]:
        (body,) = document.values()
        code = body["patient"]["nationalId"]
        if national_id_is_valid(code):
            body["patient"]["nationalId"] = new.setdefault(code, f.patient()["nationalId"])
    return data


def mixed(centre_code: str) -> dict[str, Any]:
    """Five documents: clean, rule-rejected, schema-refused, with a warning, clean stay."""
    return f.submission(
        centre_code,
        f.outpatient_visit(),
        bad_checksum(f.outpatient_visit()),
        schema_invalid(f.outpatient_visit()),
        f.outpatient_visit([f.line("999999", 1, 50_000)]),
        f.inpatient_bill([f.line("300100", 2, 5_000_000), f.line("2001007", 4, 60_000, "drug")]),
    )


def acknowledgement(client: TestClient, token: str, batch_id: str) -> list[dict[str, Any]]:
    answer = client.get(f"/v1/batches/{batch_id}/acknowledgement", headers=auth(token))
    assert answer.status_code == 200, answer.text
    documents: list[dict[str, Any]] = answer.json()["documents"]
    return documents


@pytest.mark.parametrize("fmt", ["xml", "json"])
def test_upload_answers_at_once_and_processing_stores_every_document(
    client: TestClient, sessions, settings: Settings, fmt: str
) -> None:
    centre, token = f.make_centre(sessions)
    body = body_of(mixed(centre.code), fmt)
    answer = upload(client, token, body, fmt)
    assert answer.status_code == 202, answer.text
    batch = answer.json()
    assert answer.headers["Location"] == batch["url"] == f"/v1/batches/{batch['id']}"
    assert (batch["status"], batch["documents_read"], batch["format"]) == ("received", 0, fmt)
    assert batch["acknowledgement_url"] is None
    with sessions() as session:
        message = session.scalars(
            select(OutboxMessage).where(OutboxMessage.task == "gateway.process_batch")
            .order_by(OutboxMessage.id.desc()).limit(1)
        ).one()  # fmt: skip
        assert message.payload == {"batch_id": batch["id"]}
        stored = session.get_one(Batch, uuid.UUID(batch["id"]))
        assert Path(stored.file_path).read_bytes() == body
        assert (stored.size, stored.sha256) == (len(body), hashlib.sha256(body).hexdigest())
    assert process(sessions, settings, batch["id"]) == "done"
    progress = client.get(batch["url"], headers=auth(token)).json()
    assert progress["status"] == "done"
    assert (progress["documents_read"], progress["accepted"], progress["rejected"]) == (5, 3, 2)
    assert progress["priced"] == 0
    assert progress["acknowledgement_url"] == f"{batch['url']}/acknowledgement"
    outcomes = [d["outcome"] for d in acknowledgement(client, token, batch["id"])]
    assert outcomes == ["ACCEPTED", "REJECTED", "REJECTED", "ACCEPTED_WITH_WARNINGS", "ACCEPTED"]
    with sessions() as session:
        documents = session.scalars(
            select(Document).where(Document.submission_id == uuid.UUID(batch["submission_id"]))
            .order_by(Document.ordinal)
        ).all()  # fmt: skip
        assert [d.ordinal for d in documents] == [0, 1, 3, 4]
        lines = session.scalar(
            select(func.count()).where(DocumentLine.document_id.in_([d.id for d in documents]))
        )
        assert lines == 2 + 2 + 1 + 2
        messages = session.scalars(
            select(OutboxMessage.payload).where(OutboxMessage.task == "gateway.price_documents")
        ).all()
    accepted = [str(d.id) for d in documents if d.status == "ACCEPTED"]
    sent = [i for p in messages for i in p["document_ids"] if i in accepted]
    assert sorted(sent) == sorted(accepted)  # one message per two documents (the setting)
    price_all(sessions, accepted)
    assert client.get(batch["url"], headers=auth(token)).json()["priced"] == 3


def test_progress_read_beside_an_older_batch_row_stays_within_it(
    client: TestClient, sessions, settings: Settings
) -> None:
    """A chunk may commit between the read of the batch's row and the count: the priced
    figure never exceeds the accepted one shown beside it, nor falls below zero."""
    centre, token = f.make_centre(sessions)
    batch = upload(client, token, body_of(mixed(centre.code), "xml"), "xml").json()
    with sessions() as session:
        before = session.get_one(Batch, uuid.UUID(batch["id"]))  # accepted 0: not processed
        session.expunge(before)
    assert process(sessions, settings, batch["id"]) == "done"
    with sessions() as session:
        assert store.priced_count(session, before) == 0  # 3 accepted since, none priced
        documents = session.scalars(
            select(Document.id).where(
                Document.submission_id == uuid.UUID(batch["submission_id"]),
                Document.status == "ACCEPTED",
            )
        ).all()
    price_all(sessions, [str(d) for d in documents])
    with sessions() as session:
        assert store.priced_count(session, before) == 0  # at most the accepted shown: 0
        now = session.get_one(Batch, uuid.UUID(batch["id"]))
        assert (now.accepted_count, store.priced_count(session, now)) == (3, 3)


@pytest.mark.parametrize("fmt", ["xml", "json"])
def test_each_document_gets_what_a_submission_of_its_own_gets(
    client: TestClient, sessions, settings: Settings, fmt: str
) -> None:
    """The same documents (for other patients), from two centres: as one batch, and one
    submission each."""
    batch_centre, batch_token = f.make_centre(sessions)
    single_centre, single_token = f.make_centre(sessions)
    data = mixed(batch_centre.code)
    data["documents"].append(copy.deepcopy(data["documents"][0]))  # a repeated number
    batch = upload(client, batch_token, body_of(data, fmt), fmt).json()
    process(sessions, settings, batch["id"])
    acknowledged = acknowledgement(client, batch_token, batch["id"])
    assert len(acknowledged) == len(data["documents"]) == 6
    for ordinal, document in enumerate(other_patients(data)["documents"]):
        alone = f.submission(single_centre.code, document)
        answer = client.post(
            "/v1/submissions", content=body_of(alone, fmt), headers=auth(single_token, MEDIA[fmt])
        ).json()
        if "errors" in answer and "documents" not in answer:
            expected = answer["errors"]
        else:
            (summary,) = answer["documents"]
            expected = summary["errors"] + summary["warnings"]
        got = acknowledged[ordinal]
        assert got["ordinal"] == ordinal
        assert [p["code"] for p in got["problems"]] == [p["code"] for p in expected]
        (kind,) = document
        if fmt == "xml":
            single, here = "/submission/documents/" + kind, got["path"]
            assert here.startswith(f"/submission/documents/{kind}[")
            assert all(p["line"] for p in got["problems"])
        else:
            single, here = f"/documents/0/{kind}", f"/documents/{ordinal}/{kind}"
            assert got["path"] == here
        assert [p["path"] for p in got["problems"]] == [
            p["path"].replace(single, here, 1) for p in expected
        ]
    assert acknowledged[5]["problems"][0]["code"] == "document.duplicate"


def test_acknowledgement_as_csv_says_what_the_json_says(
    client: TestClient, sessions, settings: Settings
) -> None:
    centre, token = f.make_centre(sessions)
    batch = upload(client, token, body_of(mixed(centre.code), "xml"), "xml").json()
    url = f"{batch['url']}/acknowledgement"
    assert client.get(url, headers=auth(token)).status_code == 409  # not processed yet
    process(sessions, settings, batch["id"])
    documents = acknowledgement(client, token, batch["id"])
    for address in (f"{url}?format=csv", f"{url}.csv"):
        answer = client.get(address, headers=auth(token))
        assert answer.status_code == 200
        assert answer.headers["content-type"].startswith("text/csv")
        rows = list(csv.DictReader(io.StringIO(answer.text)))
        from_json = [
            (str(d["ordinal"]), d["document_number"], d["outcome"], p.get("code", ""),
             p.get("path") or "", str(p.get("line") or ""))
            for d in documents
            for p in (d["problems"] or [{}])
        ]  # fmt: skip
        from_csv = [
            (r["ordinal"], r["document_number"], r["outcome"], r["code"], r["path"], r["line"])
            for r in rows
        ]
        assert from_csv == from_json


def test_the_same_file_again_is_the_same_batch_even_gzipped(
    client: TestClient, sessions, settings: Settings
) -> None:
    centre, token = f.make_centre(sessions)
    body = body_of(mixed(centre.code), "json")
    first = upload(client, token, body, "json")
    again = upload(client, token, body, "json")
    packed = upload(client, token, gzip.compress(body), "json", **{"Content-Encoding": "gzip"})
    sniffed = upload(client, token, gzip.compress(body), "json")  # a gzip body, undeclared
    assert first.status_code == again.status_code == packed.status_code == 202
    assert first.json()["id"] == again.json()["id"] == packed.json()["id"] == sniffed.json()["id"]
    assert "Idempotent-Replayed" not in first.headers
    assert again.headers["Idempotent-Replayed"] == "true"
    _other, other_token = f.make_centre(sessions)
    assert upload(client, other_token, body, "json").json()["id"] != first.json()["id"]
    assert len(list(settings.batch_spool_dir.iterdir())) == 2  # one file per batch, no leftovers


def test_a_gzip_body_is_inflated_and_its_limits_hold(
    client: TestClient, sessions, settings: Settings
) -> None:
    centre, token = f.make_centre(sessions)
    body = body_of(mixed(centre.code), "xml")
    answer = upload(client, token, gzip.compress(body), "xml", **{"Content-Encoding": "gzip"})
    assert answer.status_code == 202
    assert answer.json()["size"] == len(body)
    assert process(sessions, settings, answer.json()["id"]) == "done"
    bomb = gzip.compress(b"<a>" + b" " * (64 * 1024 * 1024))  # 64 MB of blanks in 64 KB
    refused = upload(client, token, bomb, "xml", **{"Content-Encoding": "gzip"})
    assert refused.status_code == 413
    assert refused.json()["errors"][0]["code"] == "body.gzip-bomb"
    broken = upload(client, token, gzip.compress(body)[:-20], "xml", **{"Content-Encoding": "gzip"})
    assert (broken.status_code, broken.json()["errors"][0]["code"]) == (400, "body.gzip-invalid")
    odd = upload(client, token, body, "xml", **{"Content-Encoding": "br"})
    assert odd.status_code == 415
    assert len(list(settings.batch_spool_dir.iterdir())) == 1  # refused bodies leave nothing


def test_the_decompressed_size_limit(client: TestClient, sessions, settings: Settings) -> None:
    centre, token = f.make_centre(sessions)
    client.app.state.gateway.settings = settings.model_copy(update={"max_batch_bytes": 1000})  # type: ignore[attr-defined]
    body = body_of(mixed(centre.code), "xml")
    for sent, headers in ((body, {}), (gzip.compress(body), {"Content-Encoding": "gzip"})):
        answer = upload(client, token, sent, "xml", **headers)
        assert answer.status_code == 413
        assert answer.json()["errors"][0]["code"] == "body.too-large"
    assert upload(client, token, b"", "xml").status_code == 400
    assert upload(client, token, body, "xml", **{"Content-Type": "text/plain"}).status_code == 415


ENVELOPES = {
    "not well-formed": (b'<submission xmlns="urn:rasa-gateway:claim:1" schemaVersion="1">\n'
                        b"<header>\n<centreCode>X", "xml", "xml.malformed", None),
    "wrong root": (b'<claims xmlns="urn:other"><a/></claims>', "xml", "schema.unknown-root",
                   "/claims"),
    "doctype": (b'<?xml version="1.0"?>\n<!DOCTYPE s [<!ENTITY e "x">]>\n<submission/>', "xml",
                "xml.doctype-forbidden", None),
    "not json": (b'{"header": ', "json", "json.malformed", None),
    "json array": (b"[1, 2]", "json", "json.type", ""),
}  # fmt: skip


@pytest.mark.parametrize("case", list(ENVELOPES))
def test_an_envelope_that_cannot_be_read_fails_the_batch_located(
    client: TestClient, sessions, settings: Settings, case: str
) -> None:
    body, fmt, code, path = ENVELOPES[case]
    _centre, token = f.make_centre(sessions)
    batch = upload(client, token, body, fmt).json()
    assert process(sessions, settings, batch["id"]) == "failed"
    failed = client.get(batch["url"], headers=auth(token)).json()
    assert failed["status"] == "failed"
    assert [e["code"] for e in failed["errors"]] == [code]
    assert failed["errors"][0]["path"] == path
    if fmt == "xml" and code != "schema.unknown-root":
        assert failed["errors"][0]["line"]
    assert acknowledgement(client, token, batch["id"]) == []


@pytest.mark.parametrize("fmt", ["xml", "json"])
def test_a_header_of_another_centre_or_invalid_fails_the_batch(
    client: TestClient, sessions, settings: Settings, fmt: str
) -> None:
    centre, token = f.make_centre(sessions)
    root = "/submission" if fmt == "xml" else ""
    wrong = mixed("OTHER-CENTRE")
    invalid = mixed(centre.code)
    invalid["header"]["createdAt"] = "yesterday"
    for data, code, path in (
        (wrong, "centre.mismatch", f"{root}/header/centreCode"),
        (invalid, "schema.invalid-value", f"{root}/header/createdAt"),
    ):
        batch = upload(client, token, body_of(data, fmt), fmt).json()
        assert process(sessions, settings, batch["id"]) == "failed"
        errors = client.get(batch["url"], headers=auth(token)).json()["errors"]
        assert [(e["code"], e["path"]) for e in errors] == [(code, path)]
        assert client.get(batch["url"], headers=auth(token)).json()["documents_read"] == 0


def test_an_unknown_element_among_documents_is_one_rejected_document(
    client: TestClient, sessions, settings: Settings
) -> None:
    centre, token = f.make_centre(sessions)
    body = body_of(f.submission(centre.code, f.outpatient_visit(), f.outpatient_visit()), "xml")
    body = body.replace(b"<documents>", b"<documents>\n    <note>hello</note>", 1)
    batch = upload(client, token, body, "xml").json()
    assert process(sessions, settings, batch["id"]) == "done"
    documents = acknowledgement(client, token, batch["id"])
    assert [d["outcome"] for d in documents] == ["REJECTED", "ACCEPTED", "ACCEPTED"]
    assert documents[0]["problems"][0]["code"] == "schema.unexpected-element"
    assert documents[0]["path"] == "/submission/documents/note[1]"


class Crash(Exception):
    pass


@pytest.mark.parametrize("fmt", ["xml", "json"])
def test_a_run_that_stops_between_chunks_resumes_to_the_same_result(
    client: TestClient, sessions, settings: Settings, fmt: str
) -> None:
    """Killed after its second chunk committed, the next run stores the rest, once."""
    whole_centre, whole_token = f.make_centre(sessions)
    split_centre, split_token = f.make_centre(sessions)
    data = mixed(whole_centre.code)
    data["documents"] += mixed(whole_centre.code)["documents"]
    data["documents"].append(copy.deepcopy(data["documents"][0]))  # a duplicate of document 0
    whole = upload(client, whole_token, body_of(data, fmt), fmt).json()
    assert process(sessions, settings, whole["id"]) == "done"
    data = other_patients(data)
    data["header"]["centreCode"] = split_centre.code
    split = upload(client, split_token, body_of(data, fmt), fmt).json()
    chunks = 0

    def crash_after_two_chunks(_: object) -> None:
        nonlocal chunks
        chunks += 1
        if chunks == 2:
            raise Crash

    with pytest.raises(Crash):
        process(sessions, settings, split["id"], publish=crash_after_two_chunks)
    halfway = client.get(split["url"], headers=auth(split_token)).json()
    assert (halfway["status"], halfway["documents_read"]) == ("processing", 4)
    assert process(sessions, settings, split["id"]) == "done"
    assert process(sessions, settings, split["id"]) == "finished"

    def summary(token: str, batch_id: str) -> list[tuple[Any, ...]]:
        return [
            (d["ordinal"], d["outcome"], [(p["code"], p["path"]) for p in d["problems"]])
            for d in acknowledgement(client, token, batch_id)
        ]

    assert summary(split_token, split["id"]) == summary(whole_token, whole["id"])
    assert len(summary(split_token, split["id"])) == 11
    with sessions() as session:
        stored = session.scalars(
            select(Document.ordinal).where(Document.centre_id == split_centre.id)
        ).all()
        refused = session.scalars(
            select(BatchRejection.ordinal).where(BatchRejection.batch_id == uuid.UUID(split["id"]))
        ).all()
    assert sorted([*stored, *refused]) == list(range(11))  # each document exactly once
    progress = client.get(split["url"], headers=auth(split_token)).json()
    assert (progress["documents_read"], progress["accepted"], progress["rejected"]) == (11, 6, 5)


def test_a_second_run_behind_the_first_stops_without_storing(
    client: TestClient, sessions, settings: Settings
) -> None:
    centre, token = f.make_centre(sessions)
    batch = upload(client, token, body_of(mixed(centre.code), "json"), "json").json()
    late: list[str] = []

    def start_a_rival(_: object) -> None:
        if not late:
            late.append(process(sessions, settings, batch["id"]))

    assert process(sessions, settings, batch["id"], publish=start_a_rival) == "superseded"
    assert late == ["done"]
    assert len(acknowledgement(client, token, batch["id"])) == 5


def test_a_centre_sees_only_its_own_batches_and_staff_see_all(
    client: TestClient, sessions, settings: Settings
) -> None:
    centre, token = f.make_centre(sessions)
    _, other = f.make_centre(sessions)
    batch = upload(client, token, body_of(mixed(centre.code), "xml"), "xml").json()
    process(sessions, settings, batch["id"])
    paths = [batch["url"], f"{batch['url']}/acknowledgement", f"{batch['url']}/acknowledgement.csv"]
    for path in paths:
        assert client.get(path, headers=auth(other)).status_code == 404
        assert client.get(path, headers=auth(token)).status_code == 200
    for role in (Role.AUDITOR, Role.FINANCE, Role.ADMIN):
        staff = f.make_staff_token(sessions, role)
        assert client.get(batch["url"], headers=auth(staff)).json()["id"] == batch["id"]
        assert (
            client.post("/v1/batches", content=b"<a/>", headers=auth(staff, XML)).status_code == 403
        )
    assert client.get(f"/v1/batches/{uuid.uuid4()}", headers=auth(token)).status_code == 404
    assert client.get("/v1/batches/not-an-id", headers=auth(token)).status_code == 404


def test_the_grown_tables_can_be_analyzed_inside_a_transaction(sessions) -> None:
    """Processing refreshes the planner's statistics between chunks (PostgreSQL only)."""
    from gateway.batches import repository as store
    from gateway.kit.db import transaction

    ran: list[str] = []
    engine = sessions.kw["bind"]
    note = lambda *args: ran.append(args[2])  # noqa: E731 - the statement's text
    event.listen(engine, "before_cursor_execute", note)
    try:
        with transaction(sessions) as session:
            store.analyze_grown(session)
    finally:
        event.remove(engine, "before_cursor_execute", note)
    analyzed = [statement for statement in ran if statement.startswith("ANALYZE")]
    postgresql = engine.dialect.name == "postgresql"
    assert analyzed == (["ANALYZE " + ", ".join(store.GROWN)] if postgresql else [])


def test_a_key_repeated_in_a_json_document_is_refused_as_alone(
    client: TestClient, sessions, settings: Settings
) -> None:
    """ijson keeps a repeated key's last value silently; the batch refuses the document with
    what a submission of its own gets (json.duplicate-key, located)."""
    centre, token = f.make_centre(sessions)
    single_centre, single_token = f.make_centre(sessions)
    clean, repeated = f.outpatient_visit(), f.outpatient_visit()
    number = repeated["outpatientVisit"]["documentNumber"]
    once = f'"insuranceNumber":"{f.INSURANCE_NUMBER}"'

    def text(centre_code: str, *documents: dict[str, Any]) -> bytes:
        body = f.as_json(f.submission(centre_code, *documents)).decode()
        return body.replace(once, f"{once},{once}", 1).encode()

    alone = client.post(
        "/v1/submissions",
        content=text(single_centre.code, repeated),
        headers=auth(single_token, JSON),
    ).json()["errors"]
    batch = upload(client, token, text(centre.code, repeated, clean), "json").json()
    assert process(sessions, settings, batch["id"]) == "done"
    first, second = acknowledgement(client, token, batch["id"])
    assert (first["document_number"], first["outcome"]) == (number, "REJECTED")
    assert (
        [(p["code"], p["path"]) for p in first["problems"]]
        == [(p["code"], p["path"]) for p in alone]
        == [("json.duplicate-key", "/documents/0/outpatientVisit/patient/insuranceNumber")]
    )
    assert second["outcome"] == "ACCEPTED"
    header = f.as_json(f.submission(centre.code)).replace(
        b'"centreCode"', b'"software": "a", "software": "b", "centreCode"', 1
    )
    failed = upload(client, token, header, "json").json()
    assert process(sessions, settings, failed["id"]) == "failed"
    errors = client.get(failed["url"], headers=auth(token)).json()["errors"]
    assert [(e["code"], e["path"]) for e in errors] == [("json.duplicate-key", "/header/software")]


def test_a_batch_is_judged_as_of_the_day_it_was_received(
    client: TestClient, sessions, settings: Settings
) -> None:
    """With the real clock, the date rules take the upload's day as today, not the day the
    batch happens to be read: received on 2026-11-05, a document of 2026-11-10 was in the
    future then, whenever it is processed."""
    centre, token = f.make_centre(sessions)
    data = f.submission(centre.code, f.outpatient_visit(service_date="2026-11-10"))
    batch = upload(client, token, body_of(data, "json"), "json").json()
    with sessions.begin() as session:
        row = session.get(Batch, uuid.UUID(batch["id"]))
        assert row is not None
        row.received_at = datetime(2026, 11, 5, 20, 30, tzinfo=UTC)
    process(sessions, settings.model_copy(update={"clock_date": None}), batch["id"])
    (got,) = acknowledgement(client, token, batch["id"])
    assert "date.in-future" in [p["code"] for p in got["problems"]]


def test_an_estimates_lines_are_no_duplicate_for_a_batch(
    client: TestClient, sessions, settings: Settings
) -> None:
    """A batch's bill is warned of a line already billed for the patient, never of one a
    preauthorization only estimated (the estimate pays nothing)."""
    centre, token = f.make_centre(sessions)
    for purpose in (dm.Purpose.PREAUTHORIZATION, dm.Purpose.CLAIM):
        earlier = f.outpatient_visit()  # a patient of its own each time
        with transaction(sessions) as session:
            stored = ingest(
                session=session,
                centre=session.get_one(Centre, centre.id),
                body=f.as_json(f.submission(centre.code, earlier)),
                fmt=Format.JSON,
                content_type="application/json",
                idempotency_key=None,
                max_documents=10,
                settings=settings,
                purposes=[purpose],
            )
            assert stored.documents[0].status == "ACCEPTED"
        later = f.outpatient_visit()  # the same lines and day, for the same patient
        later["outpatientVisit"]["patient"] = earlier["outpatientVisit"]["patient"]
        batch = upload(client, token, body_of(f.submission(centre.code, later), "json"), "json")
        process(sessions, settings, batch.json()["id"])
        (got,) = acknowledgement(client, token, batch.json()["id"])
        warned = "line.possible-duplicate" in [p["code"] for p in got["problems"]]
        assert warned == (purpose is dm.Purpose.CLAIM), got["problems"]


@pytest.mark.own_database
def test_an_upload_is_refused_at_once_when_the_batches_waiting_would_keep_it_too_long(
    client: TestClient, sessions, settings: Settings
) -> None:
    """The pace of the last stored batch (bytes per second of its run) foresees how long
    the unfinished ones keep a new upload: past the bound, 503 with Retry-After before the
    body is read, nothing recorded, counted; under it, or with no pace known, accepted."""
    centre, token = f.make_centre(sessions)
    bound = 100.0
    client.app.state.gateway.settings = settings.model_copy(update={"batch_max_wait_s": bound})  # type: ignore[attr-defined]

    def batches() -> int:
        with sessions() as session:
            return session.scalar(select(func.count()).select_from(Batch)) or 0

    first = upload(client, token, body_of(mixed(centre.code), "json"), "json")
    assert first.status_code == 202, first.text  # nothing stored yet: the pace is unknown
    done = upload(
        client, token, body_of(f.submission(centre.code, f.outpatient_visit()), "json"), "json"
    )
    assert done.status_code == 202, done.text
    assert process(sessions, settings, done.json()["id"]) == "done"
    with transaction(sessions) as session:
        stored = session.get_one(Batch, uuid.UUID(done.json()["id"]))
        pace = 10.0  # bytes per second: the run made to last size / 10 seconds
        stored.finished_at = datetime.now(UTC)
        stored.started_at = stored.finished_at - timedelta(seconds=stored.size / pace)
        waiting = session.get_one(Batch, uuid.UUID(first.json()["id"])).size
    foreseen = waiting / pace
    assert foreseen > bound  # the first batch, unfinished, waits longer than the bound
    count = batches()
    shed_before = REGISTRY.get_sample_value("gateway_batches_total", {"outcome": "shed"}) or 0.0
    third = upload(
        client, token, body_of(f.submission(centre.code, f.outpatient_visit()), "xml"), "xml"
    )
    assert third.status_code == 503, third.text
    assert third.json()["errors"][0]["code"] == "overloaded"
    assert int(third.headers["Retry-After"]) == math.ceil(foreseen - bound)
    assert batches() == count
    assert not list(settings.batch_spool_dir.glob("*.part"))  # nothing of it spooled
    assert (
        REGISTRY.get_sample_value("gateway_batches_total", {"outcome": "shed"}) == shed_before + 1
    )

    # The waiting batch stored: nothing waits, the next upload is taken.
    assert process(sessions, settings, first.json()["id"]) == "done"
    again = upload(
        client, token, body_of(f.submission(centre.code, f.outpatient_visit()), "xml"), "xml"
    )
    assert again.status_code == 202, again.text
