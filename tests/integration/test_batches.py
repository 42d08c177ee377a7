"""Batches with real server and worker processes: one uploaded with `gateway submit
--batch` on every stack, stored and priced end to end; one whose worker is killed
(SIGKILL) halfway, which the restarted worker finishes with every document stored once;
and one whose database connections are all dropped twice while it is stored, which the
same worker finishes, retrying from the last committed chunk."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from sqlalchemy import func, select

from gateway.admin import service as admin
from gateway.admin.registry import import_registry
from gateway.domain.centres import Role
from gateway.kit.db import engine_for, session_factory, transaction, upgrade
from gateway.storage import repository
from gateway.storage.models import Batch, BatchRejection, Document, StatusEvent
from tests import factories as f
from tests import services
from tests.factories import TODAY, seed_sample_tariff
from tests.integration.conftest import Stack, _stop, _wait_ready, free_port
from tests.integration.test_end_to_end import add_centre

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("integration")]

ROOT = Path(__file__).resolve().parents[2]
STACK_ENV = {
    "GATEWAY_BATCH_SPOOL_DIR": tempfile.mkdtemp(prefix="gw-batch-spool-"),
    "GATEWAY_BATCH_CHUNK_DOCUMENTS": "4",
}


def test_a_batch_sent_with_the_cli_is_stored_and_priced(stack: Stack, tmp_path: Path) -> None:
    code, token = add_centre(stack)
    documents = [f.outpatient_visit() for _ in range(9)]
    (body,) = documents[4].values()
    body["patient"]["nationalId"] = "12"  # refused by the schema
    documents.append(
        f.inpatient_bill([f.line("300100", 2, 5_000_000), f.line("2001007", 4, 60_000, "drug")])
    )
    path = tmp_path / "month.xml"
    path.write_bytes(f.as_xml(f.submission(code, *documents)))
    sent = subprocess.run(
        [sys.executable, "-m", "gateway", "submit", "--batch", str(path), "--gzip",
         "--url", stack.url, "--token", token, "--wait", "90"],
        env=stack.env, capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip
    assert sent.returncode == 0, sent.stdout + sent.stderr + stack.logs()
    assert "done: 10 documents read, 9 accepted, 1 rejected, 9 priced" in sent.stdout, sent.stdout
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=stack.url, headers=headers, timeout=30) as client:
        (batch,) = [line for line in sent.stdout.splitlines() if " batch " in line]
        batch_id = batch.rsplit(" ", 1)[-1]
        progress = client.get(f"/v1/batches/{batch_id}").json()
        assert (progress["status"], progress["priced"]) == ("done", 9)
        acknowledged = client.get(f"/v1/batches/{batch_id}/acknowledgement").json()["documents"]
    assert [d["outcome"] for d in acknowledged].count("REJECTED") == 1
    assert acknowledged[4]["problems"][0]["code"] == "schema.pattern"
    broken = tmp_path / "broken.json"
    broken.write_text('{"header": {"centreCode": "' + code + '"}, "documents": [')
    failed = subprocess.run(
        [sys.executable, "-m", "gateway", "submit", "--batch", str(broken),
         "--url", stack.url, "--token", token, "--wait", "0"],
        env=stack.env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert "failed" in failed.stdout


def _worker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """A worker in a process group of its own, so that SIGKILL reaches its child too."""
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "gateway", "worker", "--concurrency", "1",
             "--loglevel", "WARNING"],
            env=env, stdout=out, stderr=out, start_new_session=True,
        )  # fmt: skip


@pytest.fixture
def killable(tmp_path: Path) -> Iterator[dict[str, Any]]:
    """A fresh PostgreSQL database and a server on RabbitMQ (which gives a killed worker's
    unacknowledged task to the next worker), with the register of a generated batch."""
    services.require_postgres()
    if not services.reachable(services.RABBITMQ_URL, 5672):
        pytest.skip(f"RabbitMQ unreachable at {services.RABBITMQ_URL}: test skipped")
    batch = tmp_path / "batch.xml"
    subprocess.run(
        [sys.executable, str(ROOT / "bench" / "generate.py"), str(batch), "--documents", "3000",
         "--invalid-share", "0.1", "--seed", "11", "--insured", str(tmp_path / "insured.csv")],
        check=True, timeout=120, capture_output=True,
    )  # fmt: skip
    with ExitStack() as cleanup, services.temporary_postgres_database() as url:
        cleanup.callback(engine_for(url).dispose)
        upgrade(url)
        sessions = session_factory(engine_for(url))
        seed_sample_tariff(sessions)
        with transaction(sessions) as session:
            import_registry(session=session, directory=tmp_path)
            centre = repository.get_centre_by_code(session, "DEMO-001")
            assert centre is not None
            token = admin.add_token(session=session, role=Role.CENTRE, centre=centre)
        port = free_port()
        env = {
            **os.environ,
            "GATEWAY_DATABASE_URL": url,
            "GATEWAY_BROKER_URL": services.RABBITMQ_URL,
            "GATEWAY_QUEUE_NAME": f"gw-test-{uuid.uuid4().hex[:8]}",
            "GATEWAY_WORKER_METRICS_PORT": "0",
            "GATEWAY_CLOCK_DATE": TODAY.isoformat(),
            "GATEWAY_BATCH_SPOOL_DIR": str(tmp_path / "spool"),
            "GATEWAY_BATCH_CHUNK_DOCUMENTS": "100",
            "GATEWAY_OUTBOX_RELAY_INTERVAL_S": "0.5",
            "GATEWAY_OUTBOX_RELAY_GRACE_S": "1",
        }
        env.pop("PROMETHEUS_MULTIPROC_DIR", None)
        log = tmp_path / "server.log"
        with log.open("wb") as out:
            server = subprocess.Popen(
                [sys.executable, "-m", "gateway", "serve", "--port", str(port)],
                env=env, stdout=out, stderr=out,
            )  # fmt: skip
        cleanup.callback(_stop, server)
        _wait_ready(f"http://127.0.0.1:{port}", [server])
        yield {
            "database_url": url,
            "url": f"http://127.0.0.1:{port}",
            "token": token,
            "env": env,
            "sessions": sessions,
            "batch": batch,
            "logs": tmp_path,
            "cleanup": cleanup,
        }


def _read(sessions: Any, batch_id: uuid.UUID) -> Batch:
    with sessions() as session:
        found: Batch = session.get_one(Batch, batch_id)
        return found


def test_a_worker_killed_mid_batch_leaves_no_document_lost_or_stored_twice(
    killable: dict[str, Any],
) -> None:
    sessions, env, logs = killable["sessions"], killable["env"], killable["logs"]
    worker = _worker(env, logs / "worker-1.log")
    killable["cleanup"].callback(lambda: _kill(worker))
    headers = {"Authorization": f"Bearer {killable['token']}", "Content-Type": "application/xml"}
    answer = httpx.post(
        f"{killable['url']}/v1/batches",
        content=killable["batch"].read_bytes(),
        headers=headers,
        timeout=120,
    )
    assert answer.status_code == 202, answer.text
    batch_id = uuid.UUID(answer.json()["id"])
    deadline = time.monotonic() + 120
    while _read(sessions, batch_id).documents_read < 600:
        assert time.monotonic() < deadline, _logs(logs)
        time.sleep(0.05)
    _kill(worker)
    stopped = _read(sessions, batch_id)
    assert stopped.status == "processing"
    assert 600 <= stopped.documents_read < 3000
    time.sleep(1)
    assert _read(sessions, batch_id).documents_read == stopped.documents_read  # nobody at work
    again = _worker(env, logs / "worker-2.log")
    killable["cleanup"].callback(lambda: _kill(again))
    deadline = time.monotonic() + 180
    while (done := _read(sessions, batch_id)).status == "processing":
        assert time.monotonic() < deadline, _logs(logs)
        time.sleep(0.2)
    assert done.status == "done", done.errors
    assert done.runs >= 2
    _assert_every_document_stored_once(killable, done)


def _assert_every_document_stored_once(killable: dict[str, Any], done: Batch) -> None:
    sessions = killable["sessions"]
    assert (done.documents_read, done.accepted_count + done.rejected_count) == (3000, 3000)
    with sessions() as session:
        stored = session.scalars(
            select(Document.ordinal).where(Document.submission_id == done.submission_id)
        ).all()
        refused = session.scalars(
            select(BatchRejection.ordinal).where(BatchRejection.batch_id == done.id)
        ).all()
        births = session.scalar(
            select(func.count())
            .select_from(StatusEvent)
            .join(Document, Document.id == StatusEvent.document_id)
            .where(Document.submission_id == done.submission_id, StatusEvent.from_status.is_(None))
        )
    assert sorted([*stored, *refused]) == list(range(3000))  # every document, exactly once
    assert births == len(stored)
    assert len(refused) > 0
    acknowledged = httpx.get(
        f"{killable['url']}/v1/batches/{done.id}/acknowledgement",
        headers={"Authorization": f"Bearer {killable['token']}"},
        timeout=60,
    ).json()["documents"]
    assert [d["ordinal"] for d in acknowledged] == list(range(3000))


def test_database_connections_dropped_mid_batch_leave_no_document_lost_or_stored_twice(
    killable: dict[str, Any],
) -> None:
    """Every connection to the database (worker's, server's) is terminated twice while the
    batch is stored: the failed chunk rolls back, the task is retried and resumes after
    the last committed chunk, with the same worker process."""
    sessions, env, logs = killable["sessions"], killable["env"], killable["logs"]
    worker = _worker(env, logs / "worker.log")
    killable["cleanup"].callback(lambda: _kill(worker))
    answer = httpx.post(
        f"{killable['url']}/v1/batches",
        content=killable["batch"].read_bytes(),
        headers={
            "Authorization": f"Bearer {killable['token']}",
            "Content-Type": "application/xml",
        },
        timeout=120,
    )
    assert answer.status_code == 202, answer.text
    batch_id = uuid.UUID(answer.json()["id"])
    dropped = []
    for threshold in (600, 1500):
        deadline = time.monotonic() + 120
        while (read := _read(sessions, batch_id)).documents_read < threshold:
            assert read.status in ("received", "processing"), (read.status, _logs(logs))
            assert time.monotonic() < deadline, _logs(logs)
            time.sleep(0.02)
        dropped.append(_drop_connections(killable["database_url"]))
    assert all(count >= 1 for count in dropped), dropped  # the worker's, at least
    deadline = time.monotonic() + 180
    while (done := _read(sessions, batch_id)).status == "processing":
        assert time.monotonic() < deadline, _logs(logs)
        time.sleep(0.2)
    assert done.status == "done", done.errors
    assert worker.poll() is None  # the same process carried on
    assert done.runs >= 2  # a chunk failed with its connection and the task ran again
    _assert_every_document_stored_once(killable, done)


def _drop_connections(database_url: str) -> int:
    """Terminate every backend connected to the database but this one's; how many."""
    name = database_url.rsplit("/", 1)[1]
    admin_url = database_url.rsplit("/", 1)[0].replace("postgresql+psycopg", "postgresql", 1)
    with psycopg.connect(f"{admin_url}/postgres", autocommit=True) as connection:
        return len(
            connection.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = %s AND pid <> pg_backend_pid()",
                (name,),
            ).fetchall()
        )


def _kill(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)


def _logs(folder: Path) -> str:
    return "\n".join(
        f"--- {p.name}\n{p.read_text(errors='replace')[-3000:]}" for p in folder.glob("*.log")
    )
