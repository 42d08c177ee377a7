"""The workspace shows each payer's share per line, the fund's line of a payment order,
and donors' reports that add up, naming no patient."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from gateway.domain.centres import Role
from gateway.domain.payers import EarmarkKind
from tests import factories as f
from tests.payers.support import add_policy, give, priced_visit, programme_with_patients
from tests.review.test_lifecycle_api import NEVER_REVIEW
from tests.web.conftest import csrf_of, log_in, make_user, web, web_settings  # noqa: F401


@pytest.fixture
def as_role(web: TestClient, sessions) -> Callable[[Role], TestClient]:  # type: ignore[no-untyped-def]  # noqa: F811
    def logged(role: Role) -> TestClient:
        assert log_in(web, make_user(sessions, role)).status_code == 303
        return web

    return logged


def test_the_document_page_shows_the_split(client: TestClient, sessions, as_role) -> None:  # type: ignore[no-untyped-def]
    centre, token = f.make_centre(sessions)
    patient = f.new_national_id()
    add_policy(sessions, patient, "ALBORZ-SUP", copay="0.5")
    document_id = priced_visit(client, sessions, token, centre.code, patient, NEVER_REVIEW)
    page = as_role(Role.AUDITOR).get(
        f"/web/documents/{document_id}", headers={"Accept-Language": "en"}
    )
    assert page.status_code == 200, page.text
    assert 'id="payers-1"' in page.text
    assert "ALBORZ-SUP</bdi>: 97,500" in page.text
    assert 'id="payer-totals"' in page.text


def test_a_donors_page_adds_up_and_names_no_patient(client: TestClient, sessions, as_role) -> None:  # type: ignore[no-untyped-def]
    centre, token = f.make_centre(sessions)
    patient = f.new_national_id()
    programme_with_patients(sessions, patient)
    receipt = give(sessions, 200_000, earmark=(EarmarkKind.CENTRE, centre.code))
    priced_visit(client, sessions, token, centre.code, patient, NEVER_REVIEW)
    finance = as_role(Role.FINANCE)
    listing = finance.get("/web/donations", headers={"Accept-Language": "en"})
    assert listing.status_code == 200
    assert f"/web/donations/{receipt}" in listing.text
    report = finance.get(f"/web/donations/{receipt}", headers={"Accept-Language": "en"})
    assert report.status_code == 200, report.text
    assert '<th class="num" id="total">200,000</th>' in report.text
    assert '<span id="given">200,000</span>' in report.text
    assert patient not in report.text
    persian = finance.get(f"/web/donations/{receipt}", headers={"Accept-Language": "fa"})
    assert "گزارش مصرف کمک" in persian.text
    missing = finance.get("/web/donations/CF-2000-0000000")
    assert missing.status_code == 404
