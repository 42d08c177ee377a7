"""Two worklists: batches with their progress (list, filters, paging, one batch with its
documents and problems) and a payment order's statement as a page (totals equal to the
order's), with its CSV for spreadsheets; who may see them and what reading them records."""

from __future__ import annotations

import csv
import io
import re
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from gateway.batches.runner import process_batch
from gateway.domain.centres import Role
from gateway.kit.db import transaction
from gateway.settings import Settings
from gateway.storage.models import Batch, Document, PaymentOrder, Submission
from tests import factories as f
from tests.audit.test_staff_reads import last_seq, reads_since
from tests.batches.test_batches import bad_checksum, schema_invalid
from tests.review.test_lifecycle_api import ALWAYS_REVIEW, submit_priced
from tests.submissions.test_submissions import JSON, auth, price_all
from tests.web.conftest import csrf_of

LoggedIn = Callable[[Role], TestClient]


def english(client: TestClient) -> TestClient:
    client.get("/web/lang/en")
    return client


def upload_batch(
    web: TestClient, sessions, settings: Settings, token: str, code: str, *documents
) -> str:
    """A batch of these documents, uploaded as the centre and read to its end (not priced)."""
    body = f.as_json(f.submission(code, *documents))
    answer = web.post("/v1/batches", content=body, headers=auth(token, JSON))
    assert answer.status_code == 202, answer.text
    batch_id = str(answer.json()["id"])
    process_batch(sessions=sessions, batch_id=uuid.UUID(batch_id), settings=settings)
    return batch_id


def stored_ids(sessions, batch_id: str) -> list[str]:
    with sessions() as session:
        batch = session.get_one(Batch, uuid.UUID(batch_id))
        query = select(Document.id, Document.status).where(
            Document.submission_id == batch.submission_id
        )
        return [str(i) for i, status in session.execute(query) if status == "ACCEPTED"]


def empty_batches(sessions, centre_id: int, count: int) -> list[str]:
    """``count`` batches of the centre received a minute apart (the last one newest), with
    no documents: enough rows to page through."""
    ids = []
    start = datetime.now(UTC) - timedelta(hours=3)
    with transaction(sessions) as session:
        for i in range(count):
            at = start + timedelta(minutes=i)
            submission = Submission(
                id=uuid.uuid4(), centre_id=centre_id, format="json", received_at=at,
                document_count=0, accepted_count=0, rejected_count=0,
            )  # fmt: skip
            session.add(submission)
            session.flush()
            batch = Batch(
                id=uuid.uuid4(), centre_id=centre_id, submission_id=submission.id,
                format="json", file_path=f"/nowhere/{i}.json", sha256=f"{i:064x}", size=10,
                status="done", documents_read=0, accepted_count=0, rejected_count=0, runs=1,
                received_at=at, finished_at=at,
            )  # fmt: skip
            session.add(batch)
            ids.append(str(batch.id))
    return ids


def listed(page: str) -> list[str]:
    return re.findall(r'<tr id="batch-([0-9a-f-]{36})"', page)


def test_batches_newest_first_paged_and_filtered(
    web: TestClient, sessions, logged_in: LoggedIn
) -> None:
    centre, _ = f.make_centre(sessions)
    ids = empty_batches(sessions, centre.id, 27)
    client = english(logged_in(Role.AUDITOR))
    first = client.get(f"/web/batches?centre={centre.code.lower()}")  # any case
    assert first.status_code == 200
    assert listed(first.text) == ids[::-1][:25]
    assert "Showing <bdi>1</bdi>–<bdi>25</bdi> of <bdi>27</bdi>" in first.text
    assert f'href="/web/batches?centre={centre.code.lower()}&amp;size=25&amp;page=2"' in first.text
    second = client.get(f"/web/batches?centre={centre.code}&page=2")
    assert listed(second.text) == ids[::-1][25:]
    past = client.get(f"/web/batches?centre={centre.code}&page=99")  # the last page
    assert listed(past.text) == ids[::-1][25:]
    assert "Page <bdi>2</bdi> of <bdi>2</bdi>" in past.text
    fifty = client.get(f"/web/batches?centre={centre.code}&size=50")
    assert listed(fifty.text) == ids[::-1]
    assert listed(client.get(f"/web/batches?centre={centre.code}&status=failed").text) == []
    assert len(listed(client.get(f"/web/batches?centre={centre.code}&status=done").text)) == 25
    wrong = client.get("/web/batches?status=lost")
    assert (wrong.status_code, "There is no such batch status." in wrong.text) == (200, True)
    assert listed(wrong.text) == []
    client.get("/web/lang/fa")
    persian = client.get(f"/web/batches?centre={centre.code}").text
    assert "<bdi>۲۷</bdi>" in persian


def test_a_batch_shows_its_progress_until_every_document_is_priced(
    web: TestClient, sessions, web_settings: Settings, logged_in: LoggedIn
) -> None:
    centre, token = f.make_centre(sessions)
    visits = [f.outpatient_visit(), bad_checksum(f.outpatient_visit()),
              schema_invalid(f.outpatient_visit()), f.outpatient_visit()]  # fmt: skip
    batch_id = upload_batch(web, sessions, web_settings, token, centre.code, *visits)
    client = english(logged_in(Role.AUDITOR))
    row = re.compile(rf'<tr id="batch-{batch_id}".*?</tr>', re.S)
    page = client.get(f"/web/batches?centre={centre.code}").text
    shown = row.search(page)
    assert shown, page
    # read 4: 2 stored and waiting for pricing, 2 rejected (one by the rules, one refused
    # by the schema); handled: the 2 rejected, so half way
    assert 'data-percent="50" data-finished="no"' in shown.group(0)
    assert '<progress max="100" value="50" aria-valuetext="2 of 4 (50%)"' in shown.group(0)
    price_all(sessions, stored_ids(sessions, batch_id), ALWAYS_REVIEW)
    shown = row.search(client.get(f"/web/batches?centre={centre.code}").text)
    assert shown
    assert 'data-percent="100" data-finished="yes"' in shown.group(0)
    assert "<bdi>4</bdi> of <bdi>4</bdi> (<bdi>100%</bdi>) · finished" in shown.group(0)
    cells = re.findall(r'<td class="num">(?:<a [^>]*>)?([\d,]+)', shown.group(0))
    assert cells[:4] == ["4", "2", "2", "2"]  # read, stored, rejected, priced


def test_one_batch_its_documents_problems_and_the_read_recorded(
    web: TestClient, sessions, web_settings: Settings, logged_in: LoggedIn
) -> None:
    centre, token = f.make_centre(sessions)
    visits = [f.outpatient_visit(), bad_checksum(f.outpatient_visit()),
              schema_invalid(f.outpatient_visit())]  # fmt: skip
    batch_id = upload_batch(web, sessions, web_settings, token, centre.code, *visits)
    stored = stored_ids(sessions, batch_id)
    with sessions() as session:
        batch = session.get_one(Batch, uuid.UUID(batch_id))
        rejected_id = session.scalars(
            select(Document.id).where(
                Document.submission_id == batch.submission_id, Document.status == "REJECTED"
            )
        ).one()
    client = english(logged_in(Role.AUDITOR))
    before = last_seq(sessions)
    page = client.get(f"/web/batches/{batch_id}")
    assert page.status_code == 200
    links = re.findall(r'href="/web/documents/([0-9a-f-]{36})" class="doc-link"', page.text)
    assert links == [*stored, str(rejected_id)]  # file order: clean, rule-rejected; refused
    assert "patient.national-id-checksum" in page.text
    assert "not stored" in page.text  # the schema-refused one has no document to open
    assert 'id="figure-read">3<' in page.text
    (entry,) = reads_since(sessions, before)
    assert (entry.action, entry.subject_type, entry.subject_id) == (
        "patient.read", "documents", "GET /web/batches/{id}",
    )  # fmt: skip
    assert set(entry.details["documents"]) == {*stored, str(rejected_id)}
    assert entry.details["query"] == f"batch={batch_id}&size=25&page=1"
    assert entry.details["total"] == 3

    only = client.get(f"/web/batches/{batch_id}?rejected=1").text
    assert re.findall(r'href="/web/documents/([0-9a-f-]{36})"', only) == [str(rejected_id)]
    assert "Showing <bdi>1</bdi>–<bdi>2</bdi> of <bdi>2</bdi>" in only
    assert client.get(f"/web/documents/{links[0]}").status_code == 200
    assert client.get(f"/web/batches/{uuid.uuid4()}").status_code == 404
    assert client.get("/web/batches/not-a-batch").status_code == 404


def test_the_worklists_are_not_for_centres_nor_strangers(
    web: TestClient, sessions, web_settings: Settings, logged_in: LoggedIn
) -> None:
    centre, token = f.make_centre(sessions)
    batch_id = upload_batch(web, sessions, web_settings, token, centre.code, f.outpatient_visit())
    for path in ("/web/batches", f"/web/batches/{batch_id}", "/web/settlements/1/statement"):
        answer = web.get(path, headers=auth(token), follow_redirects=False)  # a centre's token
        assert answer.status_code == 303, path
        assert answer.headers["location"].startswith("/web/login")
    finance = logged_in(Role.FINANCE)
    assert finance.get("/web/batches").status_code == 403
    assert finance.get(f"/web/batches/{batch_id}").status_code == 403
    assert 'id="nav-batches"' not in finance.get("/web/settlements").text
    auditor = logged_in(Role.AUDITOR)
    assert auditor.get("/web/settlements/1/statement").status_code == 403
    assert 'id="nav-batches"' in auditor.get("/web/").text


def order_of(sessions, code: str) -> PaymentOrder:
    with sessions() as session:
        return session.scalars(select(PaymentOrder).where(PaymentOrder.centre.has(code=code))).one()


FIGURES = {
    "requested": "requested_amount",
    "deducted": "deduction_amount",
    "eligible": "eligible_amount",
    "copayment": "copayment_amount",
    "insurer": "insurer_amount",
    "fund": "fund_amount",
}


@pytest.mark.own_database  # closing a period settles every centre's documents of the month
def test_the_statement_page_adds_up_to_its_order(
    web: TestClient, sessions, logged_in: LoggedIn
) -> None:
    centre, token = f.make_centre(sessions)
    ids = [
        submit_priced(web, sessions, token, centre.code, ALWAYS_REVIEW,
                      service_date=f"2026-10-{day:02d}")
        for day in (5, 20)
    ]  # fmt: skip
    auditor = english(logged_in(Role.AUDITOR))
    csrf = csrf_of(auditor.get(f"/web/documents/{ids[0]}"))
    reduce = {"action": "reduce", "quantity": "1", "reason": "review-quantity-not-justified",
              "note": "one is enough", "csrf_token": csrf}  # fmt: skip
    assert auditor.post(f"/web/documents/{ids[0]}/lines/2/review", data=reduce).status_code < 400
    for document_id in ids:
        decided = {"decision": "approve", "csrf_token": csrf}
        assert (
            auditor.post(f"/web/documents/{document_id}/decision", data=decided).status_code == 200
        )
    finance = english(logged_in(Role.FINANCE))
    csrf = csrf_of(finance.get("/web/settlements"))
    close = {"period": "2026-10", "csrf_token": csrf, "confirmed": "yes"}
    assert finance.post("/web/settlements/close", data=close).status_code == 200
    order = order_of(sessions, centre.code)
    listing = finance.get(f"/web/settlements?period=2026-10&centre={centre.code}").text
    assert f'href="/web/settlements/{order.id}/statement"' in listing

    before = last_seq(sessions)
    page = finance.get(f"/web/settlements/{order.id}/statement")
    assert page.status_code == 200
    totals = dict(re.findall(r'data-figure="(\w+)" data-value="(\d+)"', page.text))
    assert {k: int(v) for k, v in totals.items()} == {
        name: getattr(order, column) for name, column in FIGURES.items()
    }
    assert order.deduction_amount == 300_000  # the reduced line's deduction is in it
    assert 'id="statement-mismatch"' not in page.text
    # Finance may not open documents: their numbers are shown, not links to a 403.
    assert 'href="/web/documents/' not in page.text
    assert page.text.count('class="doc-number"') == len(ids)
    assert page.text.count('<tr class="line-row">') == 4
    assert (
        'Quantity not justified (<bdi dir="ltr">review-quantity-not-justified</bdi>)' in page.text
    )
    assert 'data-print id="print"' in page.text
    (entry,) = reads_since(sessions, before)
    assert (entry.subject_type, entry.subject_id) == ("payment_order", str(order.id))
    admin_page = logged_in(Role.ADMIN).get(f"/web/settlements/{order.id}/statement").text
    assert re.findall(r'href="/web/documents/([0-9a-f-]{36})" class="doc-link"', admin_page) == ids

    finance.get("/web/lang/fa")
    persian = finance.get(f"/web/settlements/{order.id}/statement").text
    assert "صورت‌حساب پرداخت" in persian
    assert (
        f"{order.insurer_amount:,}".translate(str.maketrans("0123456789,", "۰۱۲۳۴۵۶۷۸۹٬"))
        in persian
    )
    assert '<span class="solar" dir="ltr">۱۴۰۵/۰۷/۱۳</span>' in persian  # 2026-10-05, Jalali first


@pytest.mark.own_database
def test_the_statement_csv_is_for_spreadsheets(
    web: TestClient, sessions, logged_in: LoggedIn
) -> None:
    centre, token = f.make_centre(sessions)
    document_id = submit_priced(
        web, sessions, token, centre.code, ALWAYS_REVIEW, service_date="2026-10-07"
    )
    auditor = logged_in(Role.AUDITOR)
    csrf = csrf_of(auditor.get(f"/web/documents/{document_id}"))
    auditor.post(f"/web/documents/{document_id}/decision",
                 data={"decision": "approve", "csrf_token": csrf})  # fmt: skip
    finance = english(logged_in(Role.FINANCE))
    csrf = csrf_of(finance.get("/web/settlements"))
    finance.post("/web/settlements/close",
                 data={"period": "2026-10", "csrf_token": csrf, "confirmed": "yes"})  # fmt: skip
    order = order_of(sessions, centre.code)
    answer = finance.get(f"/web/settlements/{order.id}/statement.csv")
    assert answer.status_code == 200
    assert answer.content.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(answer.content.decode("utf-8-sig"))))
    assert rows[0][:5] == ["Document id", "Document number", "Type", "Service date",
                           "Patient national ID"]  # fmt: skip
    with sessions() as session:
        document = session.get_one(Document, uuid.UUID(document_id))
    assert rows[1][0] == f'="{document_id}"'
    assert rows[1][4] == f'="{document.patient_national_id}"'  # leading zeros stay
    assert rows[1][7] == '="970000"'
    assert sum(int(r[8]) for r in rows[1:]) == order.requested_amount
