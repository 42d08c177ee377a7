"""Logging in and out, the language switch, and the style sheet."""

from __future__ import annotations

import math
from functools import lru_cache
from importlib.resources import files
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from gateway import metrics
from gateway.audit import chain as audit
from gateway.kit.deps import ReadSession, State, WriteSession
from gateway.settings import Settings
from gateway.storage.models import StaffUser
from gateway.web import sessions, throttle
from gateway.web.i18n import LANGUAGES
from gateway.web.kit import Anyone, Refused, WorkspaceRoute, render
from gateway.web.messages import N_
from gateway.web.sessions import WebSession

router = APIRouter(route_class=WorkspaceRoute)
HOME = "/web/"


def safe_next(target: str | None) -> str:
    """Only a workspace path of this site (never another host) is a place to go back to."""
    if not target or not target.startswith("/web") or target.startswith("//") or "\\" in target:
        return HOME
    return target


@router.get("/login")
def login_form(request: Request, db: ReadSession, next: str = HOME) -> Response:
    user = sessions.current_user(db, request.state.web_session)
    if user is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    return render(
        request,
        "login.html",
        user=None,
        next=safe_next(next),
        failed=False,
        wait_minutes=0,
        username="",
    )


@router.post("/login")
def login(
    request: Request,
    state: State,
    db: WriteSession,
    username: Annotated[str, Form(max_length=200)] = "",
    password: Annotated[str, Form(max_length=1024)] = "",
    next: Annotated[str, Form(max_length=2000)] = HOME,
) -> Response:
    # The peer address: behind a proxy that is the proxy's, unless uvicorn is told to
    # believe its X-Forwarded-For (--forwarded-allow-ips).
    client = request.client.host if request.client else ""
    name = username.strip()
    # A refused login answers 401/429 as a page, not an error: its failure count and any
    # lock commit with the request like a success does.
    user, locked_for = _try(db, state.settings, name, password, client)
    session = request.state.web_session.logged_in(user, sessions.now_s()) if user else None
    if session is None:
        wait = throttle.retry_after(locked_for) if locked_for else 0
        page = render(
            request,
            "login.html",
            user=None,
            status_code=429 if wait else 401,
            next=safe_next(next),
            failed=True,
            wait_minutes=math.ceil(wait / 60),
            username=name[:60],
        )
        if wait:
            page.headers["Retry-After"] = str(wait)
        return page
    request.state.web_session = session
    return RedirectResponse(safe_next(next), status_code=303)


def _try(
    db: Session, settings: Settings, name: str, password: str, client: str
) -> tuple[StaffUser | None, float]:
    """The user when the login succeeds, else the seconds a lock now holds (0: none).

    A locked account or address is refused before its password is verified: a lock
    costs the attacker nothing to hit, and costs the gateway no argon2 hash either."""
    now = throttle.clock()
    locked_for = throttle.wait(db, throttle.keys_of(name, client), now)
    if locked_for > 0:
        metrics.LOGINS.labels("throttled").inc()
        return None, locked_for
    user = sessions.check_password(db, name, password, client)
    if user is not None:
        throttle.succeeded(db, username=name)
        metrics.LOGINS.labels("success").inc()
        return user, 0.0
    metrics.LOGINS.labels("failed").inc()
    locks = throttle.failed(db, username=name, client=client, settings=settings, now=now)
    audit.append(db, [_lock_record(lock, name, client) for lock in locks])
    return None, max((lock.seconds for lock in locks), default=0.0)


def _lock_record(lock: throttle.Lock, name: str, client: str) -> audit.Record:
    kind, _, subject = lock.key.partition(":")
    details = {
        "client": client,
        "failures": lock.failures,
        "seconds": throttle.retry_after(lock.seconds),
        "lock": lock.number,
    }
    return audit.Record(
        f"user:{name[:60]}",
        "login.locked",
        "user" if kind == "account" else "client",
        subject[:60],
        details,
    )


@router.post("/logout")
def logout(request: Request, visit: Anyone, db: WriteSession) -> Response:
    sessions.end_sessions(db, visit.user)  # on every browser, copies of the cookie too
    audit.append(db, [audit.Record(visit.actor, "logout", "user", visit.user.username)])
    request.state.web_session = WebSession.fresh(sessions.now_s())
    return RedirectResponse("/web/login", status_code=303)


@router.get("/lang/{lang}")
def switch_language(lang: str, next: str = HOME) -> Response:
    response = RedirectResponse(safe_next(next), status_code=303)
    if lang in LANGUAGES:
        response.set_cookie(
            sessions.LANG_COOKIE,
            lang,
            max_age=365 * 24 * 3600,
            path=sessions.COOKIE_PATH,
            httponly=True,
            samesite="lax",
        )
    return response


# The files the pages load, served from the package (never a CDN): htmx is vendored from
# the npm registry's htmx.org package, with its licence beside it (static/htmx.LICENSE.txt).
STATIC = {
    "workspace.css": "text/css; charset=utf-8",
    "workspace.js": "text/javascript; charset=utf-8",
    "htmx.min.js": "text/javascript; charset=utf-8",
    "htmx.LICENSE.txt": "text/plain; charset=utf-8",
}


@lru_cache(maxsize=len(STATIC))
def _static(name: str) -> bytes:
    return files("gateway.web").joinpath(f"static/{name}").read_bytes()


@router.get("/static/{name}")
def static_file(name: str) -> Response:
    if name not in STATIC:
        raise Refused(404, N_("error.not_found"))
    return Response(
        _static(name), media_type=STATIC[name], headers={"Cache-Control": "public, max-age=3600"}
    )
