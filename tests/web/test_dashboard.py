"""The dashboard's charts, drawn on the server as SVG, in both languages."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime

from fastapi.testclient import TestClient

from gateway.domain.centres import Role
from gateway.web import charts
from gateway.web import repository as web_repository
from tests.web.test_queue import centre_with, english

LoggedIn = Callable[[Role], TestClient]


def test_a_bar_is_scaled_and_marked() -> None:
    drawn = str(charts.bar(50, 200, mark=100))
    assert 'width="60"' in drawn  # a quarter of the 240 px
    assert 'x1="120"' in drawn  # the mark at half
    assert 'width="0"' in str(charts.bar(5, 0))
    columns = str(charts.columns([1, 3], ["2026-11-01", "<b>"]))
    assert columns.count("<rect") == 2
    assert "&lt;b&gt;" in columns


def test_the_dashboard_draws_its_charts(web: TestClient, sessions, logged_in: LoggedIn) -> None:
    code, _ = centre_with(web, sessions, 2)
    client = english(logged_in(Role.AUDITOR))
    page = client.get("/web/").text
    # The page's <title> is its name only, and each chart is drawn once.
    head = page.split("</head>")[0]
    (title,) = re.findall(r"<title>(.*?)</title>", head, flags=re.S)
    assert "<" not in title
    assert "Dashboard" in title
    for chart in ("per-day", "reasons", "backlog", "owed", "centres"):
        assert page.count(f'id="chart-{chart}"') == 1, chart
    for chart in ("per-day", "reasons", "backlog", "owed", "centres"):
        section = page.split(f'id="chart-{chart}"')[1].split("</div>")[0]
        assert "<svg" in section or "Nothing yet" in section, chart
    today = datetime.now(UTC).date().isoformat()
    assert f"<title>{today}</title>" in page  # today's column
    backlog = page.split('id="chart-backlog"')[1].split("</table>")[0]
    under_a_day = re.search(r"under 1 day</th><td>.*?</td><td class=\"num\">([\d,]+)<", backlog)
    assert under_a_day
    assert int(under_a_day.group(1).replace(",", "")) >= 2
    # The busiest centres of the whole (shared) database: this test's centre shows when it
    # is among them, and the chart lists them all, busiest first.
    with sessions() as session:
        busiest = [row.code for row in web_repository.centre_rates(session)]
    shown = re.findall(r'<th dir="ltr">([^<]+)</th>', page.split('id="chart-centres"')[1])
    assert shown[: len(busiest)] == busiest
    assert (code in shown) == (code in busiest)
    persian = client.get("/web/lang/fa?next=/web/").text
    assert "کمتر از ۱ روز" in persian
