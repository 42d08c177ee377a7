"""A small HTTP client for ``gateway submit``: send files, then follow their documents."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console

from gateway.offline import format_of_file
from validators.schema import Format

FINAL = {"PRICED", "REJECTED", "UNDER_REVIEW", "APPROVED", "DENIED", "PAID"}
CONTENT_TYPES = {Format.XML: "application/xml", Format.JSON: "application/json"}


def submit_files(files: list[Path], *, url: str, token: str, wait: float) -> int:
    console = Console(highlight=False)
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
                console.print(f"{path}: [red]{response.status_code}[/red]")
                for e in response.json().get("errors", []):
                    console.print(f"  {e['code']} {e.get('path') or ''}: {e['message']}")
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
