"""Over real HTTP, to a real worker process, on each database and broker."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy import func, select, update

from gateway.documents import repository as documents
from gateway.kit.db import transaction
from gateway.settings import Settings
from gateway.storage import repository
from gateway.storage.models import LineDeduction, LinePricing, OutboxMessage, StatusEvent
from gateway.webhooks.signing import verify_signature
from tests import factories as f
from tests import services
from tests.factories import PRICED_STATES, TODAY
from tests.integration.conftest import Stack
from tests.receiver import Received, running_receiver

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("integration")]
# The webhook receiver listens on this host: opt in as such a deployment would.
STACK_ENV = {
    "GATEWAY_WEBHOOK_ALLOW_HTTP": "true",
    "GATEWAY_WEBHOOK_ALLOWED_PRIVATE_HOSTS": '["127.0.0.1"]',
}


def add_centre(stack: Stack) -> tuple[str, str]:
    """Through the CLI, as an operator would; the token is alone on the last line."""
    code = f"I{uuid.uuid4().hex[:8].upper()}"
    done = subprocess.run(
        [sys.executable, "-m", "gateway", "centre", "add", code, "--name", "Integration"],
        env=stack.env,
        capture_output=True,
        text=True,
        check=True,
        timeout=services.WAIT_S,
    )
    return code, done.stdout.strip().splitlines()[-1]


def wait_for(client: httpx.Client, url: str, statuses: frozenset[str]) -> dict[str, Any]:
    deadline = time.monotonic() + services.WAIT_S
    while True:
        body: dict[str, Any] = client.get(url).json()
        if body["status"] in statuses or time.monotonic() > deadline:
            return body
        time.sleep(0.2)


def test_xml_and_json_are_priced_by_the_worker(stack: Stack) -> None:
    code, token = add_centre(stack)
    data = f.submission(
        code,
        f.outpatient_visit([f.line("970000", 1, 800_000), f.line("800010", 2, 300_000)]),
        f.inpatient_bill([f.line("300100", 2, 5_000_000), f.line("999999", 1, 10_000)]),
    )
    headers = {"Authorization": f"Bearer {token}"}
    results = []
    with httpx.Client(base_url=stack.url, headers=headers, timeout=30) as client:
        for body, content_type in (
            (f.as_xml(data), "application/xml"),
            (f.as_json(f.renumbered(data)), "application/json"),
        ):
            response = client.post(
                "/v1/submissions", content=body, headers={"Content-Type": content_type}
            )
            assert response.status_code == 202, response.text
            for document in response.json()["documents"]:
                detail = wait_for(client, document["url"], PRICED_STATES)
                assert detail["status"] in PRICED_STATES, stack.logs()
                results.append((detail["totals"], [ln["pricing"] for ln in detail["lines"]]))
    assert results[:2] == results[2:]
    assert results[0][0]["eligible"] == 738_000 + 2 * 300_000
    metrics = httpx.get(stack.worker_metrics_url, timeout=5).text
    assert 'gateway_pricing_total{outcome="priced"}' in metrics
    assert 'gateway_tasks_total{state="success",task="gateway.price_documents"}' in metrics


def test_another_centre_gets_404(stack: Stack) -> None:
    code, token = add_centre(stack)
    _, other = add_centre(stack)
    answer = httpx.post(
        f"{stack.url}/v1/submissions",
        content=f.as_json(f.submission(code)),
        timeout=30,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    ).json()
    for url in (answer["url"], answer["documents"][0]["url"]):
        denied = httpx.get(f"{stack.url}{url}", headers={"Authorization": f"Bearer {other}"})
        assert denied.status_code == 404
        allowed = httpx.get(f"{stack.url}{url}", headers={"Authorization": f"Bearer {token}"})
        assert allowed.status_code == 200


def test_a_message_never_published_is_relayed(stack: Stack) -> None:
    """A crash between commit and publish: the outbox row alone gets the document priced."""
    from gateway.submissions.service import ingest
    from validators.schema import Format

    code, _ = add_centre(stack)
    sessions = stack.sessions()
    with transaction(sessions) as session:
        centre = repository.get_centre_by_code(session, code)
        assert centre is not None
        stored = ingest(
            session=session,
            centre=centre,
            body=f.as_json(f.submission(code)),
            fmt=Format.JSON,
            content_type="application/json",
            idempotency_key=None,
            max_documents=10,
            settings=Settings(clock_date=TODAY),
        )
    document_id = stored.documents[0].id
    deadline = time.monotonic() + services.WAIT_S
    status = ""
    while time.monotonic() < deadline and status not in PRICED_STATES:
        with sessions() as session:
            document = documents.get_document(session, document_id, None)
            assert document is not None
            status = document.status
        time.sleep(0.3)
    assert status in PRICED_STATES, stack.logs()
    with sessions() as session:
        message = session.get_one(OutboxMessage, stored.outbox[0].id)
        assert message.published_at is not None


def test_cli_submit_follows_documents_to_priced(stack: Stack, tmp_path) -> None:
    code, token = add_centre(stack)
    path = tmp_path / "claims.json"
    path.write_bytes(f.as_json(f.submission(code, f.outpatient_visit(), f.outpatient_visit())))
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "gateway",
            "submit",
            "--url",
            stack.url,
            "--token",
            token,
            str(path),
        ],
        env=stack.env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert sum(done.stdout.count(f": {s}") for s in PRICED_STATES) == 2, done.stdout
    assert "insurer" in done.stdout


def _priced_rows(stack: Stack, document_id: uuid.UUID) -> tuple[list[Any], list[Any], list[Any]]:
    with stack.sessions()() as session:
        pricings = session.execute(
            select(
                LinePricing.id,
                LinePricing.line_id,
                LinePricing.eligible_amount,
                LinePricing.insurer_amount,
            )
            .where(LinePricing.document_id == document_id)
            .order_by(LinePricing.id)
        ).all()
        deductions = session.execute(
            select(LineDeduction.id, LineDeduction.reason, LineDeduction.amount)
            .where(LineDeduction.document_id == document_id)
            .order_by(LineDeduction.id)
        ).all()
        events = session.execute(
            select(StatusEvent.from_status, StatusEvent.to_status)
            .where(StatusEvent.document_id == document_id)
            .order_by(StatusEvent.id)
        ).all()
    return list(pricings), list(deductions), list(events)


def test_a_redelivered_pricing_task_changes_nothing(stack: Stack) -> None:
    """The same task delivered again to the real worker (the outbox row re-sent through the
    real broker) leaves one set of pricing rows and one status path."""
    code, token = add_centre(stack)
    headers = {"Authorization": f"Bearer {token}"}
    visit = f.outpatient_visit([f.line("970000", 1, 800_000), f.line("999999", 1, 50_000)])
    with httpx.Client(base_url=stack.url, headers=headers, timeout=30) as client:
        answer = client.post(
            "/v1/submissions",
            content=f.as_json(f.submission(code, visit)),
            headers={"Content-Type": "application/json"},
        ).json()
        (document,) = answer["documents"]
        assert wait_for(client, document["url"], PRICED_STATES)["status"] in PRICED_STATES
    document_id = uuid.UUID(document["id"])
    before = _priced_rows(stack, document_id)
    assert [len(rows) for rows in before] == [2, 2, 4]  # 2 lines, 2 deductions, 4 moves
    redelivered = 'gateway_pricing_total{outcome="already-done"}'
    with stack.sessions()() as session:
        (message_id,) = [
            message.id
            for message in session.scalars(
                select(OutboxMessage).where(OutboxMessage.task == "gateway.price_documents")
            )
            if str(document_id) in message.payload["document_ids"]
        ]

    def wait_until_marked() -> bool:
        deadline = time.monotonic() + services.WAIT_S
        while time.monotonic() < deadline:
            with stack.sessions()() as session:
                sent = session.scalar(
                    select(func.count())
                    .select_from(OutboxMessage)
                    .where(OutboxMessage.id == message_id, OutboxMessage.published_at.is_not(None))
                )
            if sent:
                return True
            time.sleep(0.2)
        return False

    # The API marks what it sent a moment after sending it: that mark must land before
    # the message is made unpublished again, or it would hide the reset.
    assert wait_until_marked(), stack.logs()
    for _ in range(2):
        with transaction(stack.sessions()) as session:
            session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id == message_id)
                .values(published_at=None)
            )
        assert wait_until_marked(), stack.logs()
    deadline = time.monotonic() + services.WAIT_S
    count = 0.0
    while time.monotonic() < deadline and count < 2:
        for row in httpx.get(stack.worker_metrics_url, timeout=5).text.splitlines():
            if row.startswith(redelivered):
                count = float(row.split()[-1])
        time.sleep(0.3)
    assert count >= 2, stack.logs()
    assert _priced_rows(stack, document_id) == before


Moves = set[tuple[str | None, str]]
INGESTED: Moves = {(None, "RECEIVED"), ("RECEIVED", "ACCEPTED")}
PRICING_DECISIONS: Moves = {("PRICED", "APPROVED"), ("PRICED", "UNDER_REVIEW")}


def moves_of(seen: list[Received]) -> Moves:
    data = [orjson.loads(r.body)["data"] for r in seen]
    return {(d["from_status"], d["to_status"]) for d in data}


def webhook_events(stack: Stack, done: Callable[[Moves], bool]) -> tuple[list[Received], str]:
    """Register a webhook on a local receiver through the API, submit one document and see
    it priced; what the receiver got once ``done`` holds (or after services.WAIT_S), checked for its
    signature and matched to the delivery attempts the API lists."""
    code, token = add_centre(stack)
    headers = {"Authorization": f"Bearer {token}"}
    with (
        running_receiver() as receiver,
        httpx.Client(base_url=stack.url, headers=headers, timeout=30) as client,
    ):
        created = client.post("/v1/webhooks", json={"url": receiver.url})
        assert created.status_code == 201, created.text
        hook = created.json()
        answer = client.post(
            "/v1/submissions",
            content=f.as_json(f.submission(code)),
            headers={"Content-Type": "application/json"},
        )
        assert answer.status_code == 202, answer.text
        (document,) = answer.json()["documents"]
        assert wait_for(client, document["url"], PRICED_STATES)["status"] in PRICED_STATES
        seen = receiver.wait_for(lambda got: done(moves_of(got)))
        sent = {r.headers["x-gateway-delivery"] for r in seen}
        deadline = time.monotonic() + services.WAIT_S
        while True:
            page = client.get(hook["deliveries_url"], params={"limit": 100}).json()
            delivered = {d["event_id"] for d in page["items"] if d["delivered"]}
            if delivered >= sent or time.monotonic() > deadline:
                break
            time.sleep(0.2)
    assert delivered >= sent
    for request in seen:
        event = orjson.loads(request.body)
        assert event["data"]["document_id"] == document["id"]
        assert request.headers["x-gateway-delivery"] == event["id"]
        assert request.headers["x-gateway-event"] == event["type"]
        signature = request.headers["x-gateway-signature"]
        assert verify_signature(hook["secret"], signature, request.body, tolerance_s=120)
    return seen, stack.logs()


def test_a_webhook_receives_signed_events_as_a_document_moves(stack: Stack) -> None:
    seen, logs = webhook_events(stack, lambda moves: moves >= INGESTED)
    assert moves_of(seen) >= INGESTED, logs
    metrics = httpx.get(stack.worker_metrics_url, timeout=5).text
    assert 'gateway_webhook_deliveries_total{outcome="delivered"}' in metrics


def test_a_webhook_hears_of_pricing_moves(stack: Stack) -> None:
    def priced(moves: Moves) -> bool:
        return ("ACCEPTED", "PRICED") in moves and bool(moves & PRICING_DECISIONS)

    seen, logs = webhook_events(stack, priced)
    assert priced(moves_of(seen)), (moves_of(seen), logs)
    assert len(seen) == 4
