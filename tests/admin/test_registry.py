"""Reference data: import from CSV, refusal of bad files, and offline validation that uses
the same files reporting exactly what the API reports."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from sqlalchemy import create_engine, func, select
from typer.testing import CliRunner

from gateway.admin.registry import SAMPLE_REGISTRY_DIR
from gateway.cli import app
from gateway.kit.db import upgrade
from gateway.settings import get_settings
from gateway.storage.models import Centre, InsuredCoverage
from tests import factories as f

runner = CliRunner()
TARIFF = Path(__file__).resolve().parents[2] / "schemas" / "tariff" / "sample"


@pytest.fixture
def fresh_db(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'registry.sqlite'}"
    upgrade(url)
    monkeypatch.setenv("GATEWAY_DATABASE_URL", url)
    get_settings.cache_clear()
    yield url
    get_settings.cache_clear()


def counts(url: str) -> tuple[int, int]:
    with create_engine(url).connect() as connection:
        people = connection.scalar(select(func.count()).select_from(InsuredCoverage))
        centres = connection.scalar(select(func.count()).select_from(Centre))
    return people or 0, centres or 0


def test_import_is_repeatable(fresh_db: str) -> None:
    first = runner.invoke(app, ["registry", "import", str(SAMPLE_REGISTRY_DIR)])
    assert first.exit_code == 0, first.stdout
    assert "insured person(s) and 4 centre(s)" in first.stdout
    before = counts(fresh_db)
    again = runner.invoke(app, ["registry", "import", str(SAMPLE_REGISTRY_DIR)])
    assert again.exit_code == 0
    assert counts(fresh_db) == before


BAD = [
    (
        "insured.csv",
        "national_id,insurance_number,valid_from,valid_to\n0013542418,12345678,2024-01-01,\n",
        "registry.invalid-value",
        "national_id",
    ),
    (
        "insured.csv",
        "national_id,insurance_number,valid_from,valid_to\n"
        "0013542419,12345678,2024-01-01,\n0013542419,12345678,2025-01-01,\n",
        "registry.overlapping-periods",
        "overlap",
    ),
    (
        "centres.csv",
        "code,name,kind,sector,province,contract_from,contract_to\n"
        "X-01,X,contracted,military,Tehran,,\n",
        "registry.invalid-value",
        "sector",
    ),
    (
        "centres.csv",
        "code,name,kind,sector,province,contract_from,contract_to\n"
        "X-01,X,contracted,private,Tehran,2026-01-01,2025-01-01\n",
        "registry.invalid-value",
        "contract_to",
    ),
    ("centres.csv", "code,name\nX-01,X\n", "registry.missing-column", "kind"),
]


@pytest.mark.parametrize(("name", "text", "code", "fragment"), BAD)
def test_bad_files_are_refused_whole(fresh_db: str, tmp_path: Path, name, text, code, fragment):
    folder = tmp_path / "bad"
    folder.mkdir()
    (folder / name).write_text(text)
    result = runner.invoke(app, ["registry", "import", str(folder)])
    assert result.exit_code == 1
    assert code in result.stderr
    assert fragment in result.stderr
    assert counts(fresh_db) == (0, 0)


def test_validate_with_reference_files_matches_the_api(client, sessions, tmp_path) -> None:
    from tests.app.test_cli import _demo_centre_token

    token = _demo_centre_token(sessions)
    stranger = f.outpatient_visit([f.line("970005", 1, 900_000), f.line("999999", 1, 5)])
    stranger["outpatientVisit"]["patient"]["nationalId"] = f.national_id(77_777)
    data = f.submission("DEMO-001", stranger)
    path = tmp_path / "claims.json"
    path.write_bytes(f.as_json(data))
    offline = runner.invoke(
        app,
        [
            "validate",
            "--format",
            "json",
            "--registry",
            str(SAMPLE_REGISTRY_DIR),
            "--tariff",
            str(TARIFF),
            str(path),
        ],
    )
    (report,) = orjson.loads(offline.stdout)
    answer = client.post(
        "/v1/submissions",
        content=path.read_bytes(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    ).json()
    (document,) = answer["documents"]
    from_api = document["errors"] + document["warnings"]
    key = lambda p: (p["code"], p["path"])  # noqa: E731
    assert sorted(map(key, report["problems"])) == sorted(map(key, from_api))
    assert {p["code"] for p in from_api} == {
        "patient.not-eligible",
        "referral.missing",
        "line.code-not-in-tariff",
    }
    assert offline.exit_code == 1


def test_validate_says_what_it_could_not_check(tmp_path: Path) -> None:
    path = tmp_path / "ok.json"
    path.write_bytes(f.as_json(f.submission("ANY-01")))
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 0
    assert "not checked: eligibility" in result.stderr


def test_validate_refuses_a_centre_missing_from_the_registry(tmp_path: Path) -> None:
    path = tmp_path / "claims.xml"
    path.write_bytes(f.as_xml(f.submission("NOBODY-01")))
    result = runner.invoke(
        app, ["validate", "--format", "json", "--registry", str(SAMPLE_REGISTRY_DIR), str(path)]
    )
    assert result.exit_code == 1
    (report,) = orjson.loads(result.stdout)
    assert [(p["code"], p["path"]) for p in report["problems"]] == [
        ("centre.unknown", "/submission/header/centreCode")
    ]
