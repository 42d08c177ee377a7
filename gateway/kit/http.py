"""What every feature's endpoints share: accepted media types, the documented error
answers, reading a body within a limit, and ids from paths."""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import quote

from fastapi import Request, Response

from gateway.errors import GatewayError, NotFoundError
from gateway.schemas import ErrorResponse
from validators.problems import Problem
from validators.schema import Format

XML_TYPES = ("application/xml", "text/xml")
JSON_TYPES = ("application/json",)
Responses = dict[int | str, dict[str, Any]]

# What each refusal means and a realistic answer for it; an operation lists only the codes
# it can return (``errors(401, 404, ...)``), each with this shape and example.
_REFUSALS: dict[int, tuple[str, str, str, str | None]] = {
    400: ("The body is empty or not decodable", "body.empty", "The body is empty.", None),
    401: (
        "No bearer token, or one that is unknown or expired",
        "auth.required",
        "A valid bearer token is required.",
        None,
    ),
    403: (
        "The token's role may not do this",
        "auth.forbidden",
        "Only a centre's token may submit documents.",
        None,
    ),
    404: (
        "Not found, or not this caller's to see",
        "not-found",
        "Document not found.",
        None,
    ),
    409: (
        "Not allowed in the resource's present state",
        "conflict",
        "Document 0b7e5c1e-8f4a-4d52-9a57-3c1f0f3b2a10 is PRICED; it cannot be appealed.",
        None,
    ),
    413: (
        "The body is larger than the limit",
        "body.too-large",
        "The body is larger than 10485760 bytes.",
        None,
    ),
    415: (
        "The Content-Type (or Content-Encoding) is not accepted",
        "body.unsupported-media-type",
        "Content-Type text/plain is not accepted; send application/xml or application/json.",
        None,
    ),
    422: (
        "The request is well formed but breaks a rule; each problem has a code and a path",
        "schema.pattern",
        "'12345' is not a valid national ID: 10 digits expected.",
        "/documents/0/patient/national_id",
    ),
    429: (
        "The centre is over its requests-per-minute budget; retry after Retry-After seconds",
        "rate-limited",
        "Too many requests from this centre; try again in 3 s.",
        None,
    ),
    503: (
        "Overloaded: the submission would have waited longer than the gateway allows to be "
        "written, so it was refused at once and nothing was stored; send it again after "
        "Retry-After seconds",
        "overloaded",
        "The gateway is overloaded; nothing was stored. Try again in 1 s.",
        None,
    ),
}
RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds to wait before the next request",
        "schema": {"type": "integer", "minimum": 1},
        "example": 3,
    }
}
# A caller with a centre's token spends its budget on every authenticated route (staff-only
# routes included: the token is checked before its role), so each of them can answer 429.
AUTHENTICATED = (401, 429)
# FastAPI answers 400 when a JSON body does not parse, before any model sees it.
BAD_JSON: dict[int, str | tuple[str, str]] = {
    400: ("request.invalid", "There was an error parsing the body")
}


def errors(
    *codes: int, said: dict[int, str | tuple[str, str]] | None = None, **described: str
) -> Responses:
    """The documented refusals of an operation: ``errors(404, 409, c409="Not priced yet",
    said={409: "the example's message", 422: ("webhook.https-required", "...")})``."""
    out: Responses = {}
    for code in sorted(set(codes)):
        description, problem, message, path = _REFUSALS[code]
        told = (said or {}).get(code)
        if isinstance(told, tuple):  # (problem code, message): a refusal of its own kind
            (problem, message), path = told, None
        elif told is not None:
            message = told
        example = {"errors": [{"code": problem, "message": message, "path": path, "line": None,
                               "severity": "error"}]}  # fmt: skip
        entry: dict[str, Any] = {
            "model": ErrorResponse,
            "description": described.get(f"c{code}", description),
            "content": {"application/json": {"example": example}},
        }
        if code in (429, 503):
            entry["headers"] = RETRY_AFTER
        out[code] = entry
    return out


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
        code="body.unsupported-media-type",
    )


def _too_large(limit: int) -> GatewayError:
    return GatewayError(
        f"The body is larger than {limit} bytes.",
        413,
        code="body.too-large",
        params={"limit": limit},
    )


async def read_body(request: Request, limit: int) -> bytes:
    """The whole body, refusing (413) as soon as it passes ``limit`` bytes."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _too_large(limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
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


def download_response(body: bytes, media_type: str, filename: str) -> Response:
    """Bytes a caller sent once, served only as a download of their checked type: never
    rendered inline, never sniffed into another type, never cached by the way."""
    return Response(
        body,
        media_type=media_type,
        headers={
            "Content-Disposition": content_disposition(filename),
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "default-src 'none'; sandbox",
            "Cache-Control": "private, no-store",
        },
    )


def content_disposition(filename: str) -> str:
    """``attachment``, with an ASCII name for old clients and the UTF-8 one (RFC 6266)."""
    fallback = "".join(
        c if c.isascii() and c.isprintable() and c not in '"\\' else "_" for c in filename
    )
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"
