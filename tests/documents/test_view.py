"""Every reader of a priced document renders one ``DocumentView``: the JSON API, its
remittance advice, the workspace, the FHIR ClaimResponse and ExplanationOfBenefit and the
settlement statement show the same line figures and the same deductions by reason."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from lxml import html
from pydantic import SecretStr
from sqlalchemy import event
from sqlalchemy.orm import Session, sessionmaker

from gateway.app import create_app
from gateway.documents.view import document_view, views_where
from gateway.domain.centres import Role
from gateway.kit.db import engine_for, session_factory, upgrade
from gateway.settings import Settings
from gateway.storage.models import Document
from tests import factories as f
from tests import services
from tests.review.test_lifecycle_api import ALWAYS_REVIEW, submit_priced
from tests.submissions.test_submissions import auth
from tests.web.conftest import log_in, make_user

# line -> (eligible, ((reason, amount), ...)); reason -> amount
Figures = tuple[dict[int, tuple[int, tuple[tuple[str, int], ...]]], dict[str, int]]


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database of the test's own: closing a month gathers every approved document."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'own.sqlite'}"
        upgrade(url)
        f.seed_sample_tariff(session_factory(engine_for(url)))
        yield url
    else:
        with services.migrated_postgres_database() as url:
            f.seed_sample_tariff(session_factory(engine_for(url)))
            yield url
    engine_for(url).dispose()


@pytest.fixture
def app_client(database_url: str, tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings(
        database_url=database_url,
        broker_url=f"sqla+sqlite:///{tmp_path / 'broker.sqlite'}",
        clock_date=f.TODAY,
        batch_spool_dir=tmp_path / "spool",
        secret_key=SecretStr(f"test-{uuid.uuid4().hex}"),
        cookie_secure=False,  # the test client speaks plain http
    )
    with TestClient(create_app(settings, relay=False)) as client:
        yield client


def _figures(rows: list[tuple[int, int, str | None, int]]) -> Figures:
    """(line, eligible, reason or None, amount) rows -> figures per line and per reason."""
    eligible: dict[int, int] = {}
    deductions: dict[int, list[tuple[str, int]]] = defaultdict(list)
    by_reason: dict[str, int] = defaultdict(int)
    for line, line_eligible, reason, amount in rows:
        eligible[line] = line_eligible
        if reason:
            deductions[line].append((reason, amount))
            by_reason[reason] += amount
    lines = {n: (e, tuple(sorted(deductions[n]))) for n, e in eligible.items()}
    return lines, dict(by_reason)


def _api(answer: dict[str, Any]) -> Figures:
    rows: list[tuple[int, int, str | None, int]] = []
    for line in answer["lines"]:
        pricing = line.get("pricing", line)
        rows.append((line["line_no"], pricing["eligible"], None, 0))
        rows += [
            (line["line_no"], pricing["eligible"], d["reason"], d["amount"])
            for d in pricing["deductions"]
        ]
    return rows_checked(rows, answer["deductions_by_reason"])


def rows_checked(
    rows: list[tuple[int, int, str | None, int]], reasons: list[dict[str, Any]]
) -> Figures:
    """The figures of the lines, after checking the answer's own by-reason list agrees."""
    figures = _figures(rows)
    assert {r["reason"]: r["amount"] for r in reasons} == figures[1]
    return figures


def _fhir(resource: dict[str, Any], sequence: str) -> Figures:
    rows: list[tuple[int, int, str | None, int]] = []
    for item in resource["item"]:
        entries = item["adjudication"]
        code = [e["category"]["coding"][0]["code"] for e in entries]
        eligible = entries[code.index("eligible")]["amount"]["value"]
        rows.append((item[sequence], eligible, None, 0))
        rows += [
            (item[sequence], eligible, e["reason"]["coding"][0]["code"], e["amount"]["value"])
            for e in entries
            if "reason" in e
        ]
    return _figures(rows)


def _text(element: Any, path: str) -> str:
    (found,) = element.xpath(path)
    return "".join(found.itertext())


def _amount(text: str) -> int:
    return int(text.strip().replace(",", ""))


def _workspace(page: str) -> Figures:
    tree = html.fromstring(page)
    rows: list[tuple[int, int, str | None, int]] = []
    for article in tree.xpath("//tbody[contains(@class, 'line-group')]"):
        number = int(article.get("id").removeprefix("line-"))
        eligible = _amount(_text(article, ".//td[contains(@class, 'line-eligible')]"))
        rows.append((number, eligible, None, 0))
        for item in article.xpath(".//li[@data-reason]"):
            amount = _amount(_text(item, "./span[@class='num']"))
            rows.append((number, eligible, item.get("data-reason"), amount))
    listed = [
        {"reason": dd.get("data-reason"), "amount": _amount(_text(dd, "."))}
        for dd in tree.xpath("//dl[@id='by-reason']/dd")
    ]
    return rows_checked(rows, listed)


def _statement(statement: dict[str, Any]) -> Figures:
    rows = [
        (r["line_no"], r["eligible"], r["deduction_reason"] or None, r["deduction_amount"])
        for r in statement["lines"]
    ]
    return rows_checked(rows, statement["order"]["deductions_by_reason"])


def _priced_reviewed_approved(client: TestClient, sessions: sessionmaker[Session]) -> str:
    """Deductions of three reasons: above the tariff, not in it, and an auditor's cut."""
    centre, token = f.make_centre(sessions)
    auditor = auth(f.make_staff_token(sessions))
    lines = [
        f.line("970000", 1, 800_000),
        f.line("999999", 1, 50_000),
        f.line("800010", 2, 300_000),
    ]
    document_id = submit_priced(client, sessions, token, centre.code, ALWAYS_REVIEW, lines=lines)
    url = f"/v1/documents/{document_id}"
    cut = {"action": "reduce", "quantity": 1, "reason": "review-quantity-not-justified"}
    assert client.post(f"{url}/lines/3/review", json=cut, headers=auditor).status_code == 200
    decided = client.post(f"{url}/decision", json={"decision": "approve"}, headers=auditor)
    assert decided.json()["status"] == "APPROVED", decided.text
    return document_id


def test_every_reader_shows_the_figures_of_one_view(
    app_client: TestClient, database_url: str
) -> None:
    client, sessions = app_client, session_factory(engine_for(database_url))
    document_id = _priced_reviewed_approved(client, sessions)
    finance = auth(f.make_staff_token(sessions, Role.FINANCE))
    closed = client.post("/v1/settlements", json={"period": "2026-11"}, headers=finance)
    assert closed.status_code == 201, closed.text
    (order,) = closed.json()["orders"]
    with sessions() as session:
        view = document_view(session, uuid.UUID(document_id), None)
    assert view is not None
    assert view.totals is not None
    expected: Figures = (
        {
            line.line_no: (c.eligible, tuple(sorted((d.reason, d.amount) for d in c.deductions)))
            for line, c in view.priced_lines()
        },
        {r.reason: r.amount for r in view.deductions_by_reason},
    )
    assert len(expected[1]) == 3  # above-tariff, not-in-tariff, the auditor's reason
    staff = auth(f.make_staff_token(sessions))
    document = client.get(f"/v1/documents/{document_id}", headers=staff).json()
    advice = client.get(f"/v1/documents/{document_id}/remittance", headers=staff).json()
    claim = client.get(f"/fhir/ClaimResponse/{document_id}", headers=staff).json()
    eob = client.get(f"/fhir/ExplanationOfBenefit/{document_id}", headers=staff).json()
    statement = client.get(f"/v1/settlements/{order['id']}", headers=finance).json()
    assert log_in(client, make_user(sessions, Role.AUDITOR)).status_code == 303
    page = client.get(f"/web/documents/{document_id}", headers={"Accept-Language": "en"}).text
    seen = {
        "api": _api(document),
        "remittance": _api(advice),
        "workspace": _workspace(page),
        "claim response": _fhir(claim, "itemSequence"),
        "explanation of benefit": _fhir(eob, "sequence"),
        "statement": _statement(statement),
    }
    assert seen == dict.fromkeys(seen, expected)
    deducted = view.totals.deducted
    assert deducted == sum(expected[1].values())
    assert document["totals"]["deducted"] == document["totals"]["deductions"] == deducted
    assert advice["totals"]["deducted"] == order["totals"]["deducted"] == deducted
    (listed,) = client.get("/v1/documents", headers=staff).json()["items"]
    assert listed["deducted"] == listed["deductions"] == deducted
    (listed,) = client.get("/v1/documents", headers=staff).json()["items"]
    assert listed["deducted"] == listed["deductions"] == deducted
    tree = html.fromstring(page)
    assert _amount(_text(tree, "//dd[@id='total-deducted']")) == deducted


def _statements(engine: Any) -> list[str]:
    caught: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda *args: caught.append(args[2]))
    return caught


def _count(engine: Any, sessions: sessionmaker[Session], read: Any) -> int:
    """How many statements ``read(session)`` sends, in a session of its own."""
    caught: list[str] = []

    def catch(*args: Any) -> None:
        caught.append(args[2])

    with sessions() as session:
        event.listen(engine, "before_cursor_execute", catch)
        try:
            read(session)
        finally:
            event.remove(engine, "before_cursor_execute", catch)
    return len(caught)


def test_a_view_reads_as_many_statements_for_thirty_lines_as_for_one(
    app_client: TestClient, database_url: str
) -> None:
    """Nothing is read per line or per document: one line or thirty, one document or
    three, the same statements."""
    engine = engine_for(database_url)
    sessions = session_factory(engine)
    small, small_token = f.make_centre(sessions)
    large, large_token = f.make_centre(sessions)
    one = submit_priced(app_client, sessions, small_token, small.code, ALWAYS_REVIEW)
    lines = [f.line("970000", 1, 800_000 + n) for n in range(30)]
    thirty = [
        submit_priced(app_client, sessions, large_token, large.code, ALWAYS_REVIEW, lines=lines)
        for _ in range(3)
    ]
    with sessions() as session:
        views = views_where(session, Document.centre_id == large.id)
    assert [len(v.lines) for v in views] == [30, 30, 30]
    assert all(v.totals is not None and len(v.history) >= 3 for v in views)

    def view_of(document_id: str) -> Any:
        return lambda s: document_view(s, uuid.UUID(document_id), None)

    def centre(centre_id: int) -> Any:
        return lambda s: views_where(s, Document.centre_id == centre_id)

    assert _count(engine, sessions, view_of(one)) == _count(engine, sessions, view_of(thirty[0]))
    assert _count(engine, sessions, centre(small.id)) == _count(engine, sessions, centre(large.id))


def test_the_old_names_of_the_deducted_figure_are_deprecated(app_client: TestClient) -> None:
    schemas = app_client.get("/openapi.json").json()["components"]["schemas"]
    for name in ("TotalsOut", "DocumentListItem"):
        fields = schemas[name]["properties"]
        assert fields["deductions"].get("deprecated") is True, name
        assert "deprecated" not in fields["deducted"], name
