"""The auditor's workbench in a real browser, in English and in Persian: find and sort in
the queue, claim, review a line in place (no page load), the keyboard, a bulk approval
with its confirmation; every page fits 1,366 px without scrolling sideways. Screenshots
of each page go to tests/e2e/screenshots/ (kept out of git)."""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests import factories as f
from tests import services
from tests.e2e.conftest import Workspace

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("integration")]
PASSWORD = "a long enough password"
SHOTS = Path(__file__).parent / "screenshots"
WIDTH = 1366


def rials(text: str) -> int:
    digits = text.strip().translate(str.maketrans("۰۱۲۳۴۵۶۷۸۹", "0123456789", ",٬"))
    return int(digits)


def centre_with_documents(workspace: Workspace, count: int) -> tuple[str, list[dict[str, Any]]]:
    """A centre (made through the CLI) whose ``count`` visits wait UNDER_REVIEW."""
    code = f"W{uuid.uuid4().hex[:8].upper()}"
    token = workspace.gateway("centre", "add", code, "--name", "Workbench clinic")
    token = token.strip().splitlines()[-1]
    prefix = f"WB{uuid.uuid4().hex[:5].upper()}"
    visits = [
        f.outpatient_visit(
            [f.line("970000", 1, 700_000 + 10_000 * i), f.line("800010", 2, 300_000)],
            number=f"{prefix}-{i}",
        )
        for i in range(1, count + 1)
    ]
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    with httpx.Client(base_url=workspace.url, headers=headers, timeout=30) as client:
        answer = client.post("/v1/submissions", content=f.as_json(f.submission(code, *visits)))
        assert answer.status_code == 202, answer.text
        documents = answer.json()["documents"]
        deadline = time.monotonic() + services.WAIT_S
        waiting = {d["url"] for d in documents}
        while waiting and time.monotonic() < deadline:
            waiting = {u for u in waiting if client.get(u).json()["status"] != "UNDER_REVIEW"}
            time.sleep(0.3)
    assert not waiting, workspace.logs()
    return code, documents


def add_user(workspace: Workspace, role: str) -> str:
    username = f"{role}-{uuid.uuid4().hex[:6]}"
    workspace.gateway(
        "user", "add", username, "--role", role, "--name", f"{role.title()} {username[-4:]}",
        "--password-stdin", stdin=PASSWORD + "\n",
    )  # fmt: skip
    return username


def open_page(browser: Any, workspace: Workspace, lang: str, username: str) -> tuple[Any, Any]:
    locale = "fa-IR" if lang == "fa" else "en-US"
    context = browser.new_context(locale=locale, viewport={"width": WIDTH, "height": 900})
    context.set_default_timeout(services.WAIT_S * 1000)
    page = context.new_page()
    page.goto(f"{workspace.url}/web/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit].primary")
    page.wait_for_url("**/web/")
    assert page.get_attribute("html", "lang") == lang
    return context, page


# Every element inside main that is wider inside than its box: one that scrolls sideways
# (overflow auto or scroll), or a table or panel whose content spills out of it.
SCROLLING_INSIDE = """() => [...document.querySelectorAll("main *")].filter((el) => {
  if (el.scrollWidth <= el.clientWidth + 1 || el.clientWidth === 0) return false;
  const overflow = getComputedStyle(el).overflowX;
  return overflow === "auto" || overflow === "scroll"
    || el.matches("table, .panel, section, form, .two");
}).map((el) => `${el.tagName.toLowerCase()}#${el.id}.${[...el.classList].join(".")}`
  + ` ${el.scrollWidth}>${el.clientWidth}`)"""


def fits(page: Any, name: str) -> None:
    """The page does not scroll sideways at 1,366 px, nor anything inside its main part
    (a table scrolling in its panel hides its last columns); its screenshot is kept."""
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)
    wide = page.evaluate(
        "[document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )
    assert wide[0] <= wide[1], f"{name} scrolls sideways: {wide}"
    inside = page.evaluate(SCROLLING_INSIDE)
    assert inside == [], f"{name}: these scroll sideways inside the page: {inside}"


@pytest.mark.parametrize("lang", ["en", "fa"])
def test_find_claim_review_in_place_and_approve_in_bulk(
    workspace: Workspace, browser: Any, lang: str
) -> None:
    code, _documents = centre_with_documents(workspace, 3)
    context, page = open_page(browser, workspace, lang, add_user(workspace, "auditor"))
    try:
        # Find: the centre typed in lower case, sorted by amount, largest first.
        page.goto(f"{workspace.url}/web/queue")
        page.fill("#filters input[name=centre]", code.lower())
        page.click("#filters button[type=submit]")
        page.wait_for_url("**/web/queue?*")
        assert page.locator("#queue tbody tr").count() == 3
        page.click("#queue th a[data-sort=amount]")
        page.click("#queue th a[data-sort=amount]")  # again: descending
        page.wait_for_url("**dir=desc*")
        numbers = page.locator("#queue .doc-link").all_inner_texts()
        assert [n.rsplit("-", 1)[1] for n in numbers] == ["3", "2", "1"]
        fits(page, f"queue-{lang}")
        # Search by the document number's start.
        page.fill("#filters input[name=number]", numbers[0])
        page.click("#filters button[type=submit]")
        page.wait_for_url("**number=*")
        assert page.locator("#queue .doc-link").all_inner_texts() == [numbers[0]]

        # Claim it: it shows as the user's.
        page.check("#queue input[name=id]")
        page.click("#selection button[value=claim]")
        page.wait_for_url("**claimed=1*")
        assert page.locator("#queue .mine").count() == 1

        # Review a line in place: the page is not loaded again.
        page.click("#queue .doc-link")
        page.wait_for_url("**/web/documents/*")
        page.evaluate("window.stillHere = true")
        before = rials(page.inner_text("#total-eligible"))
        form = page.locator("#review-line-2")
        form.locator("select[name=action]").select_option("reduce")
        form.locator("select[name=reason]").select_option("review-quantity-not-justified")
        form.locator("input[name=quantity]").fill("1")
        form.locator("button[type=submit]").click()
        page.locator("#document .notice").wait_for()  # the saved review's notice, swapped in
        assert page.evaluate("window.stillHere === true")  # swapped by htmx, no reload
        assert rials(page.inner_text("#total-eligible")) == before - 300_000
        assert page.locator("#reviews-panel tbody tr").count() == 1
        fits(page, f"document-{lang}")

        # The keyboard: j to the first line, a to Approve, Enter approves.
        page.keyboard.press("j")
        assert page.locator("tbody.line-group.current").get_attribute("id") == "line-1"
        page.keyboard.press("Escape")
        page.locator("body").click(position={"x": 5, "y": 5})
        page.keyboard.press("a")
        page.keyboard.press("Enter")
        page.wait_for_url("**done=approve*")
        assert page.locator("#status").get_attribute("data-status") == "APPROVED"

        # The other two in bulk, after a confirmation with the count and the total.
        page.goto(f"{workspace.url}/web/queue?centre={code}&sort=number")
        for box in page.locator("#queue input[name=id]").all():
            box.check()
        page.click("#bulk-approve")
        page.wait_for_url("**/web/queue/selected")
        summary = page.inner_text("#confirm-summary")
        assert ("2" if lang == "en" else "۲") in summary
        assert rials(page.inner_text("#confirm-total")) == 2 * 600_000 + 710_000 + 720_000
        fits(page, f"bulk-confirm-{lang}")
        page.click("#confirm-button")
        page.wait_for_url("**/web/queue/decide")
        assert page.locator("#bulk-results tr.ok").count() == 2
        fits(page, f"bulk-result-{lang}")
    finally:
        context.close()


@pytest.mark.parametrize("lang", ["en", "fa"])
def test_no_page_scrolls_sideways(workspace: Workspace, browser: Any, lang: str) -> None:
    _, documents = centre_with_documents(workspace, 1)
    context, page = open_page(browser, workspace, lang, add_user(workspace, "admin"))
    try:
        for name, path in (
            ("dashboard", "/web/"),
            ("queue-all", "/web/queue?status=&size=100"),
            ("document-admin", f"/web/documents/{documents[0]['id']}"),
            ("settlements", "/web/settlements"),
            ("users", "/web/users"),
            ("tokens", "/web/tokens"),
            ("centres", "/web/centres"),
        ):
            page.goto(workspace.url + path)
            assert page.locator("main").count() == 1, path
            fits(page, f"{name}-{lang}")
    finally:
        context.close()


def test_settlement_asks_before_closing_and_paying(workspace: Workspace, browser: Any) -> None:
    """Last in the module: closing November gathers what the tests before approved."""
    code, documents = centre_with_documents(workspace, 1)
    context, page = open_page(browser, workspace, "fa", add_user(workspace, "admin"))
    try:
        page.goto(f"{workspace.url}/web/documents/{documents[0]['id']}")
        page.click("#decision button[value=approve]")
        page.wait_for_url("**done=approve*")
        page.goto(f"{workspace.url}/web/settlements")
        page.fill("#close-period input[name=period]", "2026-11")
        page.click("#close-period button[type=submit]")
        page.wait_for_url("**/web/settlements/close")
        assert code in page.inner_text("#due")  # what closing will order, before it does
        fits(page, "settlement-close-confirm-fa")
        page.click("#confirm-close")
        page.wait_for_url("**done=closed*")
        page.goto(f"{workspace.url}/web/settlements?period=2026-11&centre={code}")
        assert page.locator("#orders-total").count() == 1
        fits(page, "settlements-orders-fa")

        page.click("a[hreflang=en]")
        page.wait_for_url("**/web/settlements?*")
        order = page.locator("#orders tbody tr[id^=order-]:not([id$=actions])").first
        order_id = order.get_attribute("id")
        actions = page.locator(f"#{order_id}-actions")
        actions.locator("input[name=reference]").fill("PAY-E2E-1")
        actions.locator("button[type=submit]").click()
        page.wait_for_url("**/paid")
        assert page.inner_text("#paid-reference") == "PAY-E2E-1"
        fits(page, "settlement-paid-confirm-en")
        page.click("#confirm-paid")
        page.wait_for_url("**done=paid*")
        assert "PAY-E2E-1" in page.inner_text("#orders")
        fits(page, "settlements-paid-en")
        page.click("a[hreflang=fa]")  # the same orders in Persian, this one paid
        page.wait_for_url("**/web/settlements?*")
        assert "PAY-E2E-1" in page.inner_text("#orders")
        assert page.locator(f"#{order_id}-actions form").count() == 0
        fits(page, "settlements-paid-fa")
    finally:
        context.close()
