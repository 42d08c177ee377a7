"""`gateway demo` (`make run`): sample data, then the API and one worker until interrupted.

The demo must never fail silently: its worker's metrics port is a free one unless one is
set, and if the worker dies the API is stopped with a message saying so, instead of
accepting documents that nothing will price.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import subprocess
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from gateway import logs

log = logging.getLogger("gateway.demo")
DEMO_CENTRE = "DEMO-001"
DEMO_DATE = "2026-11-23"
# Workspace accounts of the demo; the password is printed by `make run` and is only ever
# set on a demo database.
DEMO_USERS = (("auditor", "auditor", "Demo Auditor"), ("finance", "finance", "Demo Finance"))
DEMO_PASSWORD = "rasa-demo-1405"  # noqa: S105 - the demo's published login, not a secret


@dataclass(frozen=True)
class DemoLogins:
    centre_token: str
    auditor_token: str
    users: tuple[str, ...]


def free_port(host: str = "127.0.0.1") -> int:
    """A port the OS says is free now (the worker binds it a moment later)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
        return port


def prepare_environment() -> int:
    """Set the demo's defaults before the settings are read; returns the worker's metrics
    port (a free one unless GATEWAY_WORKER_METRICS_PORT names one)."""
    # The bundled examples are dated November 2026; the demo's clock stays there so they
    # remain inside the submission window (set GATEWAY_CLOCK_DATE to choose another day).
    os.environ.setdefault("GATEWAY_CLOCK_DATE", DEMO_DATE)
    # The demo serves plain http on loopback: a Secure cookie would never come back.
    os.environ.setdefault("GATEWAY_COOKIE_SECURE", "false")
    port = os.environ.get("GATEWAY_WORKER_METRICS_PORT") or str(free_port())
    os.environ["GATEWAY_WORKER_METRICS_PORT"] = port
    return int(port)


def seed(token: str | None) -> DemoLogins:
    """Migrate, load the sample tariff and registries, and make the demo's logins."""
    from sqlalchemy import select

    from gateway.admin import service as admin
    from gateway.admin.registry import SAMPLE_REGISTRY_DIR, import_registry
    from gateway.domain.centres import Role
    from gateway.kit.db import engine_for, session_factory, transaction, upgrade
    from gateway.pricing import repository as tariffs
    from gateway.settings import get_settings
    from gateway.storage import repository
    from gateway.storage.models import StaffUser

    settings = get_settings()
    upgrade(settings.database_url)
    with transaction(session_factory(engine_for(settings.database_url))) as session:
        if tariffs.latest_tariff_version(session) is None:
            admin.import_tariff(session=session, directory=admin.SAMPLE_TARIFF_DIR, label="sample")
        import_registry(session=session, directory=SAMPLE_REGISTRY_DIR)
        centre = repository.get_centre_by_code(session, DEMO_CENTRE)
        assert centre is not None  # the sample registry holds it
        centre_token = admin.add_token(
            session=session, role=Role.CENTRE, centre=centre, token=token
        )
        auditor_token = admin.add_token(session=session, role=Role.AUDITOR, centre=None)
        existing = set(session.scalars(select(StaffUser.username)))
        for username, role, name in DEMO_USERS:
            if username not in existing:
                admin.add_staff_user(
                    session=session,
                    username=username,
                    display_name=name,
                    role=Role(role),
                    password=DEMO_PASSWORD,
                    actor="demo",
                )
    return DemoLogins(centre_token, auditor_token, tuple(u for u, _, _ in DEMO_USERS))


def banner(*, base: str, logins: DemoLogins, metrics_port: int, examples: Path) -> str:
    from gateway.settings import get_settings

    settings = get_settings()
    example = examples / "outpatient-visit.xml"
    users = ", ".join(logins.users)
    return f"""
RASA gateway demo
  API        : {base}   (OpenAPI docs at {base}/docs)
  workspace  : {base}/web/   log in as {users} with password {DEMO_PASSWORD}
  metrics    : {base}/metrics (API), http://127.0.0.1:{metrics_port}/metrics (worker)
  database   : {settings.database_url}
  broker     : {settings.broker_url}
  centre     : {DEMO_CENTRE}  token {logins.centre_token}
  auditor    : token {logins.auditor_token}
  clock      : {settings.clock_date or "real date"} (GATEWAY_CLOCK_DATE)
  another port: make run PORT=8080 (or gateway demo --port 8080)

Submit the bundled examples:
  curl -s -X POST {base}/v1/submissions -H 'Authorization: Bearer {logins.centre_token}' \\
       -H 'Content-Type: application/xml' --data-binary @{example}
  .venv/bin/gateway submit --url {base} --token {logins.centre_token} {examples}/*.json
(each example can be accepted once: a document number is a centre's duplicate key)
"""


def announce(text: str, *, json_lines: bool) -> None:
    """The banner on stdout: as log lines in the JSON format (like every other line the
    demo prints), or as it is for a terminal. Written directly, not through the masking
    filter: the demo's tokens and password are there to be copied."""
    if not json_lines:
        print(text, flush=True)
        return
    formatter = logs.JsonFormatter()
    for line in filter(None, (raw.strip() for raw in text.splitlines())):
        record = log.makeRecord(log.name, logging.INFO, __file__, 0, line, (), None)
        print(formatter.format(record), flush=True)


def watch_worker(worker: subprocess.Popen[bytes], on_death: Callable[[int], None]) -> None:
    """Call ``on_death(exit code)`` from a daemon thread if the worker process ends."""

    def wait() -> None:
        on_death(worker.wait())

    threading.Thread(target=wait, name="demo-worker-watch", daemon=True).start()


def worker_died_message(code: int, metrics_port: int) -> str:
    return (
        f"gateway demo: the pricing worker stopped (exit status {code}); documents would be "
        f"accepted but never priced, so the demo stops too. Its own error is printed above "
        f"(its metrics port was {metrics_port}: set GATEWAY_WORKER_METRICS_PORT to choose "
        "another)."
    )


def run(
    *,
    host: str,
    port: int,
    worker_command: list[str],
    env: dict[str, str],
    logins: DemoLogins,
    metrics_port: int,
    examples: Path,
) -> int:
    """Run the API in this process and the worker beside it; returns the exit status."""
    import uvicorn

    from gateway.app import create_app
    from gateway.settings import get_settings

    # A session of its own: Ctrl-C reaches the demo alone, which stops the worker in
    # order (a SIGINT landing while the worker is still importing would print a trace).
    worker = subprocess.Popen(worker_command, env=env, start_new_session=True)
    settings = get_settings()
    logs.configure_logging(settings.log_level, settings.log_format)
    config = uvicorn.Config(
        create_app(settings), host=host, port=port, access_log=False, log_config=None
    )
    server = uvicorn.Server(config)
    died: list[int] = []

    def on_death(code: int) -> None:
        if server.should_exit:
            return  # stopping on purpose
        died.append(code)
        log.error(worker_died_message(code, metrics_port))
        server.should_exit = True

    watch_worker(worker, on_death)
    text = banner(base=f"http://{host}:{port}", logins=logins, metrics_port=metrics_port,
                  examples=examples)  # fmt: skip
    announce(text, json_lines=get_settings().log_format == "json")
    # uvicorn re-raises a SIGTERM it caught once it has shut down; the default action would
    # end this process before the worker is stopped, so SIGTERM becomes an exit instead.
    signal.signal(signal.SIGTERM, _exit_on_signal)
    try:
        server.run()
    finally:
        server.should_exit = True
        stop_worker(worker)
    return 1 if died else 0


def _exit_on_signal(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)


def stop_worker(worker: subprocess.Popen[bytes]) -> None:
    """Stop the worker: a warm shutdown of its main process (which ends its pool), then
    whatever is left of its process group is killed, so the demo leaves nothing behind."""
    worker.terminate()
    with contextlib.suppress(subprocess.TimeoutExpired):
        worker.wait(timeout=10)
    try:
        os.killpg(worker.pid, signal.SIGKILL)
    except ProcessLookupError:
        return
    worker.wait()
