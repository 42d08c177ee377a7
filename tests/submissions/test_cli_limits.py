"""`gateway validate` and `gateway submit` tell the truth about large files and a server
that is down (gateway/submissions/offline.py, offline_batch.py, client.py, cli.py)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from typer.testing import CliRunner

from gateway.cli import app
from gateway.settings import get_settings
from gateway.submissions.offline import Reference
from gateway.submissions.offline_batch import check_batch
from tests import factories as f
from tests.receiver import running_receiver

runner = CliRunner()


def document(n: int, *, broken: bool = False) -> dict[str, Any]:
    """An outpatient visit of its own number and patient; ``broken`` breaks its schema
    (a quantity that is no number)."""
    lines = [f.line("970000", 1, 650_000)]
    body = {
        "documentNumber": f"BIG-{n:06d}",
        "patient": {"nationalId": f.national_id(n), "insuranceNumber": f.INSURANCE_NUMBER},
        "physician": {"medicalCouncilNumber": "123456"},
        "serviceDate": "2026-11-10",
        "lines": lines,
        "totalAmount": 650_000,
    }
    if broken:
        lines[0]["quantity"] = "many"
    return {"outpatientVisit": body}


def big_file(folder: Path, fmt: str, count: int, broken_every: int = 0) -> Path:
    documents = [
        document(n, broken=bool(broken_every) and n % broken_every == 0) for n in range(count)
    ]
    data = f.submission("C-BIG", *documents)
    path = folder / f"big.{fmt}"
    path.write_bytes(f.as_json(data) if fmt == "json" else _xml(data))
    return path


def _xml(data: dict[str, Any]) -> bytes:
    # as_xml goes through the schema's JSON mapping, which refuses broken documents: build
    # a valid file, then break the quantities of the documents meant broken by text.
    broken = {
        e["outpatientVisit"]["documentNumber"]
        for e in data["documents"]
        if e["outpatientVisit"]["lines"][0]["quantity"] == "many"
    }
    for entry in data["documents"]:
        entry["outpatientVisit"]["lines"][0]["quantity"] = 1
    text = f.as_xml(data)
    for number in broken:
        head, _, tail = text.partition(f"<documentNumber>{number}</documentNumber>".encode())
        tail = tail.replace(b"<quantity>1</quantity>", b"<quantity>many</quantity>", 1)
        text = head + f"<documentNumber>{number}</documentNumber>".encode() + tail
    return text


@pytest.fixture
def limits(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The API's limits, small: 40 kB and 20 documents per submission."""
    monkeypatch.setenv("GATEWAY_MAX_BODY_BYTES", str(40_000))
    monkeypatch.setenv("GATEWAY_MAX_DOCUMENTS_PER_SUBMISSION", "20")
    monkeypatch.setenv("GATEWAY_CLOCK_DATE", f.TODAY.isoformat())
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.mark.parametrize("fmt", ["xml", "json"])
def test_validate_refuses_a_file_over_the_body_limit_and_suggests_batch(
    limits: None, tmp_path: Path, fmt: str
) -> None:
    path = big_file(tmp_path, fmt, 300)
    assert path.stat().st_size > 40_000
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 1
    assert "invalid (300 document(s))" in result.stdout
    assert "body.too-large" in result.stdout
    assert "gateway validate --batch FILE" in result.stdout
    assert "gateway submit --batch FILE" in result.stdout
    (report,) = orjson.loads(runner.invoke(app, ["validate", "--format", "json", str(path)]).stdout)
    assert (report["valid"], report["documents"]) == (False, 300)
    assert [p["code"] for p in report["problems"]] == ["body.too-large"]


@pytest.mark.parametrize("fmt", ["xml", "json"])
def test_validate_refuses_more_documents_than_one_submission_takes(
    limits: None, tmp_path: Path, fmt: str
) -> None:
    path = big_file(tmp_path, fmt, 21)
    assert path.stat().st_size < 40_000
    result = runner.invoke(app, ["validate", "--format", "json", str(path)])
    assert result.exit_code == 1
    (report,) = orjson.loads(result.stdout)
    assert report["documents"] == 21
    codes = [p["code"] for p in report["problems"]]
    assert codes == ["submission.too-many-documents"]
    text = runner.invoke(app, ["validate", str(path)]).stdout
    assert "at most 20" in text
    assert "--batch" in text
    # Twenty pass.
    assert runner.invoke(app, ["validate", str(big_file(tmp_path, fmt, 20))]).exit_code == 0


def test_a_file_with_schema_faults_counts_its_documents(limits: None, tmp_path: Path) -> None:
    path = big_file(tmp_path, "xml", 15, broken_every=5)
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 1
    assert "invalid (15 document(s))" in result.stdout


@pytest.mark.parametrize("fmt", ["xml", "json"])
def test_validate_batch_checks_4000_documents_one_by_one(tmp_path: Path, fmt: str) -> None:
    path = big_file(tmp_path, fmt, 4000, broken_every=7)
    faulty = len(range(0, 4000, 7))
    result = runner.invoke(app, ["validate", "--batch", str(path)])
    assert result.exit_code == 1, result.output
    assert "(0 document(s))" not in result.stdout
    assert f"4,000 document(s), {4000 - faulty:,} valid, {faulty:,} invalid" in result.stdout
    assert "#8 BIG-000007" in result.stdout
    report = orjson.loads(
        runner.invoke(app, ["validate", "--batch", str(path), "--format", "json"]).stdout
    )
    assert (report["documents"], report["invalid_documents"]) == (4000, faulty)
    faults = report["documents_with_problems"]
    assert [d["document_number"] for d in faults] == [f"BIG-{n:06d}" for n in range(0, 4000, 7)]
    expected = "schema.invalid-value" if fmt == "xml" else "json.type"
    assert all(not d["valid"] and d["problems"][0]["code"] == expected for d in faults)
    located = "/submission/documents/outpatientVisit[8]" if fmt == "xml" else "/documents/7"
    assert faults[1]["path"].startswith(located)


def test_validate_batch_finds_a_document_repeated_within_the_file(tmp_path: Path) -> None:
    documents = [document(1), document(2), document(1)]
    path = tmp_path / "repeated.json"
    path.write_bytes(f.as_json(f.submission("C-BIG", *documents)))
    report = orjson.loads(
        runner.invoke(app, ["validate", "--batch", str(path), "--format", "json"]).stdout
    )
    assert (report["documents"], report["valid_documents"]) == (3, 2)
    (repeat,) = report["documents_with_problems"]
    assert repeat["ordinal"] == 2
    assert "duplicate" in repeat["problems"][0]["code"]


def test_validate_batch_refuses_a_broken_envelope_as_the_batch_would(tmp_path: Path) -> None:
    path = tmp_path / "broken.xml"
    path.write_bytes(b'<submission xmlns="urn:rasa-gateway:claim:1"><header>')
    result = runner.invoke(app, ["validate", "--batch", str(path)])
    assert result.exit_code == 1
    assert "refused as a whole" in result.stdout
    assert "xml.malformed" in result.stdout


def test_the_progress_moves_document_by_document_through_one_file(tmp_path: Path) -> None:
    path = big_file(tmp_path, "xml", 4000, broken_every=7)
    seen: list[tuple[int, int]] = []
    report = check_batch(path, Reference(), lambda done, total: seen.append((done, total)))
    assert report.documents == 4000
    assert [done for done, _ in seen] == list(range(1, 4001))
    assert {total for _, total in seen} == {4000}


def test_validate_needs_files_or_a_batch() -> None:
    assert runner.invoke(app, ["validate"]).exit_code == 2


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.parametrize("batch", [False, True])
def test_submit_to_a_server_that_is_down_says_so_in_one_line(tmp_path: Path, batch: bool) -> None:
    path = big_file(tmp_path, "xml", 2)
    url = f"http://127.0.0.1:{_closed_port()}"
    args = ["submit", "--url", url, "--token", "t"]
    args += ["--batch", str(path)] if batch else [str(path)]
    result = runner.invoke(app, args)
    assert result.exit_code == 1
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines == [f"cannot reach {url}: connection refused"]


def test_submit_answered_413_suggests_the_batch_route(tmp_path: Path) -> None:
    path = big_file(tmp_path, "json", 3)
    with running_receiver([413]) as server:
        url = server.url.rsplit("/", 1)[0]
        result = runner.invoke(app, ["submit", "--url", url, "--token", "t", str(path)])
    assert result.exit_code == 1
    assert "413" in result.stdout
    assert "gateway submit --batch FILE" in result.stdout
    assert [r.path for r in server.requests] == ["/v1/submissions"]


def test_4000_documents_with_schema_faults_are_counted_and_sent_to_batch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GATEWAY_MAX_BODY_BYTES", raising=False)
    monkeypatch.delenv("GATEWAY_MAX_DOCUMENTS_PER_SUBMISSION", raising=False)
    get_settings.cache_clear()
    path = big_file(tmp_path, "json", 4000, broken_every=7)
    assert path.stat().st_size < get_settings().max_body_bytes
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 1
    assert "invalid (4000 document(s))" in result.stdout
    assert "4000 documents in one submission; at most 1000" in result.stdout
    assert "gateway validate --batch FILE" in result.stdout
