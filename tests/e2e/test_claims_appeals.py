"""Claims and appeals in a real browser, in English and in Persian: a document one auditor
holds is shown as theirs to another, who cannot decide it (a stale tab's decision is
refused) until the holder lets it go or an admin gives it on; a centre's appeal shows in
the queue and at the top of the document, and the auditor decides it. Screenshots go to
tests/e2e/screenshots/ (kept out of git)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.e2e.conftest import Workspace
from tests.e2e.test_workbench import add_user, centre_with_documents, fits, open_page

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("integration")]


def shown_name(username: str) -> str:
    """The display name ``add_user`` gives."""
    role = username.split("-", 1)[0]
    return f"{role.title()} {username[-4:]}"


def api(workspace: Workspace, token: str) -> httpx.Client:
    headers = {"Authorization": f"Bearer {token}"}
    return httpx.Client(base_url=workspace.url, headers=headers, timeout=30)


def new_token(workspace: Workspace, *args: str) -> str:
    return workspace.gateway("token", "add", *args).strip().splitlines()[-1]


@pytest.mark.parametrize("lang", ["en", "fa"])
def test_a_held_document_is_the_holders_until_let_go(
    workspace: Workspace, browser: Any, lang: str
) -> None:
    code, documents = centre_with_documents(workspace, 1)
    url = f"{workspace.url}/web/documents/{documents[0]['id']}"
    alice, bob = add_user(workspace, "auditor"), add_user(workspace, "auditor")
    contexts = []
    try:
        a_context, a_page = open_page(browser, workspace, lang, alice)
        b_context, b_page = open_page(browser, workspace, lang, bob)
        contexts += [a_context, b_context]
        # Bob opens the document while nobody holds it: the controls are there.
        b_page.goto(url)
        assert b_page.locator("#decision").count() == 1
        # Alice claims it: it shows as hers.
        a_page.goto(url)
        a_page.click("#claim button[value=claim]")
        a_page.locator("#holder .mine").wait_for()
        # Bob's tab is stale: his approval is refused, naming Alice, and the page he gets
        # back shows who holds it and no controls.
        b_page.click("#decision button[value=approve]")
        b_page.locator("#error").wait_for()
        assert shown_name(alice) in b_page.inner_text("#error")
        assert b_page.locator("#status").get_attribute("data-status") == "UNDER_REVIEW"
        assert shown_name(alice) in b_page.inner_text("#held")
        assert shown_name(alice) in b_page.inner_text("#holder")
        for control in ("#decision", "#review-line-1", "#ask-information", "#claim"):
            assert b_page.locator(control).count() == 0, control
        fits(b_page, f"document-held-{lang}")
        # The queue tells him who holds it.
        b_page.goto(f"{workspace.url}/web/queue?centre={code}")
        assert b_page.inner_text("#queue tbody tr .holder") == shown_name(alice)
        fits(b_page, f"queue-held-{lang}")

        if lang == "en":  # an admin gives it to Bob
            boss = add_user(workspace, "admin")
            boss_context, boss_page = open_page(browser, workspace, lang, boss)
            contexts.append(boss_context)
            boss_page.goto(url)
            assert shown_name(alice) in boss_page.inner_text("#held")
            assert boss_page.locator("#decision").count() == 1  # an admin may act over it
            boss_page.select_option("#assign select[name=to_user]", label=shown_name(bob))
            boss_page.click("#assign button[type=submit]")
            boss_page.wait_for_url("**/web/documents/*")
            assert shown_name(bob) in boss_page.inner_text("#holder")
        else:  # Alice lets it go
            a_page.click("#claim button[value=release]")
            a_page.locator("#claim button[value=claim]").wait_for()

        b_page.goto(url)
        assert b_page.locator("#held").count() == 0
        b_page.fill("#decision input[name=reason]", "checked")
        b_page.click("#decision button[value=approve]")
        b_page.wait_for_url("**done=approve*")
        assert b_page.locator("#status").get_attribute("data-status") == "APPROVED"
        fits(b_page, f"document-decided-after-claim-{lang}")
    finally:
        for context in contexts:
            context.close()


@pytest.mark.parametrize("lang", ["en", "fa"])
def test_an_appeal_is_seen_and_decided(workspace: Workspace, browser: Any, lang: str) -> None:
    code, documents = centre_with_documents(workspace, 1)
    document_id = documents[0]["id"]
    number = documents[0]["external_id"]
    reason = f"The second test was ordered by the specialist ({lang}); see the referral."
    with api(workspace, new_token(workspace, "auditor")) as staff:
        denied = staff.post(f"/v1/documents/{document_id}/decision",
                            json={"decision": "deny", "reason": "not documented"})  # fmt: skip
        assert denied.status_code == 200, denied.text
    with api(workspace, new_token(workspace, "centre", "--centre", code)) as centre:
        appealed = centre.post(f"/v1/documents/{document_id}/appeal",
                               json={"reason": reason, "lines": [2]})  # fmt: skip
        assert appealed.status_code == 200, appealed.text
        assert appealed.json()["status"] == "UNDER_REVIEW"
    context, page = open_page(browser, workspace, lang, add_user(workspace, "auditor"))
    try:
        # The appeals worklist: the document with its marker.
        page.goto(f"{workspace.url}/web/")
        page.click("#nav-appeals")
        page.wait_for_url("**appealed=1*")
        row = page.locator(f"#queue tbody tr[data-id='{document_id}']")
        assert row.locator(".marker.appealed").count() == 1
        fits(page, f"queue-appeals-{lang}")
        row.locator(".doc-link").click()
        page.wait_for_url(f"**/web/documents/{document_id}")
        assert number in page.inner_text("h1")
        # The appeal at the top, above the lines, with its reason and contested line.
        appeal = page.locator("#appeal")
        assert appeal.inner_text().count(reason) == 1
        top = page.evaluate(
            "[document.querySelector('#appeal').getBoundingClientRect().top,"
            " document.querySelector('#lines').getBoundingClientRect().top]"
        )
        assert top[0] < top[1]
        assert page.locator("#line-2 .marker.appealed").count() == 1  # the contested line
        assert page.locator("#line-1 .marker.appealed").count() == 0
        fits(page, f"document-appeal-{lang}")
        # Decide it: the line contested accepted, the document approved.
        form = page.locator("#review-line-2")
        form.locator("select[name=action]").select_option("accept")
        form.locator("button[type=submit]").click()
        page.locator("#document .notice").wait_for()
        page.fill("#decision input[name=reason]", "appeal upheld")
        page.click("#decision button[value=approve]")
        page.wait_for_url("**done=approve*")
        assert page.locator("#status").get_attribute("data-status") == "APPROVED"
        page.click("#history-panel summary")
        moves = [row.get_attribute("data-to") for row in page.locator("#history tbody tr").all()]
        assert moves[-4:] == ["DENIED", "APPEALED", "UNDER_REVIEW", "APPROVED"], moves
        history = page.locator("#history tbody tr")
        assert reason in history.nth(len(moves) - 3).inner_text()  # the appeal's own words
        returned = {
            "en": "The appeal returns it to review.",
            "fa": "اعتراض سند را به رسیدگی برگرداند.",
        }
        assert returned[lang] in history.nth(len(moves) - 2).inner_text()
        fits(page, f"document-appeal-decided-{lang}")
    finally:
        context.close()
