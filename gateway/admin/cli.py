"""Commands of administration: centres, tokens, staff accounts, the tariff book and
the registries."""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from gateway.domain.centres import CentreKind, Role, Sector
from gateway.errors import GatewayError
from gateway.kit.cli import err, fail, open_sessions

if TYPE_CHECKING:
    from gateway.admin.repository import CentreRow

centre_app = typer.Typer(help="Health centres and their tokens.", no_args_is_help=True)
token_app = typer.Typer(help="Bearer tokens of centres and staff.", no_args_is_help=True)
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
    centre: Annotated[
        str | None, typer.Option(help="The centre's code (centre tokens only)")
    ] = None,
    expires_days: Annotated[
        int | None, typer.Option(help="Days until the token expires; default: never")
    ] = None,
) -> None:
    """Create a token and print it alone on the last line; a centre token names its centre
    with --centre (any stored centre, also one loaded by `gateway registry import`)."""
    from datetime import UTC, datetime, timedelta

    from gateway.admin import service as admin
    from gateway.kit.db import transaction

    if (role is Role.CENTRE) != (centre is not None):
        err.print("--centre CODE goes with a centre token, and only with one")
        raise typer.Exit(2)
    expires = datetime.now(UTC) + timedelta(days=expires_days) if expires_days else None
    try:
        with transaction(open_sessions()) as session:
            found = None
            if centre is not None:
                found = admin.centre_by_code(session, centre)
            secret = admin.add_token(
                session=session,
                role=role,
                centre=found,
                label=label,
                token=token,
                expires_at=expires,
            )
    except GatewayError as error:
        fail(error)
    typer.echo(f"{role} token{f' of centre {centre}' if centre else ''}, shown once:")
    typer.echo(secret)


def _when(at: datetime | None) -> str:
    return at.strftime("%Y-%m-%d %H:%M") if at else "-"


@token_app.command("list")
def token_list() -> None:
    """Every token: id, role, centre, created, expires, revoked, label and the first 12
    characters of its hash (the audit log's subject). The token itself is never stored."""
    from gateway.admin import service as admin
    from gateway.kit.db import transaction

    with transaction(open_sessions()) as session:
        rows = admin.list_tokens(session=session)
        lines = [
            "\t".join(
                (
                    str(row.token.id),
                    row.token.role,
                    row.centre_code or "-",
                    _when(row.token.created_at),
                    _when(row.token.expires_at),
                    _when(row.token.revoked_at),
                    row.token.token_hash[:12],
                    row.token.label,
                )
            )
            for row in rows
        ]
    typer.echo("id\trole\tcentre\tcreated\texpires\trevoked\thash\tlabel")
    for line in lines:
        typer.echo(line)


@token_app.command("rotate")
def token_rotate(
    token_id: Annotated[int, typer.Argument(metavar="ID", help="The token's id (token list)")],
    grace_hours: Annotated[
        float, typer.Option(help="Hours the old token keeps working; default: revoked now")
    ] = 0,
) -> None:
    """Give the token's role and centre a new token (printed alone on the last line) and
    revoke the old one, at once or after --grace-hours."""
    from datetime import timedelta

    from gateway.admin import service as admin
    from gateway.kit.db import transaction

    if grace_hours < 0:
        err.print("--grace-hours cannot be negative")
        raise typer.Exit(2)
    grace = timedelta(hours=grace_hours) if grace_hours else None
    try:
        with transaction(open_sessions()) as session:
            fresh, secret = admin.rotate_token(session=session, token_id=token_id, grace=grace)
            fresh_id = fresh.id
    except GatewayError as error:
        fail(error)
    after = f"expires in {grace_hours:g} hour(s)" if grace else "is revoked"
    typer.echo(f"token {token_id} {after}; its successor {fresh_id}, shown once:")
    typer.echo(secret)


@token_app.command("revoke")
def token_revoke(
    token: Annotated[str | None, typer.Argument(help="The token itself")] = None,
    token_id: Annotated[int | None, typer.Option("--id", help="The token's id instead")] = None,
) -> None:
    """Revoke a token, named by itself or by --id (it stops working within
    GATEWAY_TOKEN_CACHE_S seconds)."""
    from gateway.admin import service as admin
    from gateway.kit.db import transaction

    if (token is None) == (token_id is None):
        err.print("name the token, or its --id (one of the two)")
        raise typer.Exit(2)
    try:
        with transaction(open_sessions()) as session:
            revoked = admin.revoke_token(session=session, token=token, token_id=token_id)
            revoked_id = revoked.id
    except GatewayError as error:
        fail(error)
    typer.echo(f"token {revoked_id} revoked")


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

    password = _new_password(password_stdin)
    try:
        with transaction(open_sessions()) as session:
            admin.add_staff_user(
                session=session, username=username, display_name=name, role=role, password=password
            )
    except GatewayError as error:
        fail(error)
    typer.echo(f"user {username} ({role}) created")


def _new_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    return str(typer.prompt("New password", hide_input=True, confirmation_prompt=True))


@user_app.command("list")
def user_list() -> None:
    """Every workspace account: user name, role, created, disabled (or -), display name."""
    from gateway.admin import service as admin
    from gateway.kit.db import transaction

    with transaction(open_sessions()) as session:
        lines = [
            f"{u.username}\t{u.role}\t{_when(u.created_at)}\t{_when(u.disabled_at)}\t"
            f"{u.display_name}"
            for u in admin.list_users(session=session)
        ]
    typer.echo("user\trole\tcreated\tdisabled\tname")
    for line in lines:
        typer.echo(line)


def _account_change(change: str, username: str, password: str = "") -> None:
    from gateway.admin import service as admin
    from gateway.kit.db import transaction

    try:
        with transaction(open_sessions()) as session:
            if change == "disable":
                admin.disable_user(session=session, username=username)
            elif change == "enable":
                admin.enable_user(session=session, username=username)
            else:
                admin.reset_password(session=session, username=username, password=password)
    except GatewayError as error:
        fail(error)


@user_app.command("disable")
def user_disable(username: str) -> None:
    """Shut an account; every workspace session of it ends at once."""
    _account_change("disable", username)
    typer.echo(f"user {username} disabled; their sessions are ended")


@user_app.command("enable")
def user_enable(username: str) -> None:
    """Open a disabled account again (its old sessions stay ended)."""
    _account_change("enable", username)
    typer.echo(f"user {username} enabled")


@user_app.command("reset-password")
def user_reset_password(
    username: str,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input")
    ] = False,
) -> None:
    """Give an account a new password (asked for, or read from stdin); every session of
    the account ends."""
    _account_change("password", username, _new_password(password_stdin))
    typer.echo(f"password of {username} reset; their sessions are ended")


def _centre_line(row: CentreRow) -> str:
    c = row.centre
    contract = f"{c.contract_from or '-'}..{c.contract_to or '-'}"
    return "\t".join(
        (c.code, c.kind, c.sector, c.province or "-", contract, str(row.live_tokens), c.name)
    )


CENTRE_HEADER = "code\tkind\tsector\tprovince\tcontract\ttokens\tname"


@centre_app.command("list")
def centre_list() -> None:
    """Every centre: code, kind, sector, province, contract period, live tokens, name."""
    from gateway.admin import service as admin
    from gateway.kit.db import transaction

    with transaction(open_sessions()) as session:
        lines = [_centre_line(row) for row in admin.list_centres(session=session)]
    typer.echo(CENTRE_HEADER)
    for line in lines:
        typer.echo(line)


@centre_app.command("show")
def centre_show(code: str) -> None:
    """One centre and its tokens (id, role, created, expires, revoked, hash's first 12)."""
    from gateway.admin import service as admin
    from gateway.kit.db import transaction

    try:
        with transaction(open_sessions()) as session:
            row, tokens = admin.show_centre(session=session, code=code)
            head = _centre_line(row)
            lines = [
                f"token {t.token.id}\t{t.token.role}\tcreated {_when(t.token.created_at)}\t"
                f"expires {_when(t.token.expires_at)}\trevoked {_when(t.token.revoked_at)}\t"
                f"{t.token.token_hash[:12]}\t{t.token.label}"
                for t in tokens
            ]
    except GatewayError as error:
        fail(error)
    typer.echo(CENTRE_HEADER)
    typer.echo(head)
    for line in lines:
        typer.echo(line)


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
    from gateway.pricing import repository as tariffs
    from gateway.pricing.tariff_csv import write_book

    with transaction(open_sessions()) as session:
        chosen = version or tariffs.latest_tariff_version(session)
        if chosen is None or tariffs.tariff_version(session, chosen) is None:
            fail(GatewayError("No such tariff version is stored." if chosen else "No tariff.", 2))
        book = tariffs.load_tariff_book(session, chosen)
    for path in write_book(book, directory):
        typer.echo(path)
    typer.echo(f"tariff version {chosen} ({book.label}) exported to {directory}")


@tariff_app.command("versions")
def tariff_versions() -> None:
    """List the stored tariff versions, newest last."""
    from gateway.kit.db import transaction
    from gateway.pricing import repository as tariffs

    with transaction(open_sessions()) as session:
        for row in tariffs.tariff_versions(session):
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
