"""The workspace through the ASGI app: staff accounts, logged-in clients, CSRF tokens."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from pydantic import SecretStr
from sqlalchemy.orm import Session, sessionmaker

from gateway import admin
from gateway.api.app import create_app
from gateway.domain.centres import Role
from gateway.settings import Settings
from gateway.storage.db import transaction

PASSWORD = "correct horse battery staple"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def web_settings(settings: Settings) -> Settings:
    # The TestClient speaks plain http://: a Secure cookie would not come back to it.
    return settings.model_copy(
        update={"secret_key": SecretStr(f"test-{uuid.uuid4().hex}"), "cookie_secure": False}
    )


@pytest.fixture
def web(web_settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(web_settings, relay=False)) as client:
        yield client


def make_user(sessions: sessionmaker[Session], role: Role) -> str:
    username = f"{role.value}-{uuid.uuid4().hex[:8]}"
    with transaction(sessions) as session:
        admin.add_staff_user(
            session=session,
            username=username,
            display_name=username.title(),
            role=role,
            password=PASSWORD,
        )
    return username


def csrf_of(page: Response) -> str:
    found = _CSRF.search(page.text)
    assert found, page.text
    return found.group(1)


def log_in(client: TestClient, username: str, password: str = PASSWORD) -> Response:
    form = client.get("/web/login")
    return client.post(
        "/web/login",
        data={"username": username, "password": password, "csrf_token": csrf_of(form)},
        follow_redirects=False,
    )


@pytest.fixture
def logged_in(web: TestClient, sessions: sessionmaker[Session]) -> Callable[[Role], TestClient]:
    """The workspace client, logged in as a new user of the given role."""

    def as_role(role: Role) -> TestClient:
        answer = log_in(web, make_user(sessions, role))
        assert answer.status_code == 303, answer.text
        return web

    return as_role
