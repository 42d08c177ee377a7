"""A batch file's specialist visits are checked and use their referrals' visits like a
submission's; self-referral and emergency flags are kept for pricing."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from gateway.settings import Settings
from gateway.storage.models import Document, Referral
from tests import factories as f
from tests.batches.test_batches import acknowledgement, process, settings, upload
from tests.referrals.helpers import issue, programme, specialist_visit

__all__ = ["settings"]  # the fixture the tests use (small chunks)


@pytest.mark.parametrize("fmt", ["xml", "json"])
def test_a_batch_uses_referral_visits_once(
    client: TestClient, sessions, settings: Settings, tmp_path: Path, fmt: str
) -> None:
    p = programme(sessions, tmp_path)
    code = issue(client, p)["code"]
    data = f.submission(
        p.specialist_centre,
        specialist_visit(p, code),
        specialist_visit(p, code),
        specialist_visit(p, None, attributes={"selfReferred": True}),
        specialist_visit(p, "12345678901234"),
    )
    body = f.as_xml(data) if fmt == "xml" else f.as_json(data)
    answer = upload(client, p.specialist_token, body, fmt)
    assert answer.status_code == 202, answer.text
    batch_id = answer.json()["id"]
    process(sessions, settings, batch_id)
    documents = acknowledgement(client, p.specialist_token, batch_id)
    got = [
        (d["outcome"], {p["code"] for p in d.get("problems", []) if p["code"].startswith("ref")})
        for d in documents
    ]
    assert got == [
        ("ACCEPTED", set()),
        ("REJECTED", {"referral.used-up"}),
        ("ACCEPTED_WITH_WARNINGS", set()),  # the same service as the first, same patient
        ("REJECTED", {"referral.unknown"}),
    ]
    with sessions() as session:
        assert session.scalar(select(Referral.visits_used).where(Referral.code == code)) == 1
        number = data["documents"][2]["outpatientVisit"]["documentNumber"]
        stored = session.scalars(select(Document).where(Document.external_id == number)).one()
        assert stored.self_referred
