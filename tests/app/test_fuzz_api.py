"""The whole HTTP API fuzzed from its own OpenAPI document (schemathesis), in-process, as
a centre and as an auditor: no answer is a 5xx, and every answer fits its schema.

SQLite only (the API code is the same on both databases; the API tests cover PostgreSQL),
derandomized so that a run is repeatable; a few examples per operation and role.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance
from sqlalchemy.orm import Session, sessionmaker

from gateway.app import create_app
from gateway.domain.centres import Role
from gateway.kit.db import engine_for, session_factory
from gateway.settings import Settings
from tests import factories as f

EXAMPLES = 6
CHECKS = [not_a_server_error, response_schema_conformance]
# The document is the app's own; no database is touched to produce it.
schema = schemathesis.openapi.from_dict(
    create_app(Settings(database_url="sqlite://"), relay=False).openapi()
)
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)


@pytest.fixture(scope="module")
def fuzzed(sqlite_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    folder = tmp_path_factory.mktemp("fuzz")
    app = create_app(
        Settings(
            database_url=sqlite_url,
            broker_url=f"sqla+sqlite:///{folder / 'broker.sqlite'}",
            max_body_bytes=256 * 1024,
            clock_date=f.TODAY,
            batch_spool_dir=Path(folder / "spool"),
        ),
        relay=False,
    )
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


@pytest.fixture(scope="module")
def tokens(sqlite_url: str) -> dict[str, str]:
    sessions: sessionmaker[Session] = session_factory(engine_for(sqlite_url))
    _, centre = f.make_centre(sessions)
    return {"centre": centre, "auditor": f.make_staff_token(sessions, Role.AUDITOR)}


def call(client: TestClient, case: schemathesis.Case, token: str) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    sent = case.as_transport_kwargs(base_url=str(client.base_url), headers=headers)
    sent.pop("cookies", None)
    if isinstance(sent.get("data"), bytes | str):
        sent["content"] = sent.pop("data")  # raw bodies go as content for httpx
    response = client.request(**sent)
    case.validate_response(response, checks=CHECKS)


@schema.parametrize()
@FUZZ
def test_as_a_centre(case: schemathesis.Case, fuzzed: TestClient, tokens: dict[str, str]) -> None:
    call(fuzzed, case, tokens["centre"])


@schema.parametrize()
@FUZZ
def test_as_an_auditor(case: schemathesis.Case, fuzzed: TestClient, tokens: dict[str, str]) -> None:
    call(fuzzed, case, tokens["auditor"])
