"""Commands of the audit trail: verify the chain, and who read a patient's documents."""

from __future__ import annotations

import typer

from gateway.errors import GatewayError
from gateway.kit.cli import err, fail, open_sessions

audit_app = typer.Typer(help="The hash-chained audit trail.", no_args_is_help=True)


@audit_app.command("verify")
def audit_verify() -> None:
    """Check the whole audit chain; name the first broken entry (exit 1) or say it holds."""
    from gateway.audit import chain as audit

    with open_sessions()() as session:
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

    with open_sessions()() as session:
        try:
            readings = reads.who_read(session, national_id.strip())
        except GatewayError as error:
            fail(error)
    if not readings:
        typer.echo(f"no staff read of patient {national_id.strip()}'s documents is recorded")
        return
    for reading in readings:
        typer.echo(reads.describe(reading))
