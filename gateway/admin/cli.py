"""Commands of administration: centres, tokens, staff accounts, the tariff book and
the registries."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from gateway.domain.centres import CentreKind, Role, Sector
from gateway.errors import GatewayError
from gateway.kit.cli import err, fail, open_sessions

centre_app = typer.Typer(help="Health centres and their tokens.", no_args_is_help=True)
token_app = typer.Typer(help="Tokens for auditors and administrators.", no_args_is_help=True)
user_app = typer.Typer(
    help="Workspace accounts of auditors, finance and admins.", no_args_is_help=True
)
tariff_app = typer.Typer(help="The tariff book.", no_args_is_help=True)
registry_app = typer.Typer(help="Insured persons and centres.", no_args_is_help=True)


@centre_app.command("add")
def centre_add(
    code: str,
    name: Annotated[str, typer.Option()] = "",
    kind: CentreKind = CentreKind.CONTRACTED,
    sector: Sector = Sector.PRIVATE,
    province: str | None = None,
    token: Annotated[
        str | None, typer.Option(help="Use this token instead of a random one")
    ] = None,
) -> None:
    """Register a centre and print its new token alone on the last line."""
    from gateway.admin import service as admin
    from gateway.kit.db import transaction

    try:
        with transaction(open_sessions()) as session:
            centre = admin.add_centre(
                session=session,
                code=code,
                name=name or code,
                kind=kind,
                sector=sector,
                province=province,
            )
            secret = admin.add_token(session=session, role=Role.CENTRE, centre=centre, token=token)
    except GatewayError as error:
        fail(error)
    typer.echo(f"centre {code} registered ({kind}, {sector}); its token, shown once:")
    typer.echo(secret)


@token_app.command("add")
def token_add(
    role: Role,
    label: str = "",
    token: Annotated[str | None, typer.Option()] = None,
    expires_days: Annotated[
        int | None, typer.Option(help="Days until the token expires; default: never")
    ] = None,
) -> None:
    """Create an auditor, finance or admin token and print it alone on the last line."""
    from datetime import UTC, datetime, timedelta

    from gateway.admin import service as admin
    from gateway.kit.db import transaction

    if role is Role.CENTRE:
        err.print("use `gateway centre add` for centre tokens")
        raise typer.Exit(2)
    expires = datetime.now(UTC) + timedelta(days=expires_days) if expires_days else None
    with transaction(open_sessions()) as session:
        secret = admin.add_token(
            session=session, role=role, centre=None, label=label, token=token, expires_at=expires
        )
    typer.echo(f"{role} token, shown once:")
    typer.echo(secret)


@token_app.command("revoke")
def token_revoke(token: str) -> None:
    """Revoke a token (it stops working within GATEWAY_TOKEN_CACHE_S seconds)."""
    from gateway.admin import service as admin
    from gateway.kit.db import transaction

    try:
        with transaction(open_sessions()) as session:
            admin.revoke_token(session=session, token=token)
    except GatewayError as error:
        fail(error)
    typer.echo("revoked")


@user_app.command("add")
def user_add(
    username: str,
    role: Annotated[Role, typer.Option(help="auditor, finance or admin")],
    name: str = "",
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input")
    ] = False,
) -> None:
    """Create a workspace account; the password is asked for (or read from stdin)."""

    from gateway.admin import service as admin
    from gateway.kit.db import transaction

    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        with transaction(open_sessions()) as session:
            admin.add_staff_user(
                session=session, username=username, display_name=name, role=role, password=password
            )
    except GatewayError as error:
        fail(error)
    typer.echo(f"user {username} ({role}) created")


@tariff_app.command("import")
def tariff_import(directory: Path, label: str | None = None) -> None:
    """Load a tariff book (services.csv, k_coefficients.csv and, for packages,
    package_prices.csv and package_contents.csv) from DIRECTORY as a new version."""
    from gateway.admin import service as admin
    from gateway.kit.db import transaction

    try:
        with transaction(open_sessions()) as session:
            version = admin.import_tariff(session=session, directory=directory, label=label)
    except GatewayError as error:
        fail(error)
    typer.echo(f"tariff version {version} imported from {directory}")


@tariff_app.command("export")
def tariff_export(
    directory: Path,
    version: Annotated[
        int | None, typer.Option(help="Tariff version to export; default: the newest")
    ] = None,
) -> None:
    """Write a stored tariff version to DIRECTORY as the CSV files `tariff import` reads."""
    from gateway.kit.db import transaction
    from gateway.pricing.tariff_csv import write_book
    from gateway.storage import repository

    with transaction(open_sessions()) as session:
        chosen = version or repository.latest_tariff_version(session)
        if chosen is None or repository.tariff_version(session, chosen) is None:
            fail(GatewayError("No such tariff version is stored." if chosen else "No tariff.", 2))
        book = repository.load_tariff_book(session, chosen)
    for path in write_book(book, directory):
        typer.echo(path)
    typer.echo(f"tariff version {chosen} ({book.label}) exported to {directory}")


@tariff_app.command("versions")
def tariff_versions() -> None:
    """List the stored tariff versions, newest last."""
    from gateway.kit.db import transaction
    from gateway.storage import repository

    with transaction(open_sessions()) as session:
        for row in repository.tariff_versions(session):
            typer.echo(
                f"{row.id}\t{row.imported_at:%Y-%m-%d %H:%M}\t{row.sha256[:12]}\t{row.label}"
            )


@registry_app.command("import")
def registry_import(directory: Path) -> None:
    """Load insured.csv and/or centres.csv from DIRECTORY (people replaced, centres upserted)."""
    from gateway.admin.registry import import_registry
    from gateway.kit.db import transaction

    try:
        with transaction(open_sessions()) as session:
            people, centres = import_registry(session=session, directory=directory)
    except GatewayError as error:
        fail(error)
    typer.echo(f"{people} insured person(s) and {centres} centre(s) imported from {directory}")
