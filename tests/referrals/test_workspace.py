"""The referral programme's workspace page, in English and Persian, for every staff role."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from gateway.domain.centres import Role
from tests.referrals.helpers import issue, programme, specialist_visit, submit
from tests.web.conftest import logged_in, web, web_settings

__all__ = ["logged_in", "web", "web_settings"]  # the fixtures the tests use


@pytest.mark.parametrize("role", [Role.AUDITOR, Role.FINANCE, Role.ADMIN])
def test_the_programme_page(
    client: TestClient, sessions, tmp_path: Path, logged_in, role: Role
) -> None:
    p = programme(sessions, tmp_path)
    code = issue(client, p)["code"]
    submit(client, p, specialist_visit(p, code))
    submit(client, p, specialist_visit(p, None, attributes={"selfReferred": True}))
    browser = logged_in(role)
    browser.get("/web/lang/en?next=/web/referrals")
    page = browser.get("/web/referrals")
    assert page.status_code == 200, page.text
    assert "Referral programme" in page.text
    assert 'id="visits-Tehran-2"' in page.text
    assert "Owned and contracted centres" in page.text
    assert f'id="feedback-{p.specialist_centre}"' not in page.text  # not due yet
    browser.get("/web/lang/fa?next=/web/referrals")
    persian = browser.get("/web/referrals")
    assert "برنامهٔ ارجاع" in persian.text
    assert "سهم مراجعهٔ مستقیم" in persian.text


def test_the_page_needs_a_login(web: TestClient) -> None:
    answer = web.get("/web/referrals", follow_redirects=False)
    assert answer.status_code in (302, 303)
