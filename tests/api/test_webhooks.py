"""The webhook API: registration, listing, deletion, deliveries, and who may see what."""

from __future__ import annotations

import ipaddress
import uuid
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from gateway import webhooks
from gateway.api.app import create_app
from gateway.domain.centres import Role
from gateway.ingest import ingest
from gateway.journal import EVENT_TYPE, WEBHOOK_TASK
from gateway.settings import Settings
from gateway.storage import webhooks as store
from gateway.storage.db import transaction
from gateway.storage.models import AuditEntry, Centre, OutboxMessage, utcnow
from tests import factories as f
from validators.schema import Format

JSON = {"Content-Type": "application/json"}
HOOK_URL = "https://his.example.org/gateway-events"


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def register(client: TestClient, token: str, url: str = HOOK_URL) -> dict[str, object]:
    response = client.post("/v1/webhooks", json={"url": url}, headers=auth(token))
    assert response.status_code == 201, response.text
    body: dict[str, object] = response.json()
    return body


def webhook_messages(sessions: sessionmaker[Session], webhook_id: object) -> list[OutboxMessage]:
    with sessions() as session:
        query = (
            select(OutboxMessage)
            .where(
                OutboxMessage.task == WEBHOOK_TASK,
                OutboxMessage.payload["webhook_id"].as_integer() == webhook_id,
            )
            .order_by(OutboxMessage.id)
        )
        return list(session.scalars(query))


def test_a_centre_registers_and_sees_its_webhook(client: TestClient, sessions) -> None:
    _, token = f.make_centre(sessions)
    created = register(client, token)
    assert created["url"] == HOOK_URL
    assert str(created["secret"]).startswith("whsec_")
    assert created["active"] is True
    assert created["deliveries_url"] == f"/v1/webhooks/{created['id']}/deliveries"

    listed = client.get("/v1/webhooks", headers=auth(token)).json()
    assert [w["id"] for w in listed] == [created["id"]]
    assert "secret" not in listed[0]
    with sessions() as session:
        entry = session.scalars(
            select(AuditEntry).where(
                AuditEntry.action == "webhook.create", AuditEntry.subject_id == str(created["id"])
            )
        ).one()
        assert str(created["secret"]) not in str(entry.details)


@pytest.mark.parametrize(
    "url",
    ["ftp://his.example.org/x", "file:///etc/passwd", "not a url", "https://", "", "x" * 600],
)
def test_only_http_and_https_urls_are_taken(client: TestClient, sessions, url: str) -> None:
    _, token = f.make_centre(sessions)
    response = client.post("/v1/webhooks", json={"url": url}, headers=auth(token))
    assert response.status_code == 422
    assert response.json()["errors"][0]["code"] == "request.invalid"
    assert client.get("/v1/webhooks", headers=auth(token)).json() == []


# Hosts a centre might register to make the worker reach inside the gateway's network.
INTERNAL_HOSTS = [
    "127.0.0.1:5432",
    "169.254.169.254",
    "[::1]",
    "2130706433",  # decimal loopback
    "10.0.0.1",
    "0177.0.0.1",  # octal
    "0x7f.1",  # hex, short form
    "127.1",
    "127.0.0.1.",  # trailing dot
    "[::ffff:127.0.0.1]",  # IPv4-mapped IPv6
    "[::ffff:a9fe:a9fe]",
    "[fe80::1]",
    "[fd00::1]",
    "172.16.0.1",
    "192.168.0.1",
    "100.64.0.1",
    "0.0.0.0",  # noqa: S104 - an address to refuse, not one to bind
    "0",
    "224.0.0.1",
    "240.0.0.1",
    "localhost",  # resolves to loopback
]


@pytest.fixture
def http_client(settings: Settings) -> Iterator[TestClient]:
    """An API whose deployment allows http webhooks (not private addresses)."""
    allowing = settings.model_copy(update={"webhook_allow_http": True})
    with TestClient(create_app(allowing, relay=False)) as test_client:
        yield test_client


def assert_refused(client: TestClient, token: str, url: str, code: str) -> None:
    response = client.post("/v1/webhooks", json={"url": url}, headers=auth(token))
    assert response.status_code == 422, (url, response.text)
    (error,) = response.json()["errors"]
    assert (error["code"], error["path"]) == (code, "/url"), url
    assert client.get("/v1/webhooks", headers=auth(token)).json() == []


@pytest.mark.parametrize("host", INTERNAL_HOSTS)
def test_internal_addresses_are_refused_in_every_spelling(
    client: TestClient, http_client: TestClient, sessions, host: str
) -> None:
    _, token = f.make_centre(sessions)
    assert_refused(client, token, f"https://{host}/hook", "webhook.blocked-address")
    assert_refused(http_client, token, f"http://{host}/hook", "webhook.blocked-address")


def test_a_name_that_resolves_inside_the_network_is_refused(
    client: TestClient, sessions, monkeypatch: pytest.MonkeyPatch
) -> None:
    answers = {"inside.example.org": ["93.184.216.34", "10.1.2.3"], "out.example.org": ["8.8.8.8"]}
    monkeypatch.setattr(
        webhooks, "resolve", lambda host, _port: [ipaddress.ip_address(a) for a in answers[host]]
    )
    _, token = f.make_centre(sessions)
    assert_refused(client, token, "https://inside.example.org/h", "webhook.blocked-address")
    assert register(client, token, "https://out.example.org/h")["active"] is True


def test_http_is_refused_unless_the_deployment_allows_it(
    client: TestClient, http_client: TestClient, sessions
) -> None:
    _, token = f.make_centre(sessions)
    assert_refused(client, token, "http://his.example.org/h", "webhook.https-required")
    assert register(http_client, token, "http://his.example.org/h")["active"] is True


def test_a_private_host_is_taken_when_the_deployment_names_it(settings: Settings, sessions) -> None:
    allowing = settings.model_copy(
        update={"webhook_allow_http": True, "webhook_allowed_private_hosts": ["127.0.0.1"]}
    )
    _, token = f.make_centre(sessions)
    with TestClient(create_app(allowing, relay=False)) as client:
        assert register(client, token, "http://127.0.0.1:8080/h")["active"] is True
        other = client.post("/v1/webhooks", json={"url": "http://10.0.0.1/h"}, headers=auth(token))
        assert other.status_code == 422


@pytest.mark.parametrize("role", [Role.AUDITOR, Role.FINANCE, Role.ADMIN])
def test_other_roles_may_not_manage_webhooks(client: TestClient, sessions, role: Role) -> None:
    staff = f.make_staff_token(sessions, role)
    _, token = f.make_centre(sessions)
    hook = register(client, token)
    for method, path in (
        ("POST", "/v1/webhooks"),
        ("GET", "/v1/webhooks"),
        ("DELETE", f"/v1/webhooks/{hook['id']}"),
        ("GET", f"/v1/webhooks/{hook['id']}/deliveries"),
    ):
        body = {"json": {"url": HOOK_URL}} if method == "POST" else {}
        response = client.request(method, path, headers=auth(staff), **body)  # type: ignore[arg-type]
        assert response.status_code == 403, (method, path)
        assert response.json()["errors"][0]["code"] == "auth.forbidden"
    assert client.get("/v1/webhooks").status_code == 401


def test_a_centre_never_sees_another_centres_webhooks(client: TestClient, sessions) -> None:
    _, token = f.make_centre(sessions)
    _, other = f.make_centre(sessions)
    hook = register(client, token)
    assert client.get("/v1/webhooks", headers=auth(other)).json() == []
    for method, path in (
        ("DELETE", f"/v1/webhooks/{hook['id']}"),
        ("GET", f"/v1/webhooks/{hook['id']}/deliveries"),
    ):
        response = client.request(method, path, headers=auth(other))
        assert response.status_code == 404, (method, path)
        assert HOOK_URL not in response.text
    assert client.get("/v1/webhooks", headers=auth(token)).json()[0]["active"] is True


def test_deleting_disables_and_stops_events(client: TestClient, sessions) -> None:
    centre, token = f.make_centre(sessions)
    hook = register(client, token)
    assert client.delete(f"/v1/webhooks/{hook['id']}", headers=auth(token)).status_code == 204
    assert client.delete(f"/v1/webhooks/{hook['id']}", headers=auth(token)).status_code == 204
    (listed,) = client.get("/v1/webhooks", headers=auth(token)).json()
    assert listed["active"] is False
    assert listed["disabled_at"] is not None
    response = client.post(
        "/v1/submissions",
        content=f.as_json(f.submission(centre.code)),
        headers={**JSON, **auth(token)},
    )
    assert response.status_code == 202
    assert webhook_messages(sessions, hook["id"]) == []
    for missing in ("999999", "0", "99999999999"):
        response = client.delete(f"/v1/webhooks/{missing}", headers=auth(token))
        assert response.status_code in (404, 422)


def test_a_status_change_queues_a_signed_event_per_webhook(client: TestClient, sessions) -> None:
    centre, token = f.make_centre(sessions)
    first, second = register(client, token), register(client, token, HOOK_URL + "/2")
    response = client.post(
        "/v1/submissions",
        content=f.as_json(f.submission(centre.code, f.outpatient_visit())),
        headers={**JSON, **auth(token)},
    )
    assert response.status_code == 202, response.text
    document = response.json()["documents"][0]
    for hook in (first, second):
        messages = webhook_messages(sessions, hook["id"])
        events = [m.payload["event"] for m in messages]
        moves = [(e["data"]["from_status"], e["data"]["to_status"]) for e in events]
        assert moves == [(None, "RECEIVED"), ("RECEIVED", "ACCEPTED")]
        for event in events:
            assert event["type"] == EVENT_TYPE
            assert uuid.UUID(event["id"])
            assert event["data"]["document_id"] == document["id"]
            assert event["data"]["external_id"] == document["external_id"]
            assert event["data"]["url"] == document["url"]
    ids = [
        m.payload["event"]["id"]
        for h in (first, second)
        for m in webhook_messages(sessions, h["id"])
    ]
    assert len(set(ids)) == 4


def test_ingest_hands_the_webhook_messages_to_the_publisher(
    client: TestClient, sessions, settings: Settings
) -> None:
    """What ingest returns is published right after the commit, webhook messages included."""
    centre, token = f.make_centre(sessions)
    hook = register(client, token)
    with transaction(sessions) as session:
        stored = ingest(
            session=session,
            centre=session.get_one(Centre, centre.id),
            body=f.as_json(f.submission(centre.code)),
            fmt=Format.JSON,
            content_type="application/json",
            idempotency_key=None,
            max_documents=10,
            settings=settings,
        )
    queued = [m for m in stored.outbox if m.task == WEBHOOK_TASK]
    assert [m.payload["webhook_id"] for m in queued] == [hook["id"]] * 2
    assert [m.id for m in webhook_messages(sessions, hook["id"])] == [m.id for m in queued]


def test_deliveries_are_listed_newest_first_in_pages(client: TestClient, sessions) -> None:
    _, token = f.make_centre(sessions)
    hook = register(client, token)
    document_id = uuid.uuid4()
    with transaction(sessions) as session:
        for attempt, status in enumerate((500, 503, 200), start=1):
            store.record_delivery(
                session,
                webhook_id=int(str(hook["id"])),
                event_id="e-1",
                document_id=document_id,
                attempt=attempt,
                status_code=status,
                # What older versions stored: the receiver's own words.
                error=None if status == 200 else f"HTTP {status}: postgres FATAL secret",
                delivered=status == 200,
                duration_ms=12,
                at=utcnow(),
            )
    url = f"/v1/webhooks/{hook['id']}/deliveries"
    page = client.get(url, headers=auth(token)).json()
    assert page["total"] == 3
    assert [d["attempt"] for d in page["items"]] == [3, 2, 1]
    assert page["items"][0]["delivered"] is True
    assert page["items"][0]["document_id"] == str(document_id)
    assert [d["error"] for d in page["items"]] == [None, "http-5xx", "http-5xx"]
    assert "postgres" not in str(page)
    second = client.get(url, params={"limit": 2, "offset": 2}, headers=auth(token)).json()
    assert [d["attempt"] for d in second["items"]] == [1]
    assert (second["limit"], second["offset"], second["total"]) == (2, 2, 3)
    assert client.get(url, params={"limit": 0}, headers=auth(token)).status_code == 422


def test_the_api_documents_the_webhook_routes(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert set(paths["/v1/webhooks"]) == {"get", "post"}
    created = paths["/v1/webhooks"]["post"]["responses"]["201"]
    assert created["content"]["application/json"]["schema"]["$ref"].endswith("/WebhookCreated")
    assert "/v1/webhooks/{webhook_id}/deliveries" in paths
    assert "delete" in paths["/v1/webhooks/{webhook_id}"]
