"""The one error family of the gateway; the API renders it as ``{"errors": [...]}``.

Each error also carries a ``code`` naming the refusal, and the ``params`` its message puts
into words (numbers, codes, states), so the workspace tells it in the reader's language
from its catalogues (``gateway.web.refusals``) instead of showing the English message. The
code is the one given where it is raised, else the first problem's, else the status's
(``conflict``...); the API's answer is unchanged by it (it lists ``problems`` or the
status's code)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime

from gateway.domain.lifecycle import InvalidTransitionError
from validators.problems import Problem

CLAIMED = "document.claimed"


class GatewayError(Exception):
    def __init__(
        self,
        message: str,
        status_code: int = 400,
        problems: list[Problem] | None = None,
        *,
        code: str | None = None,
        params: Mapping[str, object] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.problems = problems or []
        self.code = code or (self.problems[0].code if self.problems else _code_for(status_code))
        self.params: dict[str, object] = dict(params or {})
        self.headers: dict[str, str] = {}

    def to_problems(self) -> list[Problem]:
        return self.problems or [Problem(_code_for(self.status_code), self.message)]


class NotFoundError(GatewayError):
    def __init__(
        self, what: str, *, code: str = "not-found", params: Mapping[str, object] | None = None
    ) -> None:
        super().__init__(f"{what} not found.", 404, code=code, params=params)


class DocumentHeldError(GatewayError):
    """A review move on a document another auditor has claimed (409 ``document.claimed``);
    the holder's name and the claim's end let the workspace say it in the reader's words."""

    def __init__(self, external_id: str, holder: str, until: datetime) -> None:
        message = (
            f"Document {external_id} is held by {holder} until {until:%Y-%m-%d %H:%M} UTC; "
            "only they (or an admin) may review or decide it until the claim is released, "
            "lapses or is given to you."
        )
        super().__init__(message, 409, [Problem(CLAIMED, message)])
        self.holder = holder
        self.until = until


class AuthError(GatewayError):
    def __init__(self, message: str = "A valid bearer token is required.") -> None:
        super().__init__(message, 401)
        self.headers = {"WWW-Authenticate": "Bearer"}


class ForbiddenError(GatewayError):
    def __init__(self, message: str = "This token may not do that.") -> None:
        super().__init__(message, 403)


class RateLimitedError(GatewayError):
    def __init__(self, wait: float) -> None:
        seconds = max(1, math.ceil(wait))
        super().__init__(
            f"Too many requests from this centre; try again in {seconds} s.",
            429,
            params={"seconds": seconds},
        )
        self.headers = {"Retry-After": str(seconds)}


class OverloadedError(GatewayError):
    """Refused at once because the request would wait longer than the gateway allows;
    nothing of it was stored, so the same request may simply be sent again later."""

    def __init__(self, wait: float) -> None:
        seconds = max(1, math.ceil(wait))
        super().__init__(
            f"The gateway is overloaded; nothing was stored. Try again in {seconds} s.",
            503,
            params={"seconds": seconds},
        )
        self.headers = {"Retry-After": str(seconds)}


def transition_refused(exc: InvalidTransitionError) -> GatewayError:
    """A move the lifecycle does not allow, as a 409 naming the states (and, in English,
    the moves that are allowed)."""
    return GatewayError(
        str(exc),
        409,
        code="document.transition",
        params={"current": exc.current, "target": exc.target},
    )


def _code_for(status_code: int) -> str:
    return {
        400: "request.invalid",
        401: "auth.required",
        403: "auth.forbidden",
        404: "not-found",
        405: "method.not-allowed",
        409: "conflict",
        413: "body.too-large",
        415: "body.unsupported-media-type",
        422: "request.unprocessable",
        429: "rate-limited",
        503: "overloaded",
    }.get(status_code, "error")
