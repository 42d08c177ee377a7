"""Workspace login throttling: locks per account and per client address, refused before
any password is verified, growing with each lock, shared through the database by every
API process; audited and counted. On SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY
from sqlalchemy import select

from gateway.app import create_app
from gateway.domain.centres import Role
from gateway.settings import Settings
from gateway.storage.models import AuditEntry
from gateway.web import sessions as web_sessions
from gateway.web import throttle
from gateway.web.i18n import Locale
from tests.web.conftest import log_in, make_user

WRONG = "not the password at all"


class Clock:
    """Time for the throttle that tests move on by hand (starting from now, so the rows
    a test leaves behind are as current as any other test's)."""

    def __init__(self, start: float) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    moved = Clock(throttle.clock())
    monkeypatch.setattr(throttle, "clock", moved)
    return moved


class CountingHasher:
    """The argon2 hasher, noting each hash it is asked to verify."""

    def __init__(self, real: Any) -> None:
        self.real = real
        self.verified: list[str] = []

    def verify(self, hash: str, password: str) -> Any:
        self.verified.append(hash)
        return self.real.verify(hash, password)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


@pytest.fixture
def verified(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The hashes argon2 was asked to verify at login, in order."""
    hasher = CountingHasher(web_sessions.passwords)
    monkeypatch.setattr(web_sessions, "passwords", hasher)
    return hasher.verified


@pytest.fixture
def browser(web_settings: Settings) -> Iterator[Callable[..., TestClient]]:
    """Workspace clients, each from its own client address unless told otherwise."""
    opened: list[TestClient] = []

    def open_one(settings: Settings = web_settings, address: str = "") -> TestClient:
        peer = address or f"198.51.100.{len(opened) + 1}-{uuid.uuid4().hex[:6]}"
        client = TestClient(create_app(settings, relay=False), client=(peer, 50000))
        opened.append(client.__enter__())
        return client

    yield open_one
    for client in opened:
        client.__exit__(None, None, None)


def logins(outcome: str) -> float:
    return REGISTRY.get_sample_value("gateway_logins_total", {"outcome": outcome}) or 0.0


def audited(sessions, action: str, subject_id: str) -> list[AuditEntry]:
    with sessions() as session:
        query = select(AuditEntry).where(
            AuditEntry.action == action, AuditEntry.subject_id == subject_id
        )
        return list(session.scalars(query.order_by(AuditEntry.seq)))


def test_a_locked_account_refuses_the_right_password_without_verifying_it(
    browser, sessions, clock: Clock, verified: list[str], web_settings: Settings
) -> None:
    web = browser()
    username = make_user(sessions, Role.AUDITOR)
    before = {outcome: logins(outcome) for outcome in ("success", "failed", "throttled")}
    for _ in range(web_settings.login_max_failures - 1):
        assert log_in(web, username, WRONG).status_code == 401
    locking = log_in(web, username, WRONG)
    assert locking.status_code == 429
    assert locking.headers["Retry-After"] == "300"
    (lock,) = audited(sessions, "login.locked", username)
    assert lock.details["failures"] == web_settings.login_max_failures
    assert lock.details["seconds"] == 300
    assert lock.details["lock"] == 1
    assert lock.subject_type == "user"

    hashed = len(verified)
    right = log_in(web, username)  # the right password, from another address too
    elsewhere = log_in(browser(), username)
    assert right.status_code == elsewhere.status_code == 429
    assert len(verified) == hashed  # refused before argon2 was asked anything
    assert 0 < int(right.headers["Retry-After"]) <= 300
    assert Locale("fa").t("login.throttled", minutes=5) in right.text
    assert logins("throttled") == before["throttled"] + 2
    assert logins("failed") == before["failed"] + web_settings.login_max_failures
    assert web.get("/web/", follow_redirects=False).status_code == 303  # not logged in

    clock.now += 301
    assert log_in(web, username).status_code == 303
    assert logins("success") == before["success"] + 1
    assert len(audited(sessions, "login.locked", username)) == 1


def test_each_lock_in_a_row_lasts_twice_as_long_until_a_quiet_window(
    browser, sessions, clock: Clock, web_settings: Settings
) -> None:
    web = browser()
    username = f"nobody-{uuid.uuid4().hex[:8]}"  # an unknown name is locked the same way
    waits = []
    for _ in range(3):
        for _ in range(web_settings.login_max_failures):
            answer = log_in(web, username, WRONG)
        assert answer.status_code == 429
        waits.append(int(answer.headers["Retry-After"]))
        clock.now += waits[-1] + 1
    assert waits == [300, 600, 1200]
    assert [e.details["lock"] for e in audited(sessions, "login.locked", username)] == [1, 2, 3]

    clock.now += web_settings.login_failure_window_s  # a quiet window forgets the streak
    for _ in range(web_settings.login_max_failures):
        answer = log_in(web, username, WRONG)
    assert answer.headers["Retry-After"] == "300"


def test_the_longest_lock_is_capped() -> None:
    settings = Settings(login_lock_s=60, login_lock_max_s=3600)
    assert [throttle.lock_seconds(settings, n) for n in (0, 1, 5, 6, 7, 1000)] == [
        60,
        120,
        1920,
        3600,
        3600,
        3600,
    ]


def test_a_client_address_guessing_many_accounts_is_locked_for_every_account(
    browser, sessions, clock: Clock, web_settings: Settings
) -> None:
    strict = web_settings.model_copy(update={"login_client_max_failures": 3})
    address = f"203.0.113.{uuid.uuid4().int % 250}-{uuid.uuid4().hex[:6]}"
    guesser = browser(strict, address)
    assert log_in(guesser, f"a-{uuid.uuid4().hex[:8]}", WRONG).status_code == 401
    assert log_in(guesser, f"b-{uuid.uuid4().hex[:8]}", WRONG).status_code == 401
    locking = log_in(guesser, f"c-{uuid.uuid4().hex[:8]}", WRONG)
    assert locking.status_code == 429
    (lock,) = audited(sessions, "login.locked", address)
    assert lock.subject_type == "client"

    username = make_user(sessions, Role.FINANCE)
    assert log_in(guesser, username).status_code == 429  # the address is locked
    assert log_in(browser(strict), username).status_code == 303  # the account is not


def test_the_counts_are_shared_by_every_api_process(
    browser, sessions, clock: Clock, web_settings: Settings
) -> None:
    """Two app instances (as two API processes would be) count the same failures."""
    username = make_user(sessions, Role.AUDITOR)
    first, second = browser(), browser()
    for n in range(web_settings.login_max_failures - 1):
        assert log_in(first if n % 2 else second, username, WRONG).status_code == 401
    assert log_in(first, username, WRONG).status_code == 429
    assert log_in(second, username).status_code == 429


def test_a_success_clears_the_account_count(
    browser, sessions, clock: Clock, web_settings: Settings
) -> None:
    web = browser()
    username = make_user(sessions, Role.AUDITOR)
    for _ in range(web_settings.login_max_failures - 1):
        assert log_in(web, username, WRONG).status_code == 401
    assert log_in(web, username).status_code == 303
    for _ in range(web_settings.login_max_failures - 1):
        assert log_in(browser(), username, WRONG).status_code == 401


def test_the_wait_is_said_in_english_too(browser, sessions, clock: Clock, web_settings) -> None:
    web = browser()
    web.cookies.set(web_sessions.LANG_COOKIE, "en", path="/web")
    username = f"nobody-{uuid.uuid4().hex[:8]}"
    for _ in range(web_settings.login_max_failures):
        answer = log_in(web, username, WRONG)
    assert answer.status_code == 429
    assert Locale("en").t("login.throttled", minutes=5) in answer.text
