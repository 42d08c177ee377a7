"""The ``gateway`` command line."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Annotated

import typer

from gateway.admin.cli import centre_app, registry_app, tariff_app, token_app, user_app
from gateway.audit.cli import audit_app
from gateway.kit.cli import open_sessions
from gateway.payers.cli import payers_app
from gateway.settings import PROJECT_ROOT, get_settings
from gateway.settlement.cli import settlement_app
from gateway.submissions.cli import submit, validate
from gateway.upkeep.cli import dlq_app, sweep

app = typer.Typer(help="RASA-style health-document gateway.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(centre_app, name="centre")
app.add_typer(token_app, name="token")
app.add_typer(tariff_app, name="tariff")
app.add_typer(registry_app, name="registry")
app.add_typer(user_app, name="user")
app.add_typer(settlement_app, name="settlement")
app.add_typer(payers_app, name="payers")
app.add_typer(audit_app, name="audit")
app.add_typer(dlq_app, name="dlq")

EXAMPLES_DIR = PROJECT_ROOT / "schemas" / "examples" / "valid"


def _multiprocess_env(kind: str) -> dict[str, str]:
    """An environment whose metrics directory is fresh (stale files would skew counters)."""
    env = dict(os.environ)
    directory = env.get("PROMETHEUS_MULTIPROC_DIR")
    if not directory:
        directory = tempfile.mkdtemp(prefix=f"gateway-{kind}-metrics-")
    else:
        shutil.rmtree(directory, ignore_errors=True)
    Path(directory).mkdir(parents=True, exist_ok=True)
    env["PROMETHEUS_MULTIPROC_DIR"] = directory
    return env


@db_app.command("upgrade")
def db_upgrade(revision: str = "head") -> None:
    """Create or migrate the database to the newest schema."""
    from gateway.kit.db import upgrade

    upgrade(get_settings().database_url, revision)
    typer.echo(f"database at {revision}")


@db_app.command("partitions")
def db_partitions(
    months_ahead: Annotated[int, typer.Option(help="Months after this one to make")] = 3,
) -> None:
    """Make the coming months' partitions (PostgreSQL; the sweeper also does) and list them."""
    from gateway.kit.db import transaction
    from gateway.upkeep import partitions

    with transaction(open_sessions()) as session:
        made = partitions.ensure_months(session, months_ahead=months_ahead)
        found = partitions.partitions(session)
    if not found:
        typer.echo("no partitioned tables on this database")
        return
    for each in found:
        typer.echo(f"{each.name:32} {each.bounds:80} ~{each.rows} rows")
    typer.echo(f"{made} partition(s) made")


@app.command()
def serve(
    host: str = "127.0.0.1",
    port: int = 8000,
    workers: Annotated[int, typer.Option(help="API processes")] = 1,
) -> None:
    """Run the HTTP API (with the outbox relay)."""
    import uvicorn

    if workers > 1:
        os.environ.update(_multiprocess_env("api"))
    from gateway.logs import configure_logging

    # log_config=None: uvicorn keeps its hands off logging; every process logs JSON lines
    # through gateway.logs (gateway.main configures it), one access line per request.
    configure_logging(get_settings().log_level, get_settings().log_format)
    uvicorn.run(
        "gateway.main:app",
        host=host,
        port=port,
        workers=workers,
        access_log=False,
        log_config=None,
    )


def _worker_command(concurrency: int, pool: str, loglevel: str) -> list[str]:
    return [
        sys.executable, "-m", "workers.main",
        "--concurrency", str(concurrency), "--pool", pool, "--loglevel", loglevel,
        "--hostname", f"pricing-{os.getpid()}@%h", "--without-gossip", "--without-mingle",
    ]  # fmt: skip


@app.command()
def worker(
    concurrency: int = 2,
    pool: Annotated[str, typer.Option(help="prefork, threads or solo")] = "prefork",
    loglevel: str = "INFO",
) -> None:
    """Run a Celery worker that prices documents."""
    env = _multiprocess_env("worker")
    command = _worker_command(concurrency, pool, loglevel)
    os.execve(sys.executable, command, env)  # noqa: S606 - replaces this process, no shell


@app.command()
def demo(
    port: int = 8000,
    host: str = "127.0.0.1",
    token: Annotated[str | None, typer.Option(help="The demo centre's token")] = None,
) -> None:
    """Seed sample data, then run the API and a worker together until interrupted."""
    from gateway import demo as demo_run

    metrics_port = demo_run.prepare_environment()
    get_settings.cache_clear()
    logins = demo_run.seed(token)
    status = demo_run.run(
        host=host,
        port=port,
        worker_command=_worker_command(1, "prefork", "WARNING"),
        env=_multiprocess_env("worker"),
        logins=logins,
        metrics_port=metrics_port,
        examples=EXAMPLES_DIR,
    )
    raise typer.Exit(status)


# Each feature owns its commands and command groups; this module composes them.
app.command()(validate)
app.command()(submit)
app.command()(sweep)
