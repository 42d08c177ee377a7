"""Commands of monthly settlement: close a period, mark an order paid, write a statement."""

from __future__ import annotations

from typing import Annotated

import typer

from gateway.errors import GatewayError
from gateway.kit.cli import fail, open_sessions
from gateway.settings import get_settings

settlement_app = typer.Typer(help="Monthly settlement and payment.", no_args_is_help=True)


@settlement_app.command("close")
def settlement_close(
    period: Annotated[str, typer.Option(help="The month to settle, YYYY-MM")],
) -> None:
    """Gather each centre's APPROVED documents up to PERIOD into payment orders."""
    from gateway.kit.db import transaction
    from gateway.settings import today
    from gateway.settlement import service as settlement

    try:
        with transaction(open_sessions()) as session:
            closed = settlement.close_period(
                session, period=period, actor="cli", today=today(get_settings())
            )
            orders = [(o.id, o.centre_id, o.documents, o.insurer_amount) for o in closed.orders]
    except GatewayError as error:
        fail(error)
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
        with transaction(open_sessions()) as session:
            settlement.mark_paid(session, order_id=order, reference=reference, actor="cli")
    except GatewayError as error:
        fail(error)
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

    with open_sessions()() as session:
        try:
            found = settlement.get_order(session, order, None)
        except GatewayError as error:
            fail(error)
        rows = settlement.statement_rows(session, found)
        header = settlement.order_json(found, session.get_one(Centre, found.centre_id))
    if output_format == "json":
        typer.echo(orjson.dumps({"order": header, "lines": rows}, option=orjson.OPT_INDENT_2))
    else:
        typer.echo(settlement.statement_csv(rows), nl=False)
