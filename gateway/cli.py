"""The ``gateway`` command line."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console
from sqlalchemy.orm import Session, sessionmaker

from gateway.admin.cli import centre_app, registry_app, tariff_app, token_app, user_app
from gateway.errors import GatewayError
from gateway.settings import PROJECT_ROOT, get_settings

app = typer.Typer(help="RASA-style health-document gateway.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
settlement_app = typer.Typer(help="Monthly settlement and payment.", no_args_is_help=True)
audit_app = typer.Typer(help="The hash-chained audit trail.", no_args_is_help=True)
dlq_app = typer.Typer(help="Dead letters: tasks given up on.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(centre_app, name="centre")
app.add_typer(token_app, name="token")
app.add_typer(tariff_app, name="tariff")
app.add_typer(registry_app, name="registry")
app.add_typer(user_app, name="user")
app.add_typer(settlement_app, name="settlement")
app.add_typer(audit_app, name="audit")
app.add_typer(dlq_app, name="dlq")

err = Console(stderr=True)
EXAMPLES_DIR = PROJECT_ROOT / "schemas" / "examples" / "valid"


def _fail(error: GatewayError) -> NoReturn:
    err.print(f"[red]{error.message}[/red]")
    for problem in error.to_problems():
        where = f" at {problem.path}" if problem.path else ""
        line = f" (line {problem.line})" if problem.line else ""
        err.print(f"  {problem.code}{where}{line}: {problem.message}")
    raise typer.Exit(1)


def _sessions() -> sessionmaker[Session]:
    from gateway.kit.db import engine_for, session_factory

    return session_factory(engine_for(get_settings().database_url))


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

    with transaction(_sessions()) as session:
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


@settlement_app.command("close")
def settlement_close(
    period: Annotated[str, typer.Option(help="The month to settle, YYYY-MM")],
) -> None:
    """Gather each centre's APPROVED documents up to PERIOD into payment orders."""
    from gateway.kit.db import transaction
    from gateway.settings import today
    from gateway.settlement import service as settlement

    try:
        with transaction(_sessions()) as session:
            closed = settlement.close_period(
                session, period=period, actor="cli", today=today(get_settings())
            )
            orders = [(o.id, o.centre_id, o.documents, o.insurer_amount) for o in closed.orders]
    except GatewayError as error:
        _fail(error)
    for order_id, centre_id, documents, insurer in orders:
        typer.echo(
            f"order {order_id}: centre {centre_id}, {documents} document(s), "
            f"insurer pays {insurer:,} rials"
        )
    typer.echo(f"period {period} closed: {len(orders)} payment order(s)")


@settlement_app.command("mark-paid")
def settlement_mark_paid(
    order: int, reference: Annotated[str, typer.Option(help="The bank's payment reference")]
) -> None:
    """Record that payment order ORDER was paid; its documents become PAID."""
    from gateway.kit.db import transaction
    from gateway.settlement import service as settlement

    try:
        with transaction(_sessions()) as session:
            settlement.mark_paid(session, order_id=order, reference=reference, actor="cli")
    except GatewayError as error:
        _fail(error)
    typer.echo(f"order {order} paid ({reference})")


@settlement_app.command("statement")
def settlement_statement(
    order: int,
    output_format: Annotated[str, typer.Option("--format", help="csv or json")] = "csv",
) -> None:
    """Print the remittance statement of payment order ORDER."""
    import orjson

    from gateway.settlement import service as settlement
    from gateway.storage.models import Centre

    with _sessions()() as session:
        try:
            found = settlement.get_order(session, order, None)
        except GatewayError as error:
            _fail(error)
        rows = settlement.statement_rows(session, found)
        header = settlement.order_json(found, session.get_one(Centre, found.centre_id))
    if output_format == "json":
        typer.echo(orjson.dumps({"order": header, "lines": rows}, option=orjson.OPT_INDENT_2))
    else:
        typer.echo(settlement.statement_csv(rows), nl=False)


@audit_app.command("verify")
def audit_verify() -> None:
    """Check the whole audit chain; name the first broken entry (exit 1) or say it holds."""
    from gateway.audit import chain as audit

    with _sessions()() as session:
        verdict = audit.verify(session)
    if verdict.ok:
        typer.echo(f"audit chain intact: {verdict.checked} entries")
        return
    where = f"entry {verdict.broken_seq}" + (
        f" (row id {verdict.broken_id})" if verdict.broken_id else ""
    )
    err.print(f"[red]audit chain broken at {where}[/red]: {verdict.problem}")
    err.print(f"{verdict.checked} entries before it are intact")
    raise typer.Exit(1)


@audit_app.command("who-read")
def audit_who_read(national_id: str) -> None:
    """Every recorded staff read of the documents of the patient with NATIONAL_ID, newest
    first: when, who (actor and role), through which route or scope, which documents."""
    from gateway.audit import reads

    with _sessions()() as session:
        try:
            readings = reads.who_read(session, national_id.strip())
        except GatewayError as error:
            _fail(error)
    if not readings:
        typer.echo(f"no staff read of patient {national_id.strip()}'s documents is recorded")
        return
    for reading in readings:
        typer.echo(reads.describe(reading))


@app.command()
def validate(
    files: list[Path],
    output: Annotated[str, typer.Option("--format", help="text or json")] = "text",
    registry: Annotated[
        Path | None, typer.Option(help="Folder with insured.csv / centres.csv")
    ] = None,
    tariff: Annotated[
        Path | None, typer.Option(help="Tariff folder (services.csv, k_coefficients.csv)")
    ] = None,
) -> None:
    """Check files offline exactly as the API would; exit 1 if any has errors.

    Without --registry, eligibility, contract and referral checks are skipped; without
    --tariff, code checks are; the report says which.
    """
    from gateway.submissions.offline import load_reference, validate_files

    try:
        reference = load_reference(registry, tariff)
    except GatewayError as error:
        _fail(error)
    raise typer.Exit(validate_files(files, output, reference))


@app.command()
def submit(
    files: Annotated[list[Path] | None, typer.Argument()] = None,
    url: Annotated[str, typer.Option(envvar="GATEWAY_URL")] = "http://127.0.0.1:8000",
    token: Annotated[str, typer.Option(envvar="GATEWAY_TOKEN")] = "",
    wait: Annotated[float, typer.Option(help="Seconds to wait for pricing; 0 = don't")] = 30.0,
    batch: Annotated[
        Path | None,
        typer.Option(help="Send this file as a batch (POST /v1/batches) and follow it"),
    ] = None,
    gzip: Annotated[bool, typer.Option("--gzip", help="Compress the batch on the way")] = False,
) -> None:
    """Send files to a running gateway and follow each document until it is priced; or,
    with --batch, upload one large file with a progress bar and follow the batch (exit 1
    when the batch fails)."""
    from gateway.submissions.client import submit_batch, submit_files

    if not token:
        err.print("a token is needed: --token or GATEWAY_TOKEN")
        raise typer.Exit(2)
    if batch is not None:
        if files:
            err.print("give either FILES or --batch FILE, not both")
            raise typer.Exit(2)
        raise typer.Exit(submit_batch(batch, url=url, token=token, gzip=gzip, wait=wait))
    if not files:
        err.print("nothing to send: give FILES, or --batch FILE")
        raise typer.Exit(2)
    raise typer.Exit(submit_files(files, url=url, token=token, wait=wait))


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


@dlq_app.command("list")
def dlq_list(limit: int = 100) -> None:
    """Dead letters not yet replayed, oldest first."""
    from gateway.upkeep import deadletters

    with _sessions()() as session:
        letters = deadletters.open_letters(session, limit)
        rows = [(d.id, d.failed_at, d.task, d.retries, d.payload, d.error) for d in letters]
    for letter_id, failed_at, task, retries, payload, error in rows:
        typer.echo(f"{letter_id}\t{failed_at:%Y-%m-%d %H:%M:%S}\t{task}\tretries={retries}")
        typer.echo(f"\tpayload {payload}")
        typer.echo(f"\terror   {error.splitlines()[0] if error else ''}")
    typer.echo(f"{len(rows)} open dead letter(s)")


@dlq_app.command("replay")
def dlq_replay(
    ids: Annotated[list[int] | None, typer.Argument(help="Dead letter ids")] = None,
    replay_all: Annotated[bool, typer.Option("--all", help="Every open dead letter")] = False,
) -> None:
    """Queue dead letters again through the outbox (the relay publishes them)."""
    from gateway.kit.db import transaction
    from gateway.upkeep import deadletters

    if not ids and not replay_all:
        err.print("name dead letter ids, or --all")
        raise typer.Exit(2)
    try:
        with transaction(_sessions()) as session:
            written = deadletters.replay(session, None if replay_all else ids, "cli")
    except GatewayError as error:
        _fail(error)
    typer.echo(f"{len(written)} message(s) queued again")


@app.command()
def sweep(
    stuck_after: Annotated[
        float | None, typer.Option(help="Seconds; default GATEWAY_STUCK_AFTER_S")
    ] = None,
) -> None:
    """Re-queue stuck work now (the API process also does it every GATEWAY_SWEEP_INTERVAL_S)."""
    from datetime import timedelta

    from gateway.kit.db import transaction
    from gateway.upkeep import sweeper

    seconds = stuck_after if stuck_after is not None else get_settings().stuck_after_s
    with transaction(_sessions()) as session:
        swept = sweeper.sweep(session, stuck_after=timedelta(seconds=seconds))
    typer.echo(f"re-queued {swept.documents} document(s) and {swept.batches} batch(es)")
