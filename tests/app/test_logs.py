"""Structured log lines, and personal data and secrets masked whatever wrote them."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import orjson
import pytest

from gateway import logs
from gateway.settings import Settings
from workers.app import _task_finished, _task_started, correlation_of, make_celery


@pytest.fixture
def lines() -> Iterator[io.StringIO]:
    """What the gateway's handler writes, as configured in a real process."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logs.JsonFormatter())
    handler.addFilter(logs.MaskingFilter())
    logger = logging.getLogger("gateway.test-logs")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        yield stream
    finally:
        logger.removeHandler(handler)


def written(stream: io.StringIO) -> list[dict[str, object]]:
    return [orjson.loads(line) for line in stream.getvalue().splitlines()]


def test_one_json_object_a_line_with_request_id_and_context(lines: io.StringIO) -> None:
    log = logging.getLogger("gateway.test-logs")
    token = logs.request_id.set("req-42")
    try:
        log.info("priced %s documents", 3, extra={"batch": 7, "ms": 1.5})
    finally:
        logs.request_id.reset(token)
    log.warning("outside a request")
    first, second = written(lines)
    assert first["message"] == "priced 3 documents"
    assert (first["level"], first["logger"], first["request_id"]) == (
        "INFO", "gateway.test-logs", "req-42")  # fmt: skip
    assert (first["batch"], first["ms"]) == (7, 1.5)
    assert str(first["time"]).endswith("+00:00")
    assert second["request_id"] is None


def test_national_ids_names_and_secrets_are_masked(lines: io.StringIO) -> None:
    log = logging.getLogger("gateway.test-logs")
    log.info("patient %s refused", "0012345678")
    log.info(
        "payload %s", {"firstName": "Sara", "familyName": "Ahmadi", "nationalId": "1234567890"}
    )
    log.info("calling with Authorization: Bearer s3cr3t-token and password=hunter2")
    log.info("broker amqp://gateway:pa55word@rabbit:5672//")
    log.info("context", extra={"national_id": "0012345678", "patient_name": "Ali", "token": "t"})
    try:
        raise ValueError("bad national id 0098765432")
    except ValueError:
        log.exception("failed")
    text = lines.getvalue()
    for secret in ("0012345678", "Sara", "Ahmadi", "1234567890", "s3cr3t-token", "hunter2",
                   "pa55word", "0098765432", '"Ali"'):  # fmt: skip
        assert secret not in text, secret
    entries = written(lines)
    assert entries[0]["message"] == "patient ******5678 refused"  # last digits help support
    assert entries[4]["national_id"] == entries[4]["patient_name"] == "***"
    assert "ValueError" in str(entries[5]["exception"])


def test_ordinary_words_and_numbers_stay(lines: io.StringIO) -> None:
    log = logging.getLogger("gateway.test-logs")
    text = "hostname=worker-1 filename=batch.xml priced 12345 rials in 250 ms"
    log.info(text)
    assert written(lines)[0]["message"] == text


@pytest.mark.parametrize(
    ("raw", "kept"),
    [("abc-123", True), ("a" * 129, False), ("bad id\n", False), (None, False), ("", False)],
)
def test_request_ids_are_taken_only_when_sane(raw: str | None, kept: bool) -> None:
    chosen = logs.accepted_request_id(raw)
    assert (chosen == raw) is kept
    assert 0 < len(chosen) <= 128


def test_a_task_runs_with_the_request_id_of_its_message() -> None:
    task = SimpleNamespace(name="gateway.price_document",
                           request=SimpleNamespace(request_id="req-7", headers=None))  # fmt: skip
    _task_started(task_id="t1", task=task)
    assert logs.request_id.get() == "req-7"
    _task_finished(task_id="t1", task=task, state="SUCCESS")
    assert logs.request_id.get() is None
    nested = SimpleNamespace(headers={"request_id": "req-8"})
    assert correlation_of(nested) == "req-8"
    assert correlation_of(SimpleNamespace()) is None


def test_a_celery_task_logs_with_the_request_id_its_message_carries(
    lines: io.StringIO, tmp_path: Path
) -> None:
    celery = make_celery(Settings(broker_url=f"sqla+sqlite:///{tmp_path / 'broker.sqlite'}"))
    log = logging.getLogger("gateway.test-logs")

    @celery.task(name="gateway.test-correlation")
    def priced() -> None:
        log.info("pricing")

    priced.apply(headers={"request_id": "his-req-0003"})  # the header Publisher sends
    assert [entry["request_id"] for entry in written(lines)] == ["his-req-0003"]
    assert logs.request_id.get() is None


def test_celerys_shutdown_notice_is_a_json_line_and_honours_the_level(
    capfd: pytest.CaptureFixture[str],
) -> None:
    """Celery writes "worker: Warm shutdown (MainProcess)" raw to stdout from its signal
    handler; the worker's replacement writes it as a JSON line on stderr, at INFO."""
    from workers.main import say_as_log

    celery_log = logging.getLogger("celery.worker")
    before = celery_log.level
    try:
        celery_log.setLevel(logging.INFO)
        say_as_log("worker: Warm shutdown (MainProcess)")
        out, err = capfd.readouterr()
        assert out == ""
        (entry,) = [orjson.loads(line) for line in err.splitlines() if line.strip()]
        assert entry["message"] == "worker: Warm shutdown (MainProcess)"
        assert (entry["level"], entry["logger"]) == ("INFO", "celery.worker")
        celery_log.setLevel(logging.WARNING)
        say_as_log("worker: Warm shutdown (MainProcess)")
        assert capfd.readouterr() == ("", "")
    finally:
        celery_log.setLevel(before)
