"""What every feature's endpoints share: accepted media types, the documented error
answers, reading a body within a limit, and ids from paths."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import Request

from gateway.errors import GatewayError, NotFoundError
from gateway.schemas import ErrorResponse
from validators.problems import Problem
from validators.schema import Format

XML_TYPES = ("application/xml", "text/xml")
JSON_TYPES = ("application/json",)
ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorResponse} for code in (400, 401, 403, 404, 409, 413, 415, 422)
}


def format_of(content_type: str | None) -> Format:
    media = (content_type or "").split(";", 1)[0].strip().lower()
    if media in XML_TYPES or media.endswith("+xml"):
        return Format.XML
    if media in JSON_TYPES or media.endswith("+json"):
        return Format.JSON
    raise GatewayError(
        f"Content-Type {media or '(none)'} is not accepted; send application/xml or "
        "application/json.",
        415,
    )


async def read_body(request: Request, limit: int) -> bytes:
    """The whole body, refusing (413) as soon as it passes ``limit`` bytes."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise GatewayError(f"The body is larger than {limit} bytes.", 413)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise GatewayError(f"The body is larger than {limit} bytes.", 413)
        chunks.append(chunk)
    body = b"".join(chunks)
    if not body.strip():
        raise GatewayError("The body is empty.", 400, [Problem("body.empty", "The body is empty.")])
    return body


def parse_id(raw: str) -> uuid.UUID:
    try:
        return uuid.UUID(raw)
    except ValueError:
        raise NotFoundError("Resource") from None
