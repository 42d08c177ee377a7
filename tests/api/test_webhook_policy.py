"""The address policy at delivery time (workers/webhook_transport.py): the worker vets the
address it actually connects to, keeps the registered name in Host and in TLS, and
records a class of failure, never what the far end said."""

from __future__ import annotations

import ipaddress
import socket
import ssl
import threading
from collections.abc import Iterator

import pytest
import trustme
from sqlalchemy.orm import Session, sessionmaker

from gateway import metrics
from gateway import webhooks as service
from gateway.domain.webhook_addresses import AddressPolicy, IPAddress
from gateway.settings import Settings
from gateway.storage.models import WebhookDelivery
from tests.api.test_webhook_delivery import FAST, LOCAL, add_webhook, an_event, attempts
from tests.receiver import running_receiver
from workers import webhooks as delivery
from workers.webhooks import DeliveryPolicy

PUBLIC = ipaddress.ip_address("93.184.216.34")
LOOPBACK = ipaddress.ip_address("127.0.0.1")
HTTP_ONLY = AddressPolicy(allow_http=True)  # http allowed, but no private address


def resolving(monkeypatch: pytest.MonkeyPatch, answers: dict[str, list[IPAddress]]) -> None:
    """Stand in for the system resolver: each name resolves to the addresses given."""

    def resolve(host: str, _port: int) -> list[IPAddress]:
        return list(answers.get(host, []))

    monkeypatch.setattr(service, "resolve", resolve)


def deliver_once(
    sessions: sessionmaker[Session], webhook_id: int, policy: DeliveryPolicy
) -> WebhookDelivery:
    delivery.deliver(
        sessions=sessions, webhook_id=webhook_id, event=an_event(), attempt=1, policy=policy
    )
    return attempts(sessions, webhook_id)[-1]


def with_addresses(
    policy: AddressPolicy, *, timeout_s: float = 5, tls: ssl.SSLContext | None = None
) -> DeliveryPolicy:
    return DeliveryPolicy(
        timeout_s=timeout_s,
        max_attempts=4,
        base_delay_s=1,
        max_delay_s=60,
        addresses=policy,
        tls=tls,
    )


def failures(reason: str) -> float:
    value: float = metrics.WEBHOOK_FAILURES.labels(reason)._value.get()
    return value


def test_a_name_rebound_to_loopback_is_blocked_at_delivery(
    sessions, monkeypatch: pytest.MonkeyPatch
) -> None:
    with running_receiver() as receiver:
        port = receiver.url.split(":")[2].split("/")[0]
        url = f"http://rebind.example.org:{port}/events"
        resolving(monkeypatch, {"rebind.example.org": [PUBLIC]})
        webhook_id, _ = add_webhook(sessions, url, HTTP_ONLY)  # public when registered
        resolving(monkeypatch, {"rebind.example.org": [LOOPBACK]})  # loopback now
        before = failures("blocked-address")
        row = deliver_once(sessions, webhook_id, with_addresses(HTTP_ONLY))
    assert receiver.requests == []
    assert (row.status_code, row.error, row.delivered) == (None, "blocked-address", False)
    assert failures("blocked-address") == before + 1


def test_a_local_receiver_is_reached_only_when_the_setting_allows_it(sessions) -> None:
    with running_receiver() as receiver:
        webhook_id, _ = add_webhook(sessions, receiver.url)  # registered while allowed
        strict = deliver_once(sessions, webhook_id, with_addresses(AddressPolicy()))
        http_only = deliver_once(sessions, webhook_id, with_addresses(HTTP_ONLY))
        assert receiver.requests == []
        allowed = deliver_once(sessions, webhook_id, FAST)
    assert [strict.error, http_only.error] == ["blocked-address", "blocked-address"]
    assert (allowed.status_code, allowed.error, allowed.delivered) == (200, None, True)
    assert len(receiver.requests) == 1


def test_an_allowed_private_name_is_reached_at_its_address_with_its_host(
    sessions, monkeypatch: pytest.MonkeyPatch
) -> None:
    policy = Settings(
        webhook_allow_http=True, webhook_allowed_private_hosts=["hooks.internal"]
    ).webhook_address_policy()
    with running_receiver() as receiver:
        port = receiver.url.split(":")[2].split("/")[0]
        resolving(monkeypatch, {"hooks.internal": [LOOPBACK]})
        webhook_id, _ = add_webhook(sessions, f"http://hooks.internal:{port}/events", policy)
        row = deliver_once(sessions, webhook_id, with_addresses(policy))
    assert row.delivered
    (request,) = receiver.requests
    assert request.headers["host"] == f"hooks.internal:{port}"


@pytest.fixture(scope="module")
def authority() -> trustme.CA:
    return trustme.CA()


def server_tls(authority: trustme.CA, name: str) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert(name).configure_cert(context)
    return context


def client_tls(authority: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context()
    authority.configure_trust(context)
    return context


@pytest.mark.parametrize(("certified", "error"), [("hooks.example.org", None), ("x.org", "tls")])
def test_tls_names_the_registered_host_while_connecting_to_its_vetted_address(
    sessions,
    monkeypatch: pytest.MonkeyPatch,
    authority: trustme.CA,
    certified: str,
    error: str | None,
) -> None:
    policy = Settings(webhook_allowed_private_hosts=["hooks.example.org"]).webhook_address_policy()
    resolving(monkeypatch, {"hooks.example.org": [LOOPBACK]})
    with running_receiver(tls=server_tls(authority, certified)) as receiver:
        port = receiver.url.split(":")[2].split("/")[0]
        url = f"https://hooks.example.org:{port}/events"
        webhook_id, _ = add_webhook(sessions, url, policy)
        row = deliver_once(sessions, webhook_id, with_addresses(policy, tls=client_tls(authority)))
    assert receiver.server_names[:1] == ["hooks.example.org"]
    assert row.error == error
    assert row.delivered is (error is None)
    if error is None:
        assert receiver.requests[0].headers["host"] == f"hooks.example.org:{port}"


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections and never answers."""
    listener = socket.create_server(("127.0.0.1", 0))
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    stop.set()
    thread.join(timeout=5)
    for connection in accepted:
        connection.close()
    listener.close()


def test_a_receiver_that_never_answers_is_a_timeout(sessions, silent_port: int) -> None:
    webhook_id, _ = add_webhook(sessions, f"http://127.0.0.1:{silent_port}/events")
    row = deliver_once(sessions, webhook_id, with_addresses(LOCAL, timeout_s=0.5))
    assert (row.status_code, row.error, row.delivered) == (None, "timeout", False)
