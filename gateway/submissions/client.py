"""A small HTTP client for ``gateway submit``: send files (or one batch file), then follow
their documents.

A server that cannot be reached is one line (``unreachable``), never a traceback; a body
over the server's limits is answered with the way to send it instead (``--batch``).
"""

from __future__ import annotations

import time
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TaskID, TextColumn

from gateway.submissions.offline import format_of_file
from validators.schema import Format

# Where following a document stops: pricing is over, or will never come.
FINAL = {
    "PRICED",
    "REJECTED",
    "UNDER_REVIEW",
    "INFO_REQUESTED",
    "APPROVED",
    "DENIED",
    "PAID",
    "VOIDED",
}
CONTENT_TYPES = {Format.XML: "application/xml", Format.JSON: "application/json"}
BATCH_HINT = (
    "too large for one submission: send it with `gateway submit --batch FILE` "
    "(POST /v1/batches), which takes large files and reads them document by document"
)


def unreachable(url: str, error: httpx.TransportError) -> str:
    """One line saying why ``url`` could not be reached (``error`` from httpx)."""
    cause: BaseException = error
    while cause.__cause__ is not None or cause.__context__ is not None:
        cause = cause.__cause__ or cause.__context__ or cause
    reason = str(cause) or str(error) or type(error).__name__
    if isinstance(cause, OSError) and cause.strerror:
        reason = cause.strerror
    elif isinstance(error, httpx.TimeoutException):
        reason = "no answer in time"
    return f"cannot reach {url}: {reason[:1].lower()}{reason[1:]}"


def _errors(response: httpx.Response) -> list[dict[str, Any]]:
    """The structured errors of an answer, or one made of its status when it has none."""
    try:
        found = response.json().get("errors")
    except (ValueError, AttributeError):
        found = None
    if isinstance(found, list) and all(isinstance(e, dict) for e in found):
        return found
    return [{"code": f"http.{response.status_code}", "message": response.reason_phrase}]


def _print_refusal(console: Console, path: Path, response: httpx.Response) -> None:
    console.print(f"{path}: [red]{response.status_code}[/red]")
    errors = _errors(response)
    for e in errors:
        console.print(f"  {e.get('code')} {e.get('path') or ''}: {e.get('message')}")
    codes = {e.get("code") for e in errors}
    if response.status_code == 413 or "submission.too-many-documents" in codes:
        console.print(f"  hint: {path.name} is {BATCH_HINT}")


def submit_files(files: list[Path], *, url: str, token: str, wait: float) -> int:
    console = Console(highlight=False, soft_wrap=True)
    failures = 0
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=url, headers=headers, timeout=60) as client:
        for path in files:
            content_type = CONTENT_TYPES[format_of_file(path)]
            response = client.post(
                "/v1/submissions",
                content=path.read_bytes(),
                headers={"Content-Type": content_type},
            )
            if response.status_code != 202:
                failures += 1
                _print_refusal(console, path, response)
                continue
            body = response.json()
            console.print(f"{path}: {body['status']} submission {body['id']}")
            for document in body["documents"]:
                failures += document["status"] == "REJECTED"
                _follow(client, console, document, wait)
    return 1 if failures else 0


def _follow(client: httpx.Client, console: Console, document: dict[str, Any], wait: float) -> None:
    deadline = time.monotonic() + wait
    detail = document
    while detail["status"] not in FINAL and time.monotonic() < deadline:
        time.sleep(0.3)
        detail = client.get(document["url"]).json()
    line = f"  {document['external_id']}: {detail['status']}"
    totals = detail.get("totals")
    if totals and totals.get("eligible") is not None:
        line += (
            f"  requested {totals['requested']:,}  eligible {totals['eligible']:,}  "
            f"co-payment {totals['copayment']:,}  insurer {totals['insurer_share']:,} rials"
        )
    console.print(line)
    for error in document.get("errors", []):
        console.print(f"    {error['code']} {error.get('path') or ''}: {error['message']}")


PIECE = 1024 * 1024


def _pieces(path: Path, progress: Progress, task: TaskID, packed: bool) -> Iterator[bytes]:
    """The file in pieces, gzipped on the way when ``packed``; advances the bar by bytes read."""
    squeeze = zlib.compressobj(6, zlib.DEFLATED, 16 + zlib.MAX_WBITS) if packed else None
    with path.open("rb") as source:
        while piece := source.read(PIECE):
            progress.advance(task, len(piece))
            out = squeeze.compress(piece) if squeeze else piece
            if out:
                yield out
    if squeeze is not None:
        yield squeeze.flush()


def submit_batch(path: Path, *, url: str, token: str, gzip: bool, wait: float) -> int:
    """Upload a batch file with a progress bar, then follow the batch to its end; 1 if it
    failed (or could not be sent)."""
    console = Console(highlight=False, soft_wrap=True)
    already = path.suffix.lower() == ".gz"
    fmt = format_of_file(path.with_suffix("") if already else path)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": CONTENT_TYPES[fmt]}
    if gzip or already:
        headers["Content-Encoding"] = "gzip"
    timeout = httpx.Timeout(60, write=600)
    with httpx.Client(base_url=url, headers=headers, timeout=timeout) as client:
        with Progress(*Progress.get_default_columns(), console=console) as progress:
            task = progress.add_task(f"uploading {path.name}", total=path.stat().st_size)
            pieces = _pieces(path, progress, task, gzip and not already)
            response = client.post("/v1/batches", content=pieces)
        if response.status_code != 202:
            console.print(f"{path}: [red]{response.status_code}[/red]")
            for e in _errors(response):
                console.print(f"  {e.get('code')} {e.get('path') or ''}: {e.get('message')}")
            return 1
        batch = response.json()
        replayed = (
            " (the same file was sent before)" if "Idempotent-Replayed" in response.headers else ""
        )
        console.print(f"{path}: batch {batch['id']}{replayed}", soft_wrap=True)
        batch = _follow_batch(client, console, batch, wait)
    console.print(
        f"{batch['status']}: {batch['documents_read']:,} documents read, "
        f"{batch['accepted']:,} accepted, {batch['rejected']:,} rejected, "
        f"{batch['priced']:,} priced",
        soft_wrap=True,
    )
    for e in batch.get("errors") or []:
        line = f" (line {e['line']})" if e.get("line") else ""
        console.print(f"  [red]{e['code']}[/red] {e.get('path') or ''}{line}: {e['message']}")
    if batch.get("acknowledgement_url"):
        address = f"{url}{batch['acknowledgement_url']}"
        console.print(f"acknowledgement: {address} (.csv for CSV)", soft_wrap=True)
    return 1 if batch["status"] == "failed" else 0


def _follow_batch(
    client: httpx.Client, console: Console, batch: dict[str, Any], wait: float
) -> dict[str, Any]:
    """Polls until the batch is done or failed, then (``wait`` seconds at most) until its
    accepted documents are priced."""
    deadline: float | None = None
    with Progress(
        SpinnerColumn(), TextColumn("{task.description}"), console=console, transient=True
    ) as progress:
        task = progress.add_task("waiting")
        while True:
            progress.update(
                task,
                description=f"{batch['status']}: {batch['documents_read']:,} read, "
                f"{batch['accepted']:,} accepted, {batch['rejected']:,} rejected, "
                f"{batch['priced']:,} priced",
            )
            if batch["status"] in ("done", "failed"):
                deadline = deadline or time.monotonic() + wait
                if batch["priced"] >= batch["accepted"] or time.monotonic() >= deadline:
                    return batch
            time.sleep(1)
            batch = client.get(batch["url"]).json()
