"""The payers' commands: a programme, an enrolment, a receipted donation and its report."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from gateway.cli import app
from gateway.kit.db import upgrade
from gateway.settings import get_settings

runner = CliRunner()


@pytest.fixture
def fresh_db(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path / 'payers.sqlite'}"
    upgrade(url)
    monkeypatch.setenv("GATEWAY_DATABASE_URL", url)
    get_settings.cache_clear()
    yield url
    get_settings.cache_clear()


def test_programme_enrolment_donation_and_report(fresh_db: str) -> None:
    made = runner.invoke(
        app,
        ["payers", "programme-add", "NAT-HARD", "--name", "National hard-to-treat",
         "--ceiling", "50000000", "--group", "cancer", "--group", "dialysis"],
    )  # fmt: skip
    assert made.exit_code == 0, made.output
    enrolled = runner.invoke(
        app,
        ["payers", "enrol", "NAT-HARD", "0013542419", "--group", "dialysis",
         "--valid-from", "2026-01-01"],
    )  # fmt: skip
    assert enrolled.exit_code == 0, enrolled.output
    wrong = runner.invoke(
        app,
        ["payers", "enrol", "NAT-HARD", "0013542419", "--group", "autism",
         "--valid-from", "2026-01-01"],
    )  # fmt: skip
    assert wrong.exit_code == 1
    assert "payers.group-not-covered" in wrong.output
    gift = runner.invoke(
        app, ["payers", "donation-add", "Mrs B", "2500000", "--received-on", "2026-11-01"]
    )
    assert gift.exit_code == 0, gift.output
    receipt = gift.output.strip().splitlines()[-1]
    assert receipt == "CF-2026-0000001"
    report = runner.invoke(app, ["payers", "donor-report", receipt])
    assert report.exit_code == 0, report.output
    assert (
        report.output.splitlines()[0]
        == "month,centre,document_kind,line_kind,patients,services,amount"
    )
    assert "# given 0 of 2,500,000; holds 2,500,000" in report.output
