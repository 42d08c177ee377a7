"""`gateway demo` (`make run`): sample data, then the API and one worker until interrupted,
and sample documents sent through that API once it answers (`demo_samples`).

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
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import httpx

from gateway import demo_samples as samples
from gateway import logs

if TYPE_CHECKING:
    import uvicorn

log = logging.getLogger("gateway.demo")
DEMO_CENTRE = "DEMO-001"
DEMO_DATE = "2026-11-23"
REVIEW_AMOUNT_THRESHOLD = 20_000_000  # rials
# Workspace accounts of the demo; the password is printed by `make run` and is only ever
# set on a demo database.
DEMO_USERS = (("auditor", "auditor", "Demo Auditor"), ("finance", "finance", "Demo Finance"))
DEMO_PASSWORD = "rasa-demo-1405"  # noqa: S105 - the demo's published login, not a secret


@dataclass(frozen=True)
class DemoLogins:
    centre_token: str
    auditor_token: str
    users: tuple[str, ...]
    # The sample centres' tokens, by centre code (DEMO-001's is centre_token).
    sample_tokens: dict[str, str] = field(default_factory=dict)


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
    # The sample documents ask at most a few tens of millions of rials: a lower review
    # threshold than production's sends the larger ones to the queue.
    os.environ.setdefault("GATEWAY_REVIEW_AMOUNT_THRESHOLD", str(REVIEW_AMOUNT_THRESHOLD))
    # The demo serves plain http on loopback: a Secure cookie would never come back.
    os.environ.setdefault("GATEWAY_COOKIE_SECURE", "false")
    port = os.environ.get("GATEWAY_WORKER_METRICS_PORT") or str(free_port())
    os.environ["GATEWAY_WORKER_METRICS_PORT"] = port
    return int(port)


def seed(token: str | None) -> DemoLogins:
    """Migrate, load the sample tariff and registries, and make the demo's logins."""
    from gateway.admin import service as admin
    from gateway.admin.registry import SAMPLE_REGISTRY_DIR, import_registry
    from gateway.domain.centres import Role
    from gateway.kit.db import engine_for, session_factory, transaction, upgrade
    from gateway.settings import get_settings

    settings = get_settings()
    upgrade(settings.database_url)
    with transaction(session_factory(engine_for(settings.database_url))) as session:
        if not admin.has_tariff(session):
            admin.import_tariff(session=session, directory=admin.SAMPLE_TARIFF_DIR, label="sample")
        import_registry(session=session, directory=SAMPLE_REGISTRY_DIR)
        centre = admin.centre_by_code(session, DEMO_CENTRE)  # the sample registry holds it
        centre_token = admin.add_token(
            session=session, role=Role.CENTRE, centre=centre, token=token
        )
        sample_tokens = {DEMO_CENTRE: centre_token}
        for code in samples.SAMPLE_CENTRES:
            if code not in sample_tokens:
                sample_centre = admin.centre_by_code(session, code)
                sample_tokens[code] = admin.add_token(
                    session=session, role=Role.CENTRE, centre=sample_centre, label="demo samples"
                )
        auditor_token = admin.add_token(session=session, role=Role.AUDITOR, centre=None)
        for username, role, name in DEMO_USERS:
            if not admin.user_exists(session, username):
                admin.add_staff_user(
                    session=session,
                    username=username,
                    display_name=name,
                    role=Role(role),
                    password=DEMO_PASSWORD,
                    actor="demo",
                )
    users = tuple(u for u, _, _ in DEMO_USERS)
    return DemoLogins(centre_token, auditor_token, users, sample_tokens)


def banner(*, base: str, logins: DemoLogins, metrics_port: int, examples: Path) -> str:
    from gateway.settings import get_settings

    settings = get_settings()
    example = examples / "outpatient-visit.xml"
    users = ", ".join(logins.users)
    sample_centres = ", ".join(samples.SAMPLE_CENTRES)
    sample_tokens = ", ".join(f"{code} {token}" for code, token in logins.sample_tokens.items())
    return f"""
RASA gateway demo
  API        : {base}   (OpenAPI docs at {base}/docs)
  workspace  : {base}/web/   log in as {users} with password {DEMO_PASSWORD}
  metrics    : {base}/metrics (API), http://127.0.0.1:{metrics_port}/metrics (worker)
  database   : {settings.database_url}
  broker     : {settings.broker_url}
  centre     : {DEMO_CENTRE}  token {logins.centre_token}
  auditor    : token {logins.auditor_token}
  samples    : {sample_centres} (tokens {sample_tokens}): sent through the API once it answers
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
    load_samples_when_ready(server, base=_local_base(host, port), logins=logins,
                            examples=examples.parent)  # fmt: skip
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


def _local_base(host: str, port: int) -> str:
    """The demo's own address for its sample loader (a wildcard host is reached on loopback)."""
    reach = "127.0.0.1" if host in ("", "0.0.0.0", "::") else host  # noqa: S104 - compared, not bound
    return f"http://{reach}:{port}"


def load_samples_when_ready(
    server: uvicorn.Server, *, base: str, logins: DemoLogins, examples: Path
) -> threading.Thread:
    """Once the server answers, send the sample documents through its API (in a daemon
    thread, so the demo is up at once and its samples arrive a few seconds later)."""
    from gateway.settings import get_settings, today

    batch = samples.build(examples=examples, today=today(get_settings()))
    # httpx logs every request at INFO; the API's access lines already say it once.
    logging.getLogger("httpx").setLevel(logging.WARNING)

    def load() -> None:
        while not server.started:
            if server.should_exit:
                return
            time.sleep(0.1)
        try:
            with httpx.Client(base_url=base, timeout=60) as client:
                loader = samples.SampleLoader(
                    client,
                    centre_tokens=logins.sample_tokens,
                    auditor_token=logins.auditor_token,
                    should_stop=lambda: bool(server.should_exit),
                )
                loaded = loader.load(batch)
        except httpx.HTTPError as error:
            if not server.should_exit:
                log.error("demo samples: not loaded: %s", error)
            return
        if not server.should_exit:
            announce_samples(loaded, base=base, logins=logins)

    thread = threading.Thread(target=load, name="demo-samples", daemon=True)
    thread.start()
    return thread


def announce_samples(loaded: samples.Loaded, *, base: str, logins: DemoLogins) -> None:
    """One line: what the samples left in the workspace, and how to log in to see it."""
    users = ", ".join(logins.users)
    if loaded.submitted:
        what = f"{loaded.submitted} sample submissions loaded"
    else:
        what = f"sample documents already loaded ({loaded.replayed} submissions)"
    text = f"{what}; workspace {base}/web/, log in as {users} with password {DEMO_PASSWORD}"
    from gateway.settings import get_settings

    if get_settings().log_format != "json":
        print(text, flush=True)
        return
    record = log.makeRecord(log.name, logging.INFO, __file__, 0, text, (), None)
    record.samples = loaded.as_log()
    record.login = {"url": f"{base}/web/", "users": list(logins.users), "password": DEMO_PASSWORD}
    print(logs.JsonFormatter().format(record), flush=True)


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
