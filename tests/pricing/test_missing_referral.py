"""When pricing's `missing-referral` can occur (docs/pricing.md, question 5): the submission
check refuses a document without the referral that the book in force at receipt asks for,
so pricing meets the case only when a newer book, imported between receipt and pricing,
asks for a referral the older one did not."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from gateway.admin import service as admin
from gateway.app import create_app
from gateway.domain.centres import CentreKind, Role, Sector
from gateway.kit.db import engine_for, session_factory, transaction, upgrade
from gateway.settings import Settings
from gateway.storage.models import LineDeduction
from gateway.submissions import service as ingest
from tests import factories as f
from tests.submissions.test_submissions import JSON, POLICIES, auth, price_all


@pytest.fixture
def fresh(tmp_path: Path) -> Iterator[tuple[TestClient, sessionmaker[Session], str, str]]:
    """A database of its own (the test imports a tariff version, which every later pricing
    in a shared database would use), a centre in Tehran, where referrals are mandatory."""
    url = f"sqlite:///{tmp_path / 'gateway.sqlite'}"
    upgrade(url)
    sessions = session_factory(engine_for(url))
    f.seed_sample_tariff(sessions)
    with transaction(sessions) as session:
        centre = admin.add_centre(
            session=session,
            code="TEHRAN1",
            name="Tehran 1",
            kind=CentreKind.CONTRACTED,
            sector=Sector.PRIVATE,
            province="Tehran",
        )
        token = admin.add_token(session=session, role=Role.CENTRE, centre=centre)
    settings = Settings(
        database_url=url,
        broker_url=f"sqla+sqlite:///{tmp_path / 'broker.sqlite'}",
        clock_date=f.TODAY,
        batch_spool_dir=tmp_path / "spool",
    )
    with TestClient(create_app(settings, relay=False)) as client:
        yield client, sessions, "TEHRAN1", token
    engine_for(url).dispose()


def book_asking_referral_for(code: str, into: Path) -> Path:
    """The sample book, but with ``code`` needing a referral."""
    shutil.copytree(admin.SAMPLE_TARIFF_DIR, into)
    services = into / "services.csv"
    rows = services.read_text().splitlines()
    for n, row in enumerate(rows):
        cells = row.split(",")
        if cells[0] == code:
            cells[9] = "true"  # referral_required
            rows[n] = ",".join(cells)
    services.write_text("\n".join(rows) + "\n")
    return into


def submit(client: TestClient, token: str, centre: str) -> dict[str, object]:
    visit = f.outpatient_visit([f.line("800010", 1, 300_000)])
    response = client.post(
        "/v1/submissions",
        content=f.as_json(f.submission(centre, visit)),
        headers=auth(token, JSON),
    )
    assert response.status_code in (202, 422), response.text
    (summary,) = response.json()["documents"]
    return dict(summary)


def test_a_book_asking_a_referral_after_receipt_deducts_it(
    fresh: tuple[TestClient, sessionmaker[Session], str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The door asks for the newest book on every submission (it may otherwise keep the
    # one it read for a few seconds, which would only widen the window shown here).
    monkeypatch.setattr(ingest, "TARIFF_RECHECK_S", 0)
    client, sessions, centre, token = fresh
    accepted = submit(client, token, centre)  # CBC needs no referral in the sample book
    assert accepted["status"] == "ACCEPTED", accepted
    with transaction(sessions) as session:
        admin.import_tariff(
            session=session,
            directory=book_asking_referral_for("800010", tmp_path / "book"),
            label="CBC on referral",
        )
    price_all(sessions, [str(accepted["id"])], POLICIES)
    with sessions() as session:
        deductions = session.execute(
            select(LineDeduction.reason, LineDeduction.amount).where(
                LineDeduction.document_id == uuid.UUID(str(accepted["id"]))
            )
        ).all()
    assert [tuple(row) for row in deductions] == [("missing-referral", 300_000)]
    # The same document received now is refused at the door instead.
    refused = submit(client, token, centre)
    assert refused["status"] == "REJECTED"
    assert [e["code"] for e in refused["errors"]] == ["referral.missing"]  # type: ignore[attr-defined]
