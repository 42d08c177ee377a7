"""Commands of upkeep: dead letters, and the sweep for stuck work."""

from __future__ import annotations

from typing import Annotated

import typer

from gateway.errors import GatewayError
from gateway.kit.cli import err, fail, open_sessions
from gateway.settings import get_settings

dlq_app = typer.Typer(help="Dead letters: tasks given up on.", no_args_is_help=True)


@dlq_app.command("list")
def dlq_list(limit: int = 100) -> None:
    """Dead letters not yet replayed, oldest first."""
    from gateway.upkeep import deadletters

    with open_sessions()() as session:
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
        with transaction(open_sessions()) as session:
            written = deadletters.replay(session, None if replay_all else ids, "cli")
    except GatewayError as error:
        fail(error)
    typer.echo(f"{len(written)} message(s) queued again")


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
    with transaction(open_sessions()) as session:
        swept = sweeper.sweep(session, stuck_after=timedelta(seconds=seconds))
    typer.echo(f"re-queued {swept.documents} document(s) and {swept.batches} batch(es)")
