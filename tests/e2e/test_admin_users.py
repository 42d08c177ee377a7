"""An administrator's Users page in a real browser, in English and in Persian: disabling
an account (which then cannot log in), enabling it again, resetting its password after the
page that asks for it, and a refusal of the service told in the page's language. Each page
fits 1,366 px; screenshots go to tests/e2e/screenshots/."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.web import messages
from tests.e2e.conftest import Workspace
from tests.e2e.test_workbench import PASSWORD, WIDTH, add_user, fits, open_page

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("integration")]
NEW_PASSWORD = "another long enough password"


def logs_in(browser: Any, workspace: Workspace, username: str, password: str) -> bool:
    """Whether the account gets past the login page with this password."""
    context = browser.new_context(viewport={"width": WIDTH, "height": 900})
    try:
        page = context.new_page()
        page.goto(f"{workspace.url}/web/login")
        page.fill("input[name=username]", username)
        page.fill("input[name=password]", password)
        page.click("button[type=submit].primary")
        page.wait_for_load_state()
        return not page.url.split("?")[0].endswith("/web/login")
    finally:
        context.close()


@pytest.mark.parametrize("lang", ["en", "fa"])
def test_an_admin_disables_enables_and_resets_a_password(
    workspace: Workspace, browser: Any, lang: str
) -> None:
    me = add_user(workspace, "admin")
    victim = add_user(workspace, "auditor")
    context, page = open_page(browser, workspace, lang, me)
    row = f"#user-{victim}"
    try:
        page.goto(f"{workspace.url}/web/users")
        assert page.locator(f"#user-{me} form").count() == 0  # no button to disable oneself
        fits(page, f"users-{lang}")

        page.click(f"{row} button[type=submit]")  # disable
        page.wait_for_url("**done=disabled*")
        assert messages.text(lang, "admin.disabled") in page.inner_text(row)
        assert page.inner_text(".notice") == messages.text(lang, "done.user_disabled")
        fits(page, f"users-disabled-{lang}")
        assert not logs_in(browser, workspace, victim, PASSWORD)

        page.click(f"{row} button[type=submit]")  # enable
        page.wait_for_url("**done=enabled*")
        assert messages.text(lang, "admin.active") in page.inner_text(row)
        assert logs_in(browser, workspace, victim, PASSWORD)

        page.click(f"{row} a[href$='/password']")
        page.wait_for_url(f"**/web/users/{victim}/password")
        fits(page, f"user-password-{lang}")
        page.fill("#reset-password input[name=password]", NEW_PASSWORD)
        page.fill("#reset-password input[name=repeat]", NEW_PASSWORD + "!")
        page.click("#reset-password button[type=submit]")
        assert page.inner_text("#error") == messages.text(lang, "admin.password_mismatch")
        page.fill("#reset-password input[name=password]", NEW_PASSWORD)
        page.fill("#reset-password input[name=repeat]", NEW_PASSWORD)
        page.click("#reset-password button[type=submit]")
        page.wait_for_url("**done=password*")
        assert not logs_in(browser, workspace, victim, PASSWORD)
        assert logs_in(browser, workspace, victim, NEW_PASSWORD)

        # The page offers no way to disable oneself; a stale or forged form that asks is
        # refused by the service, and the refusal is told in the page's language.
        page.eval_on_selector(f"{row} form", "(form, url) => { form.action = url; }",
                              f"/web/users/{me}/disable")  # fmt: skip
        page.click(f"{row} button[type=submit]")
        page.wait_for_load_state()
        said = page.inner_text("#refusal")
        assert said == messages.text(lang, "refusal.admin.self-disable")
        assert "administrator cannot" not in page.content() or lang == "en"
        fits(page, f"users-refused-{lang}")
    finally:
        context.close()
    assert logs_in(browser, workspace, me, PASSWORD)  # the refusal changed nothing
