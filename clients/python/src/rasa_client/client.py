"""The gateway's HTTP API for a centre's system: one ``Client`` per base URL and token.

Every refusal is raised as the typed exception of its status (``rasa_client.errors``) with
the gateway's structured problems. Answers of 429 (over the centre's request budget) and
503 (overloaded: nothing was stored) are retried after the ``Retry-After`` they carry, up to
``max_retries`` times, so a burst does not fail a run.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import json
import time
import zlib
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import Any

import httpx

from rasa_client.content import Format, UnknownContent, detect_format, with_replaces
from rasa_client.errors import (
    FollowTimeout,
    GatewayError,
    GatewayUnreachable,
    NotFound,
    error_for,
    retry_after,
)
from rasa_client.models import DECIDED, Batch, Document, FolderItem, Submission

USER_AGENT = "rasa-gateway-client/0.1"
PIECE = 1024 * 1024
# Called while a batch uploads, with (bytes of the file read so far, bytes of the file).
OnProgress = Callable[[int, int], None]
Service = tuple[str, str] | Mapping[str, str]  # (code_type, code) or {"code_type", "code"}
Attachment = Path | tuple[str, bytes]  # a file, or (file name, content)


def _unreachable(base_url: str, error: httpx.TransportError) -> GatewayUnreachable:
    cause: BaseException = error
    while cause.__cause__ is not None or cause.__context__ is not None:
        cause = cause.__cause__ or cause.__context__ or cause
    reason = str(cause) or str(error) or type(error).__name__
    if isinstance(cause, OSError) and cause.strerror:
        reason = cause.strerror
    elif isinstance(error, httpx.TimeoutException):
        reason = "no answer in time"
    return GatewayUnreachable(f"cannot reach {base_url}: {reason[:1].lower()}{reason[1:]}")


class Client:
    """A centre's connection to the gateway (``with Client(url, token) as gw: ...``)."""

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        timeout_s: float = 60.0,
        max_retries: int = 5,
        max_retry_wait_s: float = 120.0,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.max_retries = max_retries
        self.max_retry_wait_s = max_retry_wait_s
        self._sleep = sleep
        self._http = httpx.Client(
            base_url=self.base_url,
            headers={"Authorization": f"Bearer {token}", "User-Agent": USER_AGENT},
            timeout=httpx.Timeout(timeout_s, write=max(timeout_s, 600.0)),
            transport=transport,
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # -- the one way requests are sent --------------------------------------------------

    def _send(
        self,
        method: str,
        url: str,
        *,
        ok: Collection[int] = (200,),
        body: Callable[[], Any] | None = None,
        **options: Any,
    ) -> httpx.Response:
        """The answer when its status is in ``ok``; the typed error otherwise. ``body``
        makes the content anew for each attempt (a stream cannot be sent twice)."""
        attempt = 0
        while True:
            content = None if body is None else body()
            try:
                response = self._http.request(method, url, content=content, **options)
            except httpx.TransportError as exc:
                raise _unreachable(self.base_url, exc) from exc
            if response.status_code in ok:
                return response
            wait = retry_after(response)
            if (
                response.status_code in (429, 503)
                and wait is not None
                and attempt < self.max_retries
                and wait <= self.max_retry_wait_s
            ):
                attempt += 1
                self._sleep(wait)
                continue
            raise error_for(response)

    # -- submissions and documents ---------------------------------------------------------

    def submit(
        self, source: Path | str | bytes, *, idempotency_key: str | None = None
    ) -> Submission:
        """Send one submission (a file's path or its bytes; XML or JSON, told by content).

        A document the rules refuse is in the answer as REJECTED with its errors; a
        submission refused as a whole raises (ValidationFailed, PayloadTooLarge...)."""
        data = source if isinstance(source, bytes) else Path(source).read_bytes()
        headers = {"Content-Type": detect_format(data).content_type}
        if idempotency_key is not None:
            headers["Idempotency-Key"] = idempotency_key
        response = self._send(
            "POST", "/v1/submissions", ok=(200, 201, 202), body=lambda: data, headers=headers
        )
        return Submission.from_json(response.json(), response.headers.get("location"))

    def submit_folder(self, folder: Path | str, *, pattern: str = "*") -> list[FolderItem]:
        """Send every XML or JSON file of a folder (sorted by name; other files are listed
        with UnknownContent and not sent). A refused file does not stop the others."""
        items: list[FolderItem] = []
        for path in sorted(Path(folder).glob(pattern)):
            if not path.is_file() or path.name.startswith("."):
                continue
            try:
                items.append(FolderItem(path, self.submit(path)))
            except GatewayUnreachable:
                raise
            except (GatewayError, UnknownContent) as error:
                items.append(FolderItem(path, error=error))
        return items

    def replace(self, source: Path | str | bytes, *, replaces: str) -> Submission:
        """Send a one-document submission that replaces the centre's document numbered
        ``replaces`` (not yet approved): once it is accepted, that one is voided."""
        data = source if isinstance(source, bytes) else Path(source).read_bytes()
        return self.submit(with_replaces(data, replaces))

    def void(self, document_id: str, reason: str) -> Document:
        """Void the centre's document that is not yet approved (Conflict otherwise)."""
        response = self._send("POST", f"/v1/documents/{document_id}/void", json={"reason": reason})
        return Document.from_json(response.json())

    def document(self, document_id: str) -> Document:
        return Document.from_json(self._send("GET", f"/v1/documents/{document_id}").json())

    def follow(
        self,
        document_ids: Iterable[str],
        *,
        until: Collection[str] = DECIDED,
        timeout_s: float = 600.0,
        first_delay_s: float = 0.5,
        max_delay_s: float = 15.0,
    ) -> dict[str, Document]:
        """Poll the documents until each has a status in ``until`` (by default a decision:
        REJECTED, APPROVED, DENIED, PAYMENT_ORDERED, PAID, VOIDED), waiting longer each round
        (doubling up to ``max_delay_s``); FollowTimeout after ``timeout_s``."""
        pending = list(dict.fromkeys(document_ids))
        seen: dict[str, Document] = {}
        deadline = time.monotonic() + timeout_s
        delay = first_delay_s
        while True:
            for document_id in list(pending):
                seen[document_id] = self.document(document_id)
                if seen[document_id].status in until:
                    pending.remove(document_id)
            if not pending:
                return seen
            if time.monotonic() + delay > deadline:
                statuses = {d: seen[d].status for d in pending}
                raise FollowTimeout(f"still waiting after {timeout_s:.0f} s: {statuses}", seen)
            self._sleep(delay)
            delay = min(delay * 2, max_delay_s)

    # -- batches ---------------------------------------------------------------------------

    def upload_batch(
        self,
        path: Path | str,
        *,
        on_progress: OnProgress | None = None,
        compress: bool = False,
        resume: bool = True,
        journal: Path | None = None,
    ) -> Batch:
        """Upload a large file (XML or JSON, ``.gz`` accepted) to ``POST /v1/batches``.

        The API has no ranged (resumable) upload, so resuming means never uploading, nor
        making, the same batch twice: the answer is noted in ``journal`` (by default
        ``<file>.batch.json`` beside the file) with the file's SHA-256, and a later call for
        the same file re-queries that batch instead of uploading again. Without a journal
        (or if the upload broke before the answer), the file is sent again and the
        gateway, which knows each centre's files by SHA-256, answers with the batch it
        already made (``replayed``)."""
        path = Path(path)
        packed = path.suffix.lower() == ".gz"
        sha256, head = _digest(path, packed)
        journal = journal or path.with_name(path.name + ".batch.json")
        if resume:
            known = self._journalled(journal, sha256)
            if known is not None:
                return known
        headers = {"Content-Type": detect_format(head).content_type}
        if packed or compress:
            headers["Content-Encoding"] = "gzip"
        total = path.stat().st_size
        response = self._send(
            "POST",
            "/v1/batches",
            ok=(200, 202),
            body=lambda: _pieces(path, total, on_progress, compress and not packed),
            headers=headers,
        )
        batch = Batch.from_json(response.json(), replayed="idempotent-replayed" in response.headers)
        note = {"sha256": sha256, "batch_id": batch.id, "base_url": self.base_url}
        # In a read-only folder, resuming falls back to the gateway's own deduplication.
        with contextlib.suppress(OSError):
            journal.write_text(json.dumps(note))
        return batch

    def _journalled(self, journal: Path, sha256: str) -> Batch | None:
        try:
            note = json.loads(journal.read_text())
        except (OSError, ValueError):
            return None
        if not isinstance(note, dict) or note.get("sha256") != sha256:
            return None
        if note.get("base_url") != self.base_url:
            return None
        try:
            found = self.batch(str(note["batch_id"]))
        except NotFound:
            return None
        return Batch.from_json(found.raw, replayed=True)

    def batch(self, batch_id: str) -> Batch:
        return Batch.from_json(self._send("GET", f"/v1/batches/{batch_id}").json())

    def follow_batch(
        self,
        batch_id: str,
        *,
        priced: bool = True,
        timeout_s: float = 3600.0,
        first_delay_s: float = 0.5,
        max_delay_s: float = 15.0,
        on_update: Callable[[Batch], None] | None = None,
    ) -> Batch:
        """Poll the batch until it is done or failed (and, with ``priced``, until pricing
        has reached all its accepted documents)."""
        deadline = time.monotonic() + timeout_s
        delay = first_delay_s
        while True:
            batch = self.batch(batch_id)
            if on_update is not None:
                on_update(batch)
            if batch.ended and (
                not priced or batch.status == "failed" or batch.priced >= batch.accepted
            ):
                return batch
            if time.monotonic() + delay > deadline:
                raise FollowTimeout(
                    f"batch {batch_id} is {batch.status} after {timeout_s:.0f} s", batch
                )
            self._sleep(delay)
            delay = min(delay * 2, max_delay_s)

    # -- eligibility and requests for information --------------------------------------------

    def check_eligibility(
        self,
        *,
        national_id: str,
        insurance_number: str,
        service_date: date | str,
        setting: str | None = None,
        services: Sequence[Service] = (),
    ) -> dict[str, Any]:
        """``POST /v1/eligibility``: covered or not on that date and why, the co-payment
        rate, referral needs and quantity limits of each service asked about."""
        body: dict[str, Any] = {
            "national_id": national_id,
            "insurance_number": insurance_number,
            "service_date": str(service_date),
            "services": [_service(s) for s in services],
        }
        if setting is not None:
            body["setting"] = setting
        answer: dict[str, Any] = self._send("POST", "/v1/eligibility", json=body).json()
        return answer

    def information_requests(self, document_id: str) -> list[dict[str, Any]]:
        """The document's requests for information and their answers, oldest first."""
        path = f"/v1/documents/{document_id}/information-requests"
        found: list[dict[str, Any]] = self._send("GET", path).json()
        return found

    def answer_information(
        self, document_id: str, text: str, attachments: Sequence[Attachment] = ()
    ) -> dict[str, Any]:
        """Answer the open request for information with text and files (PDF, JPEG, PNG:
        the gateway checks their content); the document goes back to review."""
        files = []
        for item in attachments:
            name, content = (item.name, item.read_bytes()) if isinstance(item, Path) else item
            files.append(("attachments", (name, content, "application/octet-stream")))
        answer: dict[str, Any] = self._send(
            "POST",
            f"/v1/documents/{document_id}/information",
            ok=(200, 201),
            data={"text": text},
            files=files or None,
        ).json()
        return answer


def _service(service: Service) -> dict[str, str]:
    if isinstance(service, tuple):
        code_type, code = service
        return {"code_type": code_type, "code": code}
    return {"code_type": service["code_type"], "code": service["code"]}


def _digest(path: Path, packed: bool) -> tuple[str, bytes]:
    """The SHA-256 of the file's content (decompressed, as the gateway counts it) and its
    first bytes (to tell XML from JSON)."""
    digest = hashlib.sha256()
    head = b""
    with gzip.open(path, "rb") if packed else path.open("rb") as source:
        while piece := source.read(PIECE):
            head = head or piece[:4096]
            digest.update(piece)
    if not head:
        raise UnknownContent(f"{path} is empty")
    return digest.hexdigest(), head


def _pieces(
    path: Path, total: int, on_progress: OnProgress | None, compress: bool
) -> Iterator[bytes]:
    squeeze = zlib.compressobj(6, zlib.DEFLATED, 16 + zlib.MAX_WBITS) if compress else None
    sent = 0
    with path.open("rb") as source:
        while piece := source.read(PIECE):
            sent += len(piece)
            out = squeeze.compress(piece) if squeeze is not None else piece
            if out:
                yield out
            if on_progress is not None:
                on_progress(sent, total)
    if squeeze is not None:
        yield squeeze.flush()


__all__ = ["Attachment", "Client", "Format", "OnProgress", "Service"]
