"""Commands of the payers: programmes, enrolments, donations, donors' reports and the
supplementary insurers' statements (actor "cli" in the audit trail)."""

from __future__ import annotations

from datetime import date
from typing import Annotated

import typer

from gateway.domain.payers import DiagnosisGroup, EarmarkKind
from gateway.errors import GatewayError
from gateway.kit.cli import fail, open_sessions

payers_app = typer.Typer(help="Supplementary insurers and the charity fund.", no_args_is_help=True)


@payers_app.command("programme-add")
def programme_add(
    code: str,
    name: Annotated[str, typer.Option(help="The programme's name")],
    ceiling: Annotated[int, typer.Option(help="Rials per patient per insurance year")],
    group: Annotated[list[DiagnosisGroup], typer.Option(help="A diagnosis group it covers")],
    province: Annotated[str | None, typer.Option(help="Its province; none: national")] = None,
    centre: Annotated[
        list[str] | None, typer.Option(help="A centre it pays (default: all)")
    ] = None,
) -> None:
    """Create the charity programme CODE."""
    from gateway.kit.db import transaction
    from gateway.payers import funds

    try:
        with transaction(open_sessions()) as session:
            funds.create_programme(
                session,
                code=code,
                name=name,
                province=province,
                diagnosis_groups=list(group),
                patient_annual_ceiling=ceiling,
                centres=list(centre or []),
                actor="cli",
            )
    except GatewayError as error:
        fail(error)
    typer.echo(f"programme {code} created")


@payers_app.command("enrol")
def enrol(
    programme: str,
    national_id: str,
    group: Annotated[DiagnosisGroup, typer.Option(help="The patient's diagnosis group")],
    valid_from: Annotated[str, typer.Option(help="First day, YYYY-MM-DD")],
    valid_to: Annotated[str | None, typer.Option(help="Last day, YYYY-MM-DD")] = None,
) -> None:
    """Enrol the patient NATIONAL_ID in PROGRAMME."""
    from gateway.kit.db import transaction
    from gateway.payers import funds

    try:
        with transaction(open_sessions()) as session:
            funds.enrol(
                session,
                programme_code=programme,
                national_id=national_id,
                diagnosis_group=group,
                valid_from=date.fromisoformat(valid_from),
                valid_to=date.fromisoformat(valid_to) if valid_to else None,
                actor="cli",
            )
    except (GatewayError, ValueError) as error:
        fail(error if isinstance(error, GatewayError) else GatewayError(str(error), 422))
    typer.echo(f"{national_id} enrolled in {programme}")


@payers_app.command("donation-add")
def donation_add(
    donor: str,
    amount: int,
    received_on: Annotated[str, typer.Option(help="YYYY-MM-DD")],
    earmark_kind: Annotated[
        EarmarkKind | None, typer.Option(help="What it is earmarked for")
    ] = None,
    earmark_value: Annotated[str | None, typer.Option(help="The earmark's value")] = None,
    message: Annotated[str, typer.Option(help="The donor's message")] = "",
) -> None:
    """Record a donation of AMOUNT rials from DONOR; prints its receipt number last."""
    from gateway.kit.db import transaction
    from gateway.payers import funds

    try:
        with transaction(open_sessions()) as session:
            row = funds.record_donation(
                session,
                donor=donor,
                amount=amount,
                received_on=date.fromisoformat(received_on),
                earmark_kind=earmark_kind,
                earmark_value=earmark_value,
                message=message,
                actor="cli",
            )
            receipt = row.receipt_number
    except (GatewayError, ValueError) as error:
        fail(error if isinstance(error, GatewayError) else GatewayError(str(error), 422))
    typer.echo(receipt)


@payers_app.command("donor-report")
def donor_report(receipt: str) -> None:
    """Print what the donation RECEIPT paid for (CSV), and its total."""
    from gateway.kit.db import transaction
    from gateway.payers import funds

    try:
        with transaction(open_sessions()) as session:
            standing, rows = funds.donor_report(session, receipt=receipt, actor="cli")
    except GatewayError as error:
        fail(error)
    typer.echo("month,centre,document_kind,line_kind,patients,services,amount")
    for row in rows:
        typer.echo(
            f"{row.month},{row.centre},{row.document_kind},{row.line_kind},"
            f"{row.patients},{row.services},{row.amount}"
        )
    typer.echo(
        f"# given {standing.given:,} of {standing.donation.amount:,}; holds {standing.held:,}"
    )


@payers_app.command("statement")
def statement(
    insurer: str, period: Annotated[str, typer.Option(help="Month of service, YYYY-MM")]
) -> None:
    """Print supplementary insurer INSURER's statement for PERIOD as CSV."""
    from gateway.payers import statements

    with open_sessions()() as session:
        try:
            lines = statements.insurer_statement(session, insurer=insurer, period=period)
        except GatewayError as error:
            fail(error)
    typer.echo(statements.statement_csv(lines), nl=False)
