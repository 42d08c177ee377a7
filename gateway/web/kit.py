"""What every workspace page shares: the route class that guards and finishes each
response, the visit (who, in which language) and rendering.

``WorkspaceRoute`` checks the CSRF token of every POST before the endpoint runs (403
without it), turns refusals and service errors into readable pages instead of JSON,
re-signs the session cookie, and puts the security headers on every response.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from functools import partial
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from gateway.domain.centres import Role
from gateway.errors import GatewayError
from gateway.kit.deps import GatewayState, State
from gateway.storage.models import StaffUser
from gateway.web import refusals, sessions
from gateway.web.i18n import Locale, choose_language, zone
from gateway.web.messages import N_
from gateway.web.sessions import WebSession

log = logging.getLogger(__name__)

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; style-src 'self'; script-src 'self'; img-src 'self'; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}

templates = Environment(
    loader=PackageLoader("gateway.web", "templates"),
    autoescape=select_autoescape(default=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


class Refused(Exception):
    """A request the workspace turns down with a page: ``key`` names the message."""

    def __init__(self, status_code: int, key: str) -> None:
        super().__init__(key)
        self.status_code = status_code
        self.key = key


class LoginRequired(Exception):
    pass


def locale_of(request: Request) -> Locale:
    state: GatewayState = request.app.state.gateway
    lang = choose_language(
        request.cookies.get(sessions.LANG_COOKIE), request.headers.get("accept-language", "")
    )
    return Locale(lang, zone(state.settings.display_timezone))


def render(
    request: Request,
    template: str,
    *,
    user: StaffUser | None,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    locale = locale_of(request)
    session: WebSession | None = getattr(request.state, "web_session", None)
    page = templates.get_template(template).render(
        t=locale.t,
        fmt=locale,
        refusal=partial(refusals.describe, locale),
        user=user,
        role=user.role if user else None,
        csrf=session.csrf if session else "",
        path=request.url.path,
        here=request.url.path + (f"?{request.url.query}" if request.url.query else ""),
        **context,
    )
    return HTMLResponse(page, status_code=status_code)


def _refusal(
    request: Request,
    status_code: int,
    key: str,
    detail: str = "",
    error: GatewayError | None = None,
) -> Response:
    """A page saying what was refused: ``key``'s title, then the service's refusal told in
    the page's language (``error``), or a detail such as the fields that were invalid."""
    user = getattr(request.state, "web_user", None)
    return render(
        request,
        "error.html",
        user=user,
        status_code=status_code,
        key=key,
        detail=detail,
        error=error,
    )


PREFIX = "/web"


class WorkspaceRoute(APIRoute):
    """A workspace page or form, under PREFIX: the sections declare paths without it.

    The prefix is part of the route's own path, not of the router that includes the
    sections: FastAPI keeps an included router nested, so only the route's path reaches
    the request's scope, and metrics and access logs name requests by that template.
    """

    def __init__(self, path: str, endpoint: Callable[..., Any], **options: Any) -> None:
        super().__init__(PREFIX + path, endpoint, **options)

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def guarded(request: Request) -> Response:
            state: GatewayState = request.app.state.gateway
            now = sessions.now_s()
            key = sessions.secret_key(state.settings)
            found = sessions.decode(request.cookies.get(sessions.COOKIE), key, state.settings, now)
            request.state.web_session = found or WebSession.fresh(now)
            try:
                if request.method == "POST":
                    form = await request.form()
                    submitted = form.get(sessions.CSRF_FIELD)
                    if not sessions.csrf_ok(found, submitted if isinstance(submitted, str) else ""):
                        raise Refused(403, N_("error.csrf"))
                response = await handler(request)
            except LoginRequired:
                back = request.url.path if request.method == "GET" else "/web/"
                response = RedirectResponse(
                    f"/web/login?next={quote(back, safe='/')}", status_code=303
                )
            except Refused as exc:
                response = _refusal(request, exc.status_code, exc.key)
            except RequestValidationError as exc:
                names = ", ".join("/".join(str(p) for p in e["loc"]) for e in exc.errors())
                response = _refusal(request, 422, N_("error.invalid"), names)
            except GatewayError as exc:
                response = _refusal(request, exc.status_code, N_("error.refused"), error=exc)
            except Exception:
                log.exception("workspace error on %s %s", request.method, request.url.path)
                response = _refusal(request, 500, N_("error.internal"))
            _finish(request, response, state, now, key)
            return response

        return guarded


def _finish(
    request: Request, response: Response, state: GatewayState, now: int, key: bytes
) -> None:
    session: WebSession = request.state.web_session
    session = WebSession(session.csrf, session.issued, now, session.user_id, session.fingerprint)
    response.set_cookie(
        sessions.COOKIE,
        sessions.encode(session, key),
        max_age=state.settings.session_idle_minutes * 60,
        path=sessions.COOKIE_PATH,
        httponly=True,
        samesite="lax",
        secure=state.settings.cookie_secure,
    )
    response.headers.update(SECURITY_HEADERS)
    response.headers.setdefault("Cache-Control", "no-store")


@dataclass(frozen=True, slots=True)
class Visit:
    """A logged-in request: the user, their session and the app state."""

    request: Request
    state: GatewayState
    user: StaffUser

    @property
    def actor(self) -> str:
        return sessions.actor_of(self.user)

    @property
    def role(self) -> Role:
        return sessions.role_of(self.user)

    def render(self, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
        return render(self.request, template, user=self.user, status_code=status_code, **context)


def visitor(request: Request, state: State) -> Visit:
    session: WebSession = request.state.web_session
    with state.sessions() as db:
        user = sessions.current_user(db, session)
    if user is None:
        if session.user_id is not None:  # expired, disabled or password changed
            request.state.web_session = WebSession.fresh(sessions.now_s())
        raise LoginRequired
    request.state.web_user = user
    return Visit(request, state, user)


def allowing(*roles: Role) -> Any:
    """A dependency admitting logged-in users of these roles (admins always); 403 otherwise."""
    allowed = {*roles, Role.ADMIN}

    def check(visit: Annotated[Visit, Depends(visitor)]) -> Visit:
        if visit.role not in allowed:
            raise Refused(403, N_("error.forbidden"))
        return visit

    return Depends(check)


Anyone = Annotated[Visit, Depends(visitor)]
AuditorVisit = Annotated[Visit, allowing(Role.AUDITOR)]
FinanceVisit = Annotated[Visit, allowing(Role.FINANCE)]
AdminVisit = Annotated[Visit, allowing()]  # administrators only
