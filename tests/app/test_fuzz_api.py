"""The whole HTTP API fuzzed from its own OpenAPI document (schemathesis), in-process, as
every role: no answer is a 5xx, and every answer fits its schema. Besides data that fits
the document, schemathesis's negative mode sends data that breaks it (numbers past their
bounds, wrong types), and FHIR Claims are fuzzed with contained resources of any type,
any Claim.use and any identifier system (the FHIR body is only ``object`` in the document).

SQLite only (the API code is the same on both databases; the API tests cover PostgreSQL),
derandomized so that a run is repeatable; a few examples per operation and role.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
import schemathesis
from fastapi.testclient import TestClient
from fhir.resources.R4B.claimresponse import ClaimResponse
from fhir.resources.R4B.operationoutcome import OperationOutcome
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import response_schema_conformance
from sqlalchemy.orm import Session, sessionmaker

from gateway.app import create_app
from gateway.domain.centres import Role
from gateway.kit.db import engine_for, session_factory
from gateway.settings import Settings
from tests import factories as f
from tests.fhir import claims

EXAMPLES = 6
CHECKS = [not_a_server_error, response_schema_conformance]
# The document is the app's own; no database is touched to produce it.
DOCUMENT = create_app(Settings(database_url="sqlite://"), relay=False).openapi()
schema = schemathesis.openapi.from_dict(DOCUMENT)
NEGATIVE_CONFIG = SchemathesisConfig()
NEGATIVE_CONFIG.projects.default.generation.update(modes=[GenerationMode.NEGATIVE])
negative = schemathesis.openapi.from_dict(DOCUMENT, config=NEGATIVE_CONFIG)
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
    staff = {role.value: f.make_staff_token(sessions, role) for role in Role if role != Role.CENTRE}
    return {"centre": centre, **staff}


def call(client: TestClient, case: schemathesis.Case, token: str) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    sent = case.as_transport_kwargs(base_url=str(client.base_url), headers=headers)
    sent.pop("cookies", None)
    if isinstance(sent.get("data"), bytes | str):
        sent["content"] = sent.pop("data")  # raw bodies go as content for httpx
    if sent.get("files"):
        # A form part carries text or bytes: a value generated as a number goes as its JSON.
        sent["files"] = [
            (name, (part[0], _form_value(part[1]), *part[2:])) for name, part in sent["files"]
        ]
    request = client.build_request(**sent)
    request.read()  # a multipart body is a stream: read it now, so the checks can see it
    response = client.send(request)
    case.validate_response(response, checks=CHECKS)


def _form_value(value: object) -> bytes | str:
    return value if isinstance(value, bytes | str) else orjson.dumps(value)


@schema.parametrize()
@FUZZ
def test_as_a_centre(case: schemathesis.Case, fuzzed: TestClient, tokens: dict[str, str]) -> None:
    call(fuzzed, case, tokens["centre"])


@schema.parametrize()
@FUZZ
def test_as_an_auditor(case: schemathesis.Case, fuzzed: TestClient, tokens: dict[str, str]) -> None:
    call(fuzzed, case, tokens["auditor"])


@schema.parametrize()
@FUZZ
def test_as_finance(case: schemathesis.Case, fuzzed: TestClient, tokens: dict[str, str]) -> None:
    call(fuzzed, case, tokens["finance"])


@schema.parametrize()
@FUZZ
def test_as_an_admin(case: schemathesis.Case, fuzzed: TestClient, tokens: dict[str, str]) -> None:
    call(fuzzed, case, tokens["admin"])


@negative.parametrize()
@FUZZ
def test_data_that_breaks_the_document(
    case: schemathesis.Case, fuzzed: TestClient, tokens: dict[str, str]
) -> None:
    """Out-of-bounds and wrongly typed values: refused (4xx) as documented, never a 5xx."""
    call(fuzzed, case, tokens["auditor"])
    call(fuzzed, case, tokens["finance"])


RESOURCE_TYPES = st.sampled_from(["Patient", "ReferralRequest", "Foo", "", "Claim", "Bundle"])
CONTAINED = st.one_of(
    st.fixed_dictionaries({"resourceType": RESOURCE_TYPES | st.text(max_size=20)}),
    st.fixed_dictionaries({"id": st.text(max_size=10)}),
    st.integers() | st.text(max_size=10) | st.none(),
)


@given(
    contained=st.lists(CONTAINED, max_size=3),
    use=st.sampled_from(["claim", "complete", "proposed", "exploratory", ""]) | st.text(),
    system=st.text(max_size=40),
    quantity=st.integers() | st.floats(allow_nan=False, allow_infinity=False),
)
@FUZZ
def test_fhir_claims(
    fuzzed: TestClient,
    tokens: dict[str, str],
    contained: list[object],
    use: str,
    system: str,
    quantity: float,
) -> None:
    resource = claims.claim(f.national_id(), [claims.item(1, "970000", 1, 1000)], use=use)
    resource["contained"] += contained
    resource["identifier"][0]["system"] = system
    resource["item"][0]["quantity"] = {"value": quantity}
    body = orjson.dumps(resource, option=orjson.OPT_PASSTHROUGH_SUBCLASS)
    answer = fuzzed.post("/fhir/Claim", content=body, headers=claims.auth(tokens["centre"]))
    assert answer.status_code < 500, answer.text
    kind = answer.json()["resourceType"]
    model = ClaimResponse if answer.status_code == 200 else OperationOutcome
    assert kind == model.get_resource_type()
    model.model_validate(answer.json())  # valid R4: no invalid code echoed
