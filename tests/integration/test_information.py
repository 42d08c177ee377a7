"""A request for information end to end: a real server and worker on each database and
broker; the centre's webhook receiver hears of the question, of the deadline passing (the
API's sweeper) and of the answer, each event signed and delivered by the worker."""

from __future__ import annotations

import uuid
from datetime import timedelta

import httpx
import orjson
import pytest
from sqlalchemy import update

from gateway.kit.db import transaction
from gateway.storage.models import InformationRequest, utcnow
from gateway.webhooks.signing import verify_signature
from tests import factories as f
from tests.information.helpers import png
from tests.integration.conftest import Stack
from tests.integration.test_end_to_end import add_centre, wait_for
from tests.receiver import Received, running_receiver

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("integration")]
STACK_ENV = {
    "GATEWAY_REVIEW_AMOUNT_THRESHOLD": "0",  # every priced document goes to review
    "GATEWAY_SWEEP_INTERVAL_S": "1",
    "GATEWAY_WEBHOOK_ALLOW_HTTP": "true",
    "GATEWAY_WEBHOOK_ALLOWED_PRIVATE_HOSTS": '["127.0.0.1"]',
}
ASKED, OVERDUE, ANSWERED = (
    "document.information_requested",
    "document.information_overdue",
    "document.information_received",
)


def types_of(seen: list[Received]) -> set[str]:
    return {orjson.loads(r.body)["type"] for r in seen}


def test_ask_overdue_and_answer_over_http_with_a_real_worker(stack: Stack) -> None:
    code, token = add_centre(stack)
    auditor = f.make_staff_token(stack.sessions())
    with (
        running_receiver() as receiver,
        httpx.Client(base_url=stack.url, headers={"Authorization": f"Bearer {token}"}) as centre,
        httpx.Client(base_url=stack.url, headers={"Authorization": f"Bearer {auditor}"}) as staff,
    ):
        hook = centre.post("/v1/webhooks", json={"url": receiver.url})
        assert hook.status_code == 201, hook.text
        secret = hook.json()["secret"]
        submitted = centre.post(
            "/v1/submissions",
            content=f.as_json(f.submission(code)),
            headers={"Content-Type": "application/json"},
        )
        (document,) = submitted.json()["documents"]
        assert wait_for(centre, document["url"], frozenset({"UNDER_REVIEW"}))["status"] == (
            "UNDER_REVIEW"
        ), stack.logs()
        asked = staff.post(
            f"/v1/documents/{document['id']}/information-requests",
            json={"question": "Send the visit's report.", "attachment_kinds": ["report"]},
        )
        assert asked.status_code == 201, asked.text
        with transaction(stack.sessions()) as session:  # the deadline passes
            session.execute(
                update(InformationRequest)
                .where(InformationRequest.id == uuid.UUID(asked.json()["id"]))
                .values(due_at=utcnow() - timedelta(minutes=1))
            )
        seen = receiver.wait_for(lambda got: {ASKED, OVERDUE} <= types_of(got))
        assert {ASKED, OVERDUE} <= types_of(seen), stack.logs()

        image = png(77)
        answered = centre.post(
            f"/v1/documents/{document['id']}/information",
            data={"text": "The report, scanned."},
            files=[("attachments", ("report.pdf", image, "application/pdf"))],
        )
        assert answered.status_code == 201, answered.text
        (sent,) = answered.json()["answers"][0]["attachments"]
        assert sent["content_type"] == "image/png"
        seen = receiver.wait_for(lambda got: ANSWERED in types_of(got))
        assert ANSWERED in types_of(seen), stack.logs()
        download = staff.get(sent["url"])
        assert download.content == image
        assert download.headers["content-disposition"].startswith("attachment;")
        assert centre.get(document["url"]).json()["status"] == "UNDER_REVIEW"
    for request in seen:
        event = orjson.loads(request.body)
        assert request.headers["x-gateway-event"] == event["type"]
        assert verify_signature(secret, request.headers["x-gateway-signature"], request.body, 120)
    by_type = {orjson.loads(r.body)["type"]: orjson.loads(r.body)["data"] for r in seen}
    assert by_type[ASKED]["attachment_kinds"] == ["report"]
    assert by_type[OVERDUE]["information_request_id"] == asked.json()["id"]
    assert by_type[ANSWERED]["attachments"] == 1
