"""Logging in and out, the language switch, and the style sheet."""

from __future__ import annotations

from functools import lru_cache
from importlib.resources import files
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from gateway.audit import chain as audit
from gateway.kit.db import transaction
from gateway.kit.deps import State
from gateway.web import sessions
from gateway.web.i18n import LANGUAGES
from gateway.web.kit import Anyone, WorkspaceRoute, render
from gateway.web.sessions import WebSession

router = APIRouter(route_class=WorkspaceRoute)
HOME = "/web/"


def safe_next(target: str | None) -> str:
    """Only a workspace path of this site (never another host) is a place to go back to."""
    if not target or not target.startswith("/web") or target.startswith("//") or "\\" in target:
        return HOME
    return target


@router.get("/login")
def login_form(request: Request, state: State, next: str = HOME) -> Response:
    with state.sessions() as db:
        user = sessions.current_user(db, request.state.web_session)
    if user is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    return render(request, "login.html", user=None, next=safe_next(next), failed=False, username="")


@router.post("/login")
def login(
    request: Request,
    state: State,
    username: Annotated[str, Form(max_length=200)] = "",
    password: Annotated[str, Form(max_length=1024)] = "",
    next: Annotated[str, Form(max_length=2000)] = HOME,
) -> Response:
    client = request.client.host if request.client else ""
    with transaction(state.sessions) as db:
        user = sessions.check_password(db, username.strip(), password, client)
        session = request.state.web_session.logged_in(user, sessions.now_s()) if user else None
    if session is None:
        return render(
            request,
            "login.html",
            user=None,
            status_code=401,
            next=safe_next(next),
            failed=True,
            username=username.strip()[:60],
        )
    request.state.web_session = session
    return RedirectResponse(safe_next(next), status_code=303)


@router.post("/logout")
def logout(request: Request, visit: Anyone) -> Response:
    with transaction(visit.state.sessions) as db:
        sessions.end_sessions(db, visit.user)  # on every browser, copies of the cookie too
        audit.append(
            db,
            [audit.Record(visit.actor, "logout", "user", visit.user.username)],
        )
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


@lru_cache(maxsize=1)
def _stylesheet() -> bytes:
    return files("gateway.web").joinpath("static/workspace.css").read_bytes()


@router.get("/static/workspace.css")
def stylesheet() -> Response:
    return Response(
        _stylesheet(),
        media_type="text/css; charset=utf-8",
        headers={"Cache-Control": "public, max-age=3600"},
    )
