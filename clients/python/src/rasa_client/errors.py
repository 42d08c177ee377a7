"""Typed exceptions carrying the gateway's structured errors.

Every refusal the gateway makes has the body ``{"errors": [{"code", "message", "path",
"line"}]}``; the client raises the exception class of the HTTP status with those errors as
``Problem`` objects, so callers can branch on ``error.codes`` or show ``error.problems``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx


@dataclass(frozen=True, slots=True)
class Problem:
    """One structured error: a stable code, a message, and where (a path in the body)."""

    code: str
    message: str
    path: str | None = None
    line: int | None = None

    @classmethod
    def from_json(cls, value: Any) -> Problem:
        if not isinstance(value, dict):
            return cls("unknown", str(value))
        line = value.get("line")
        return cls(
            code=str(value.get("code", "unknown")),
            message=str(value.get("message", "")),
            path=None if value.get("path") is None else str(value["path"]),
            line=line if isinstance(line, int) else None,
        )


class GatewayError(Exception):
    """The gateway refused a request (``status_code``), with its problems."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        problems: list[Problem] | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.problems = problems or []
        self.retry_after = retry_after

    @property
    def codes(self) -> list[str]:
        return [problem.code for problem in self.problems]

    def __str__(self) -> str:
        head = f"{self.status_code} {self.message}" if self.status_code else self.message
        details = "; ".join(
            f"{p.code}{' at ' + p.path if p.path else ''}: {p.message}" for p in self.problems
        )
        return f"{head} ({details})" if details else head


class GatewayUnreachable(GatewayError):
    """No answer: the connection was refused, timed out, or the name did not resolve."""


class BadRequest(GatewayError):
    """400: the body could not be read (not well-formed XML or JSON, a bad form)."""


class Unauthorized(GatewayError):
    """401: no token, or one the gateway does not know."""


class Forbidden(GatewayError):
    """403: the token may not do that (another centre's document, a staff-only route)."""


class NotFound(GatewayError):
    """404: no such document, batch or route (or one this centre may not see)."""


class Conflict(GatewayError):
    """409: the resource's state forbids it (voiding an approved document, answering a
    request for information that is not open)."""


class PayloadTooLarge(GatewayError):
    """413: over the gateway's size limit; send large files with ``upload_batch``."""


class UnsupportedMediaType(GatewayError):
    """415: the content type (or encoding) is not accepted."""


class ValidationFailed(GatewayError):
    """422: well formed, but it breaks a rule; each problem says which, and where."""


class RateLimited(GatewayError):
    """429: over the centre's request budget even after waiting ``Retry-After`` as told."""


class Unavailable(GatewayError):
    """503: overloaded or not ready even after waiting ``Retry-After`` as told; nothing
    was stored."""


class ServerError(GatewayError):
    """Any other 5xx."""


class FollowTimeout(GatewayError, TimeoutError):
    """The documents (or batch) did not reach the awaited statuses in time; ``last`` holds
    what was seen last."""

    def __init__(self, message: str, last: Any) -> None:
        super().__init__(message)
        self.last = last


_BY_STATUS: dict[int, type[GatewayError]] = {
    400: BadRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    413: PayloadTooLarge,
    415: UnsupportedMediaType,
    422: ValidationFailed,
    429: RateLimited,
    503: Unavailable,
}


def retry_after(response: httpx.Response) -> float | None:
    """Seconds the answer asks to wait (``Retry-After`` as a number), or None."""
    value = response.headers.get("retry-after", "").strip()
    try:
        seconds = float(value)
    except ValueError:
        return None
    return seconds if seconds >= 0 else None


def error_for(response: httpx.Response) -> GatewayError:
    """The exception for a refusal, carrying the gateway's structured errors."""
    problems: list[Problem] = []
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("errors"), list):
        problems = [Problem.from_json(item) for item in body["errors"]]
    message = problems[0].message if problems else response.reason_phrase or "error"
    status = response.status_code
    kind = _BY_STATUS.get(status, ServerError if status >= 500 else GatewayError)
    return kind(message, status_code=status, problems=problems, retry_after=retry_after(response))
