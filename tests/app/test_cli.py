"""The CLI: offline validation gives the API's problems; admin commands print tokens last."""

from __future__ import annotations

import hashlib
import uuid
from pathlib import Path

import orjson
import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from gateway.admin import service as admin
from gateway.cli import app
from gateway.domain.centres import CentreKind, Role, Sector
from gateway.kit.db import transaction
from gateway.pricing import repository as tariffs
from gateway.pricing.tariff_csv import book_files, read_book
from gateway.settings import get_settings
from gateway.storage import repository
from gateway.storage.models import ApiToken
from tests import factories as f

runner = CliRunner()


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, settings) -> None:
    monkeypatch.setenv("GATEWAY_DATABASE_URL", settings.database_url)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def _bad_submission(code: str) -> dict:
    bad = f.outpatient_visit([f.line("970000", 1, 100)])
    bad["outpatientVisit"]["patient"]["nationalId"] = "0013542418"
    bad["outpatientVisit"]["totalAmount"] = 99
    return f.submission(code, f.outpatient_visit(), bad)


@pytest.mark.parametrize("fmt", ["xml", "json"])
def test_validate_reports_what_the_api_reports(client, sessions, tmp_path, fmt) -> None:
    centre, token = f.make_centre(sessions)
    data = _bad_submission(centre.code)
    body = f.as_xml(data) if fmt == "xml" else f.as_json(data)
    path = tmp_path / f"claims.{fmt}"
    path.write_bytes(body)
    result = runner.invoke(app, ["validate", "--format", "json", str(path)])
    assert result.exit_code == 1
    (report,) = orjson.loads(result.stdout)
    answer = client.post(
        "/v1/submissions",
        content=body,
        headers={"Authorization": f"Bearer {token}", "Content-Type": f"application/{fmt}"},
    ).json()
    from_api = [e for d in answer["documents"] for e in d["errors"]]
    assert report["problems"] == from_api
    assert [p["code"] for p in from_api] == [
        "patient.national-id-checksum",
        "document.total-mismatch",
    ]


def test_validate_schema_errors_match_the_api(client, sessions, tmp_path) -> None:
    centre, token = f.make_centre(sessions)
    body = f.as_xml(f.submission(centre.code)).replace(
        b"<quantity>1</quantity>", b"<quantity>x</quantity>"
    )
    path = tmp_path / "bad.xml"
    path.write_bytes(body)
    result = runner.invoke(app, ["validate", "--format", "json", str(path)])
    answer = client.post(
        "/v1/submissions",
        content=body,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/xml"},
    )
    assert answer.status_code == 422
    assert orjson.loads(result.stdout)[0]["problems"] == answer.json()["errors"]


def test_validate_valid_file_exits_zero_with_text_report(tmp_path) -> None:
    path = tmp_path / "ok.json"
    path.write_bytes(f.as_json(f.submission("ANY-01")))
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 0, result.stdout
    assert "valid (1 document(s))" in result.stdout


def test_centre_add_prints_the_token_last_and_stores_only_a_hash(cli_env, sessions) -> None:
    code = f"CLI{uuid.uuid4().hex[:6].upper()}"
    result = runner.invoke(
        app, ["centre", "add", code, "--kind", "owned", "--sector", "governmental"]
    )
    assert result.exit_code == 0, result.stdout
    token = result.stdout.strip().splitlines()[-1]
    assert token.startswith("gw_")
    assert len(token) > 40
    with sessions() as session:
        hashes = set(session.scalars(select(ApiToken.token_hash)))
    assert token not in hashes
    assert hashlib.sha256(token.encode()).hexdigest() in hashes


def test_tariff_import_refuses_a_bad_book(cli_env, tmp_path) -> None:
    (tmp_path / "services.csv").write_text("code,title\n")
    (tmp_path / "k_coefficients.csv").write_text("sector,component,value,valid_from,valid_to\n")
    result = runner.invoke(app, ["tariff", "import", str(tmp_path)])
    assert result.exit_code == 1
    assert "tariff.missing-column" in result.stderr


def test_tariff_import_is_all_or_nothing_and_export_gives_the_book_back(
    cli_env, sessions, tmp_path
) -> None:
    with sessions() as session:
        before = len(tariffs.tariff_versions(session))
    broken = tmp_path / "broken"
    broken.mkdir()
    for name in ("services.csv", "k_coefficients.csv", "package_contents.csv"):
        (broken / name).write_text((admin.SAMPLE_TARIFF_DIR / name).read_text())
    (broken / "package_prices.csv").write_text(
        "code,sector,price,valid_from,valid_to\nP400100,private,-1,2026-03-21,\n"
    )
    refused = runner.invoke(app, ["tariff", "import", str(broken)])
    assert refused.exit_code == 1
    said = " ".join(refused.stderr.split())  # the console wraps long lines
    assert "package_prices.csv:price (line 2): price: must not be negative" in said
    with sessions() as session:
        assert len(tariffs.tariff_versions(session)) == before  # nothing half-stored

    imported = runner.invoke(
        app, ["tariff", "import", str(admin.SAMPLE_TARIFF_DIR), "--label", "again"]
    )
    assert imported.exit_code == 0, imported.stderr
    version = int(imported.stdout.split()[2])
    listed = runner.invoke(app, ["tariff", "versions"])
    assert f"{version}\t" in listed.stdout
    assert "again" in listed.stdout
    out = tmp_path / "exported"
    exported = runner.invoke(app, ["tariff", "export", str(out), "--version", str(version)])
    assert exported.exit_code == 0, exported.stderr
    expected = book_files(read_book(admin.SAMPLE_TARIFF_DIR).to_book(0, "sample"))
    assert {name: (out / name).read_text() for name in expected} == expected
    missing = runner.invoke(app, ["tariff", "export", str(out), "--version", "99999"])
    assert missing.exit_code == 1


EXAMPLES = Path(__file__).resolve().parents[2] / "schemas" / "examples" / "invalid"
MANIFEST = orjson.loads((EXAMPLES / "expected.json").read_bytes())


def _demo_centre_token(sessions) -> str:
    with transaction(sessions) as session:
        centre = repository.get_centre_by_code(session, "DEMO-001") or admin.add_centre(
            session=session,
            code="DEMO-001",
            name="Demo",
            kind=CentreKind.CONTRACTED,
            sector=Sector.PRIVATE,
        )
        return admin.add_token(session=session, role=Role.CENTRE, centre=centre)


@pytest.mark.parametrize("name", sorted(MANIFEST))
def test_api_reports_each_bundled_invalid_example_as_the_manifest_says(client, sessions, name):
    token = _demo_centre_token(sessions)
    body = (EXAMPLES / name).read_bytes().replace(b"OV-2026-0001", uuid.uuid4().hex[:12].encode())
    content_type = "application/json" if name.endswith(".json") else "application/xml"
    response = client.post(
        "/v1/submissions",
        content=body,
        headers={"Authorization": f"Bearer {token}", "Content-Type": content_type},
    )
    if response.status_code == 202:
        errors = [e for d in response.json()["documents"] for e in d["errors"]]
    else:
        assert response.status_code == 422
        errors = response.json()["errors"]
    assert [{"code": e["code"], "path": e["path"]} for e in errors] == MANIFEST[name]


def test_db_upgrade_creates_the_schema(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.sqlite'}"
    monkeypatch.setenv("GATEWAY_DATABASE_URL", url)
    get_settings.cache_clear()
    try:
        result = runner.invoke(app, ["db", "upgrade"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.stdout
    from sqlalchemy import create_engine, inspect

    tables = set(inspect(create_engine(url)).get_table_names())
    assert {"documents", "document_lines", "status_events", "outbox", "alembic_version"} <= tables
