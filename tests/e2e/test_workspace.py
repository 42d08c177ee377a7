"""An auditor in a real browser: log in, filter the queue, open a document, reduce a line,
approve it, and see the status and the totals change, against real server and worker
processes."""

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


def rials(text: str) -> int:
    return int(text.strip().replace(",", ""))


def submit_under_review(workspace: Workspace) -> tuple[str, str, str]:
    """A centre made through the CLI submits a visit; wait until it is UNDER_REVIEW."""
    code = f"E{uuid.uuid4().hex[:8].upper()}"
    token = (
        workspace.gateway("centre", "add", code, "--name", "E2E clinic").strip().splitlines()[-1]
    )
    visit = f.outpatient_visit([f.line("970000", 1, 700_000), f.line("800010", 2, 300_000)])
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    with httpx.Client(base_url=workspace.url, headers=headers, timeout=30) as client:
        answer = client.post("/v1/submissions", content=f.as_json(f.submission(code, visit)))
        assert answer.status_code == 202, answer.text
        (document,) = answer.json()["documents"]
        deadline = time.monotonic() + services.WAIT_S
        status = ""
        while time.monotonic() < deadline and status != "UNDER_REVIEW":
            status = client.get(document["url"]).json()["status"]
            time.sleep(0.3)
    assert status == "UNDER_REVIEW", workspace.logs()
    return code, document["id"], document["external_id"]


def test_an_auditor_reduces_a_line_and_approves(
    workspace: Workspace, browser: Any, tmp_path: Path
) -> None:
    code, document_id, number = submit_under_review(workspace)
    username = f"auditor-{uuid.uuid4().hex[:6]}"
    workspace.gateway(
        "user", "add", username, "--role", "auditor", "--name", "E2E Auditor",
        "--password-stdin", stdin=PASSWORD + "\n",
    )  # fmt: skip
    context = browser.new_context(locale="en-US", viewport={"width": 1366, "height": 900})
    context.set_default_timeout(services.WAIT_S * 1000)  # Playwright's 30 s, for a busy machine
    page = context.new_page()
    try:
        page.goto(f"{workspace.url}/web/queue")
        assert "/web/login" in page.url
        page.fill("input[name=username]", username)
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit].primary")
        page.wait_for_url("**/web/queue")

        page.fill("#filters input[name=centre]", code)
        page.select_option("#filters select[name=status]", "UNDER_REVIEW")
        page.click("#filters button[type=submit]")
        page.wait_for_url(f"**/web/queue?*centre={code}*")
        rows = page.locator("#queue tbody tr")
        assert rows.count() == 1
        assert number in rows.first.inner_text()

        rows.first.locator("a").first.click()
        page.wait_for_url(f"**/web/documents/{document_id}")
        assert page.locator("#status").get_attribute("data-status") == "UNDER_REVIEW"
        eligible_before = rials(page.inner_text("#total-eligible"))
        insurer_before = rials(page.inner_text("#total-insurer"))
        page.screenshot(path=str(tmp_path / "document-before.png"), full_page=True)

        # Line 2: CBC x2, eligible 600,000; the auditor pays one unit.
        line = page.locator("#line-2")
        assert rials(line.locator(".line-eligible").inner_text()) == 600_000
        form = line.locator("form.review")
        form.locator("select[name=action]").select_option("reduce")
        form.locator("select[name=reason]").select_option("review-quantity-not-justified")
        form.locator("input[name=quantity]").fill("1")
        form.locator("input[name=note]").fill("one count is enough")
        form.locator("button[type=submit]").click()
        page.locator("#document .notice").wait_for()  # swapped in place by htmx
        assert "The line review was saved." in page.inner_text(".notice")
        assert rials(page.inner_text("#line-2 .line-eligible")) == 300_000
        assert rials(page.inner_text("#total-eligible")) == eligible_before - 300_000
        assert rials(page.inner_text("#total-insurer")) < insurer_before
        assert "review-quantity-not-justified" in page.inner_text("#line-2 .deductions")

        page.click("#decision button[value=approve]")
        page.wait_for_url("**done=approve*")
        assert page.locator("#status").get_attribute("data-status") == "APPROVED"
        assert page.inner_text("#status") == "Approved"
        assert rials(page.inner_text("#total-eligible")) == eligible_before - 300_000
        assert page.locator("form.review").count() == 0
        history = page.locator("#history").text_content() or ""
        assert "Under review" in history
        assert "Approved" in history
        assert "review.line" in page.locator("#audit").text_content()  # folded, still there
        page.screenshot(path=str(tmp_path / "document-approved.png"), full_page=True)

        page.click("a[hreflang=fa]")
        page.wait_for_url(f"**/web/documents/{document_id}?done=approve")
        assert page.get_attribute("html", "dir") == "rtl"
        assert page.inner_text("#status") == "تأییدشده"
        page.screenshot(path=str(tmp_path / "document-fa.png"), full_page=True)
    finally:
        context.close()
    with httpx.Client(base_url=workspace.url, timeout=30) as client:
        body = client.get(
            f"/v1/documents/{document_id}",
            headers={"Authorization": f"Bearer {staff_token(workspace)}"},
        ).json()
    assert body["status"] == "APPROVED"
    assert body["totals"]["eligible"] == eligible_before - 300_000


def staff_token(workspace: Workspace) -> str:
    return workspace.gateway("token", "add", "auditor").strip().splitlines()[-1]
