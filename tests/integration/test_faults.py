"""Fault injection with 1,000 documents in flight, on PostgreSQL and RabbitMQ with real
worker processes: the worker is SIGKILLed, the broker restarted, the database's
connections dropped. Afterwards every accepted document is priced exactly once (one set
of pricing rows, one status path), and every request either got a 202 whose documents
exist, or an error that was safely retried with the same Idempotency-Key.

Run alone with `pytest -m faults`. The broker restarted is a RabbitMQ node the test
starts for itself (tests/rabbitmq.py), never the machine's; the connections dropped are
only those of the stack's own database.
"""

from __future__ import annotations

import concurrent.futures
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from kombu import Connection
from sqlalchemy import func, select, text

from gateway.kit.db import transaction
from gateway.payers import repository as payer_store
from gateway.storage.models import (
    Document,
    DocumentLine,
    LedgerTransfer,
    LinePricing,
    StatusEvent,
    SupplementaryPolicy,
)
from tests import factories as f
from tests import rabbitmq, services
from tests.factories import PRICED_STATES
from tests.integration.conftest import Stack
from tests.integration.test_end_to_end import add_centre

pytestmark = [pytest.mark.integration, pytest.mark.faults, pytest.mark.xdist_group("integration")]

OWN_RABBITMQ = True  # the stack's broker is a node of this module's own, free to restart
# The sweeper re-queues whatever a fault left stuck, soon enough for the test to see it.
STACK_ENV = {"GATEWAY_STUCK_AFTER_S": "15", "GATEWAY_SWEEP_INTERVAL_S": "3"}
SUBMISSIONS, PER_SUBMISSION = 100, 10  # 1,000 documents


@contextmanager
def _bystanders() -> Iterator[Callable[[], None]]:
    """Clients of the machine's RabbitMQ (when it answers) and of another PostgreSQL
    database, connected before the faults: the check fails if a fault reached them."""
    with ExitStack() as held:
        checks: list[Callable[[], object]] = []
        if services.reachable(services.RABBITMQ_URL, 5672):
            amqp = held.enter_context(Connection(services.RABBITMQ_URL, connect_timeout=10))
            channel = amqp.channel()
            checks.append(lambda: channel.exchange_declare("amq.direct", "direct", passive=True))
        other = held.enter_context(psycopg.connect(services.POSTGRES_ADMIN_URL))
        checks.append(lambda: other.execute("SELECT 1"))

        def untouched() -> None:
            for check in checks:
                check()

        yield untouched


def _give_policies(stack: Stack, national_ids: list[str]) -> None:
    with transaction(stack.sessions()) as session:
        session.add_all(
            SupplementaryPolicy(
                national_id=national_id,
                insurer_code="FAULT-SUP",
                insurer_name="Fault-test supplementary",
                policy_number=f"F-{n}",
                priority=1,
                valid_from=date(2020, 1, 1),
                valid_to=None,
                copay_share=Decimal("0.5"),
                uncovered_share=Decimal(0),
                annual_ceiling=None,
            )
            for n, national_id in enumerate(national_ids)
        )


def _ledger_is_whole_and_split_once(sessions: Any, ids: list[uuid.UUID], insured: set[str]) -> None:
    """After the faults: every transfer balances, every kept balance is its entries' sum,
    and each approved document of an insured patient was split once (never twice)."""
    with sessions() as session:
        assert payer_store.unbalanced_transfers(session) == []
        assert payer_store.balances_kept(session) == payer_store.balances_from_entries(session)
        approved = session.execute(
            select(Document.id, Document.patient_national_id).where(
                Document.id.in_(ids), Document.status == "APPROVED"
            )
        ).all()
        splits = session.execute(
            select(LedgerTransfer.document_id, func.count())
            .where(LedgerTransfer.document_id.in_(ids), LedgerTransfer.kind == "split")
            .group_by(LedgerTransfer.document_id)
        ).all()
    counted = dict(splits)
    assert any(national_id in insured for _, national_id in approved)  # not vacuous
    for document_id, national_id in approved:
        if national_id in insured:  # one transfer for the insurer, one for the patient
            assert counted.get(document_id) == 2, document_id
    assert set(counted) <= {d for d, _ in approved}


def _drop_database_connections(stack: Stack) -> int:
    name = stack.database_url.rsplit("/", 1)[1]
    admin = stack.database_url.rsplit("/", 1)[0] + "/postgres"
    from sqlalchemy import create_engine

    engine = create_engine(admin, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            return len(
                connection.execute(
                    text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE datname = :name AND pid <> pg_backend_pid()"
                    ),
                    {"name": name},
                ).all()
            )
    finally:
        engine.dispose()


def _send(
    client: httpx.Client, body: bytes, key: str, outcomes: dict[str, Any], lock: threading.Lock
) -> None:
    """Send until a 202 or a refusal that retrying cannot change; note every attempt."""
    attempts: list[str] = []
    for _ in range(30):
        try:
            answer = client.post(
                "/v1/submissions",
                content=body,
                headers={"Content-Type": "application/json", "Idempotency-Key": key},
            )
        except httpx.HTTPError as exc:
            attempts.append(type(exc).__name__)
            time.sleep(0.5)
            continue
        attempts.append(str(answer.status_code))
        if answer.status_code == 202 or answer.status_code < 500:
            with lock:
                outcomes[key] = (answer.status_code, answer.json(), attempts)
            return
        time.sleep(0.5)
    with lock:
        outcomes[key] = (None, None, attempts)


@pytest.mark.parametrize("stack", ["postgresql+rabbitmq"], indirect=True)
def test_nothing_lost_nothing_doubled_under_faults(stack: Stack) -> None:
    code, token = add_centre(stack)
    visits = [[f.outpatient_visit() for _ in range(PER_SUBMISSION)] for _ in range(SUBMISSIONS)]
    # Every fifth patient holds a supplementary policy: their approvals split in the ledger.
    insured = [v["outpatientVisit"]["patient"]["nationalId"] for w in visits for v in w][::5]
    _give_policies(stack, insured)
    bodies = {str(uuid.uuid4()): f.as_json(f.submission(code, *wave)) for wave in visits}
    outcomes: dict[str, Any] = {}
    lock = threading.Lock()
    headers = {"Authorization": f"Bearer {token}"}
    faults: list[str] = []
    keys = list(bodies)
    waves = [keys[i : i + SUBMISSIONS // 4] for i in range(0, SUBMISSIONS, SUBMISSIONS // 4)]

    def kill_and_restart_worker() -> str:
        stack.kill_worker()
        stack.start_worker()
        return "worker SIGKILLed while pricing, then restarted"

    def restart_broker() -> str:
        assert stack.rabbitmq is not None
        stack.rabbitmq.restart_app()
        return f"RabbitMQ node {stack.rabbitmq.name} restarted (stop_app/start_app)"

    def drop_connections() -> str:
        return f"{_drop_database_connections(stack)} PostgreSQL connection(s) dropped"

    injections = [
        kill_and_restart_worker,
        restart_broker,
        drop_connections,
        kill_and_restart_worker,
    ]
    with (
        _bystanders() as untouched,
        httpx.Client(base_url=stack.url, headers=headers, timeout=60) as client,
        concurrent.futures.ThreadPoolExecutor(8) as pool,
    ):
        # Each fault strikes while a wave of requests is in flight (the first of the wave
        # answered, however slow the machine) and earlier waves are being priced.
        for wave, inject in zip(waves, injections, strict=True):
            answered = len(outcomes)
            futures = [pool.submit(_send, client, bodies[k], k, outcomes, lock) for k in wave]
            deadline = time.monotonic() + services.WAIT_S
            while len(outcomes) == answered and time.monotonic() < deadline:
                time.sleep(0.02)
            faults.append(inject())
            for future in futures:
                future.result()
        untouched()  # the machine's broker and other databases kept their clients

    retried = sum(1 for _, _, attempts in outcomes.values() if len(attempts) > 1)
    print(f"faults: {faults}; requests retried after an error: {retried}")
    # Every request ended in a 202 (possibly after safe retries with the same key).
    failed = {k: v for k, v in outcomes.items() if v[0] != 202}
    assert failed == {}, (faults, failed)
    document_ids = {d["id"] for _, body, _ in outcomes.values() for d in body["documents"]}
    assert len(document_ids) == SUBMISSIONS * PER_SUBMISSION  # retries replayed, never doubled

    sessions = stack.sessions()
    deadline = time.monotonic() + 2 * services.WAIT_S  # 1,000 documents on a busy machine
    while time.monotonic() < deadline:
        with sessions() as session:
            waiting = session.scalar(
                select(func.count())
                .select_from(Document)
                .where(
                    Document.id.in_([uuid.UUID(i) for i in document_ids]),
                    Document.status.not_in(PRICED_STATES),
                )
            )
        if waiting == 0:
            break
        time.sleep(1)
    assert waiting == 0, (f"{waiting} documents still unpriced", faults, stack.logs())

    ids = [uuid.UUID(i) for i in document_ids]
    with sessions() as session:
        lines = session.scalar(
            select(func.count()).select_from(DocumentLine).where(DocumentLine.document_id.in_(ids))
        )
        pricings = session.scalar(
            select(func.count()).select_from(LinePricing).where(LinePricing.document_id.in_(ids))
        )
        priced_moves = session.execute(
            select(StatusEvent.document_id, func.count())
            .where(StatusEvent.document_id.in_(ids), StatusEvent.to_status == "PRICED")
            .group_by(StatusEvent.document_id)
        ).all()
        stored = session.scalar(
            select(func.count())
            .select_from(Document)
            .where(
                Document.centre_id.in_(
                    select(Document.centre_id).where(Document.id == ids[0]).scalar_subquery()
                )
            )
        )
    assert pricings == lines  # one pricing row per line: priced once
    _ledger_is_whole_and_split_once(sessions, ids, set(insured))
    assert len(priced_moves) == len(ids)
    assert {count for _, count in priced_moves} == {1}  # one status path each
    assert stored == len(ids)  # nothing stored twice by a retried request


def test_without_rabbitmq_installed_the_own_node_is_skipped_saying_why(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(rabbitmq, "_SCRIPT_DIRS", (tmp_path / "nowhere",))
    monkeypatch.setenv("PATH", str(tmp_path))
    with (
        pytest.raises(pytest.skip.Exception, match="rabbitmq-server not installed"),
        rabbitmq.private_node(tmp_path / "node"),
    ):
        pass
    assert not (tmp_path / "node").exists()
