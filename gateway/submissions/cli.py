"""Commands of submissions: validate files offline, and submit them to a running gateway."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from gateway.errors import GatewayError
from gateway.kit.cli import err, fail


def validate(
    files: Annotated[list[Path] | None, typer.Argument()] = None,
    output: Annotated[str, typer.Option("--format", help="text or json")] = "text",
    registry: Annotated[
        Path | None, typer.Option(help="Folder with insured.csv / centres.csv")
    ] = None,
    tariff: Annotated[
        Path | None, typer.Option(help="Tariff folder (services.csv, k_coefficients.csv)")
    ] = None,
    batch: Annotated[
        Path | None,
        typer.Option(help="Check this large file document by document, as POST /v1/batches"),
    ] = None,
) -> None:
    """Check files offline exactly as the API would, its size limits included; exit 1 if
    any has errors. With --batch, check one large file document by document as the batch
    endpoint would, with counts and each faulty document.

    Without --registry, eligibility, contract and referral checks are skipped; without
    --tariff, code checks are; the report says which.
    """
    from gateway.submissions.offline import load_reference, validate_files
    from gateway.submissions.offline_batch import validate_batch

    if batch is not None and files:
        err.print("give either FILES or --batch FILE, not both")
        raise typer.Exit(2)
    if batch is None and not files:
        err.print("nothing to check: give FILES, or --batch FILE")
        raise typer.Exit(2)
    try:
        reference = load_reference(registry, tariff)
    except GatewayError as error:
        fail(error)
    if batch is not None:
        raise typer.Exit(validate_batch(batch, output, reference))
    raise typer.Exit(validate_files(files or [], output, reference))


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
    import httpx

    from gateway.submissions.client import submit_batch, submit_files, unreachable

    if not token:
        err.print("a token is needed: --token or GATEWAY_TOKEN")
        raise typer.Exit(2)
    if batch is not None:
        if files:
            err.print("give either FILES or --batch FILE, not both")
            raise typer.Exit(2)
    elif not files:
        err.print("nothing to send: give FILES, or --batch FILE")
        raise typer.Exit(2)
    try:
        if batch is not None:
            status = submit_batch(batch, url=url, token=token, gzip=gzip, wait=wait)
        else:
            status = submit_files(files or [], url=url, token=token, wait=wait)
    except httpx.TransportError as error:
        err.print(unreachable(url, error), soft_wrap=True, highlight=False)
        raise typer.Exit(1) from None
    except OSError as error:
        err.print(f"cannot read {error.filename}: {error.strerror}", soft_wrap=True)
        raise typer.Exit(1) from None
    raise typer.Exit(status)
