"""Two worklists in a real browser, in English and in Persian: a batch uploaded by a
centre seen on the batches page until finished, opened, and one of its documents
followed; a closed month's payment order opened as its printable statement, whose totals
row equals the order's amounts. Each page fits 1,366 px (screenshots in
tests/e2e/screenshots/)."""

from __future__ import annotations

import time
import uuid
from typing import Any

import httpx
import pytest

from tests import factories as f
from tests import services
from tests.e2e.conftest import Workspace
from tests.e2e.test_workbench import SHOTS, add_user, fits, open_page, rials

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("integration")]
# This module's own workspace: October is closed here once, by the first test that needs
# its order, and every test after reads that order.
PERIOD = "2026-10"


def new_centre(workspace: Workspace) -> tuple[str, str]:
    code = f"B{uuid.uuid4().hex[:8].upper()}"
    token = workspace.gateway("centre", "add", code, "--name", "Batch clinic")
    return code, token.strip().splitlines()[-1]


def finished_batch(workspace: Workspace) -> tuple[str, str]:
    """A centre's batch of three visits (one with an invalid national ID), uploaded through
    the API and followed until every stored document is priced."""
    code, token = new_centre(workspace)
    prefix = f"BT{uuid.uuid4().hex[:5].upper()}"
    visits = [f.outpatient_visit(number=f"{prefix}-{i}") for i in (1, 2, 3)]
    patient = visits[1]["outpatientVisit"]["patient"]
    patient["nationalId"] = patient["nationalId"][:9] + str(
        (int(patient["nationalId"][9]) + 1) % 10
    )
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    with httpx.Client(base_url=workspace.url, headers=headers, timeout=30) as client:
        answer = client.post("/v1/batches", content=f.as_json(f.submission(code, *visits)))
        assert answer.status_code == 202, answer.text
        url = answer.json()["url"]
        deadline = time.monotonic() + services.WAIT_S
        batch = answer.json()
        while time.monotonic() < deadline:
            batch = client.get(url).json()
            if batch["status"] in ("done", "failed") and batch["priced"] == batch["accepted"]:
                break
            time.sleep(0.3)
    assert (batch["status"], batch["accepted"], batch["rejected"]) == ("done", 2, 1), (
        f"{batch}\n{workspace.logs()}"
    )
    return code, batch["id"]


@pytest.mark.parametrize("lang", ["en", "fa"])
def test_a_batch_from_upload_to_its_documents(
    workspace: Workspace, browser: Any, lang: str
) -> None:
    code, batch_id = finished_batch(workspace)
    context, page = open_page(browser, workspace, lang, add_user(workspace, "auditor"))
    try:
        page.click("#nav-batches")
        page.wait_for_url("**/web/batches")
        page.fill("#batch-filters input[name=centre]", code.lower())
        page.click("#batch-filters button[type=submit]")
        page.wait_for_url("**/web/batches?*")
        row = page.locator(f"#batch-{batch_id}")
        assert page.locator("#batches tbody tr").count() == 1
        progress = row.locator(".progress")
        assert progress.get_attribute("data-finished") == "yes"
        assert row.locator("progress").get_attribute("value") == "100"
        assert ("100%" if lang == "en" else "۱۰۰٪") in progress.inner_text()
        fits(page, f"batches-{lang}")

        row.locator(".batch-link").click()
        page.wait_for_url(f"**/web/batches/{batch_id}")
        assert page.locator("#batch-status").get_attribute("data-status") == "done"
        assert rials(page.inner_text("#figure-read")) == 3
        assert rials(page.inner_text("#figure-rejected")) == 1
        assert page.locator("#batch-documents tbody tr").count() == 3
        assert "patient.national-id-checksum" in page.inner_text("#batch-documents")
        fits(page, f"batch-{lang}")

        first = page.locator("#batch-documents .doc-link").first
        number = first.inner_text()
        first.click()
        page.wait_for_url("**/web/documents/*")
        assert number in page.inner_text("main")
    finally:
        context.close()


@pytest.fixture(scope="module")
def october_order(workspace: Workspace, browser: Any) -> dict[str, Any]:
    """The payment order of a centre whose two October documents were approved, October
    closed through the pages; as the API gives it to the centre."""
    code, token = new_centre(workspace)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    prefix = f"ST{uuid.uuid4().hex[:5].upper()}"
    visits = [
        f.outpatient_visit(
            [f.line("970000", 1, 700_000 + 10_000 * i), f.line("800010", 2, 300_000)],
            number=f"{prefix}-{i}", service_date=f"{PERIOD}-{10 + i}",
        )
        for i in (1, 2)
    ]  # fmt: skip
    with httpx.Client(base_url=workspace.url, headers=headers, timeout=30) as client:
        answer = client.post("/v1/submissions", content=f.as_json(f.submission(code, *visits)))
        assert answer.status_code == 202, answer.text
        urls = {d["url"] for d in answer.json()["documents"]}
        ids = [d["id"] for d in answer.json()["documents"]]
        deadline = time.monotonic() + services.WAIT_S
        while urls and time.monotonic() < deadline:
            urls = {u for u in urls if client.get(u).json()["status"] != "UNDER_REVIEW"}
            time.sleep(0.3)
        assert not urls, workspace.logs()
    context, page = open_page(browser, workspace, "en", add_user(workspace, "admin"))
    try:
        for n, document_id in enumerate(ids):
            page.goto(f"{workspace.url}/web/documents/{document_id}")
            if n == 0:  # one line reduced: the statement shows a deduction and its reason
                form = page.locator("#review-line-2")
                form.locator("select[name=action]").select_option("reduce")
                form.locator("select[name=reason]").select_option("review-quantity-not-justified")
                form.locator("input[name=quantity]").fill("1")
                form.locator("button[type=submit]").click()
                page.locator("#document .notice").wait_for()
            page.click("#decision button[value=approve]")
            page.wait_for_url("**done=approve*")
        page.goto(f"{workspace.url}/web/settlements")
        page.fill("#close-period input[name=period]", PERIOD)
        page.click("#close-period button[type=submit]")
        page.wait_for_url("**/web/settlements/close")
        page.click("#confirm-close")
        page.wait_for_url("**done=closed*")
    finally:
        context.close()
    with httpx.Client(base_url=workspace.url, headers=headers, timeout=30) as client:
        (order,) = client.get("/v1/settlements", params={"period": PERIOD}).json()
    assert (order["documents"], order["totals"]["deducted"]) == (2, 300_000)
    return {**order, "code": code}


@pytest.mark.parametrize("lang", ["en", "fa"])
def test_a_statement_page_adds_up_to_its_order_and_prints(
    workspace: Workspace, browser: Any, october_order: dict[str, Any], lang: str
) -> None:
    order = october_order
    context, page = open_page(browser, workspace, lang, add_user(workspace, "admin"))
    try:
        page.goto(f"{workspace.url}/web/settlements?period={PERIOD}&centre={order['code']}")
        page.click(f"#order-{order['id']}-actions .statement-link")
        page.wait_for_url(f"**/web/settlements/{order['id']}/statement")
        total = page.locator("#statement-total")
        shown = {
            name: rials(total.locator(f"[data-figure={name}]").inner_text())
            for name in ("requested", "deducted", "eligible", "copayment", "insurer", "fund")
        }
        totals = order["totals"]
        assert shown == {
            "requested": totals["requested"],
            "deducted": totals["deducted"],
            "eligible": totals["eligible"],
            "copayment": totals["copayment"],
            "insurer": totals["insurer_share"],
            "fund": order["fund_amount"],
        }
        assert page.locator("#statement-mismatch").count() == 0
        assert page.locator("#statement .doc-link").count() == 2
        reason = page.locator("#statement .deductions .reason").first.inner_text()
        assert reason.startswith("Quantity not justified" if lang == "en" else "تعداد")
        fits(page, f"statement-{lang}")

        page.emulate_media(media="print")
        assert not page.locator("header.top").is_visible()
        assert not page.locator("#print").is_visible()
        assert page.locator("#statement-total").is_visible()
        page.screenshot(path=str(SHOTS / f"statement-print-{lang}.png"), full_page=True)
        page.emulate_media(media="screen")

        page.locator("#statement .doc-link").first.click()
        page.wait_for_url("**/web/documents/*")
        assert page.locator("#status").get_attribute("data-status") == "PAYMENT_ORDERED"
    finally:
        context.close()
