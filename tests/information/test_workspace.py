"""The workspace's document page: the exchange at the top, the auditor's form to ask, the
attachments downloaded (never inline), in English and Persian."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from gateway.domain.centres import Role
from gateway.kit.db import transaction
from gateway.storage.models import InformationRequest, utcnow
from tests.information.helpers import answer, ask, pdf, under_review
from tests.submissions.test_submissions import auth
from tests.web.conftest import csrf_of
from tests.web.test_workspace import english

LoggedIn = Callable[[Role], TestClient]


def test_the_auditor_asks_and_sees_the_answer(
    web: TestClient, sessions, logged_in: LoggedIn
) -> None:
    _, token, _, document_id = under_review(web, sessions)
    client = english(logged_in(Role.AUDITOR))
    url = f"/web/documents/{document_id}"
    page = client.get(url)
    assert 'id="ask-information"' in page.text
    token_csrf = csrf_of(page)
    refused = client.post(
        f"{url}/information-requests",
        data={"question": "Why?", "lines": "1, x", "csrf_token": token_csrf},
    )
    assert refused.status_code == 422
    assert "is not a line number" in refused.text
    asked = client.post(
        f"{url}/information-requests",
        data={
            "question": "Send the <b>report</b>, please.",
            "lines": "۲",
            "kinds": ["report", "image"],
            "csrf_token": token_csrf,
        },
        follow_redirects=False,
    )
    assert asked.status_code == 303, asked.text
    page = client.get(asked.headers["location"])
    assert 'data-status="INFO_REQUESTED"' in page.text
    assert "The question was sent to the centre" in page.text
    assert "Send the &lt;b&gt;report&lt;/b&gt;, please." in page.text  # escaped
    assert 'data-status="open"' in page.text
    assert "Awaiting answer" in page.text
    assert 'id="ask-information"' not in page.text  # one question at a time
    assert 'id="decision"' not in page.text  # no decision while the centre is asked
    seen_by_centre = web.get(
        f"/v1/documents/{document_id}/information-requests", headers=auth(token)
    ).json()
    assert seen_by_centre[0]["requested_by"] == "auditor"  # a role, never the user's name
    exchange = page.text.split('id="information"')[1].split("</section>")[0]
    assert "<bdi>Auditor-" in exchange  # staff see who asked, by name

    data = pdf("the report")
    assert (
        answer(web, token, document_id, [("report.pdf", data, "application/pdf")]).status_code
        == 201
    )
    page = client.get(url)
    assert 'data-status="answered"' in page.text
    digest = hashlib.sha256(data).hexdigest()
    assert f'href="/web/attachments/{digest}"' in page.text
    assert page.text.index('id="information"') < page.text.index('id="totals"')  # at the top
    download = client.get(f"/web/attachments/{digest}")
    assert download.status_code == 200
    assert download.content == data
    assert download.headers["content-disposition"].startswith("attachment;")
    assert download.headers["x-content-type-options"] == "nosniff"
    assert client.get("/web/attachments/" + "0" * 64).status_code == 404


def test_the_exchange_in_persian(web: TestClient, sessions, logged_in: LoggedIn) -> None:
    _, _, _, document_id = under_review(web, sessions)
    client = logged_in(Role.AUDITOR)
    client.get("/web/lang/fa")
    page = client.get(f"/web/documents/{document_id}")
    assert "درخواست‌های اطلاعات تکمیلی" in page.text
    assert "خلاصه پرونده ترخیص" in page.text


@pytest.mark.own_database  # the dashboard counts every overdue request of the database
def test_the_dashboard_tells_of_overdue_requests(
    web: TestClient, sessions, logged_in: LoggedIn
) -> None:
    _, _, auditor, document_id = under_review(web, sessions)
    request_id = ask(web, auditor, document_id).json()["id"]
    client = english(logged_in(Role.AUDITOR))
    assert 'id="information-overdue"' not in client.get("/web/").text
    with transaction(sessions) as session:
        session.execute(
            update(InformationRequest)
            .where(InformationRequest.id == uuid.UUID(request_id))
            .values(due_at=utcnow() - timedelta(hours=1))
        )
    dashboard = client.get("/web/").text
    told = "<bdi>1</bdi> request(s) for information are past their deadline unanswered."
    assert told in dashboard
    assert 'href="/web/queue?status=INFO_REQUESTED"' in dashboard
    page = client.get(f"/web/documents/{document_id}").text
    assert 'data-status="overdue"' in page
    assert "Overdue" in page


def test_the_auditor_withdraws_a_question_from_the_page(
    web: TestClient, sessions, logged_in: LoggedIn
) -> None:
    _, token, auditor, document_id = under_review(web, sessions)
    request_id = ask(web, auditor, document_id).json()["id"]
    client = english(logged_in(Role.AUDITOR))
    url = f"/web/documents/{document_id}"
    page = client.get(url)
    action = f"{url}/information-requests/{request_id}/withdraw"
    assert f'action="{action}"' in page.text
    done = client.post(
        action,
        data={"reason": "asked in error", "csrf_token": csrf_of(page)},
        follow_redirects=False,
    )
    assert done.status_code == 303, done.text
    page = client.get(done.headers["location"])
    assert "The question was withdrawn" in page.text
    assert 'data-status="withdrawn"' in page.text
    assert 'data-status="UNDER_REVIEW"' in page.text
    assert f'action="{action}"' not in page.text
    again = client.post(action, data={"csrf_token": csrf_of(page)})
    assert again.status_code == 409
    assert answer(web, token, document_id).status_code == 409
