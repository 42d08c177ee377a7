"""Administrators' pages: staff accounts, tokens and centres. Every change goes through the
admin service (one audit entry each); listing a page is audited like the CLI's lists.

A change that cannot be undone (revoking a token) or that locks someone out (resetting a
password) is asked for on a page of its own before it is done."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Form
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from gateway.admin import service as admin
from gateway.errors import GatewayError
from gateway.kit.deps import ReadSession, WriteSession
from gateway.web.kit import AdminVisit, Refused, Visit, WorkspaceRoute
from gateway.web.messages import N_

router = APIRouter(route_class=WorkspaceRoute)
DONE = {
    "disabled": N_("done.user_disabled"),
    "enabled": N_("done.user_enabled"),
    "password": N_("done.password_reset"),
    "revoked": N_("done.token_revoked"),
}


def _back(page: str, done: str) -> Response:
    return RedirectResponse(f"/web/{page}?{urlencode({'done': done})}", status_code=303)


# -- users -------------------------------------------------------------------------------


def _users(
    visit: Visit, db: Session, *, done: str | None = None, error: GatewayError | None = None
) -> Response:
    """The users page (its listing audited); after a refused change, that change rolled back."""
    if error is not None:
        db.rollback()
    users = admin.list_users(session=db, actor=visit.actor)
    return visit.render(
        "admin_users.html",
        status_code=error.status_code if error else 200,
        users=users,
        done=done,
        error=error,
    )


@router.get("/users")
def users(visit: AdminVisit, db: WriteSession, done: str = "") -> Response:
    return _users(visit, db, done=DONE.get(done))


def _change_user(visit: Visit, db: Session, username: str, change: str) -> Response:
    try:
        if change == "disable":
            admin.disable_user(session=db, username=username, actor=visit.actor)
        else:
            admin.enable_user(session=db, username=username, actor=visit.actor)
    except GatewayError as exc:
        return _users(visit, db, error=exc)
    return _back("users", f"{change}d")


@router.post("/users/{username}/disable")
def disable_user(username: str, visit: AdminVisit, db: WriteSession) -> Response:
    return _change_user(visit, db, username, "disable")


@router.post("/users/{username}/enable")
def enable_user(username: str, visit: AdminVisit, db: WriteSession) -> Response:
    return _change_user(visit, db, username, "enable")


@router.get("/users/{username}/password")
def password_form(username: str, visit: AdminVisit, db: ReadSession) -> Response:
    return _password_page(visit, db, username)


def _password_page(visit: Visit, db: Session, username: str, error: str | None = None) -> Response:
    if not admin.user_exists(db, username):
        raise Refused(404, N_("error.not_found"))
    status = 422 if error else 200
    return visit.render("admin_password.html", status_code=status, username=username, error=error)


@router.post("/users/{username}/password")
def reset_password(
    username: str,
    visit: AdminVisit,
    db: WriteSession,
    password: Annotated[str, Form(max_length=1024)] = "",
    repeat: Annotated[str, Form(max_length=1024)] = "",
) -> Response:
    if password != repeat:
        return _password_page(visit, db, username, error=N_("admin.password_mismatch"))
    try:
        admin.reset_password(session=db, username=username, password=password, actor=visit.actor)
    except GatewayError as exc:
        if exc.status_code == 422:
            db.rollback()
            return _password_page(visit, db, username, error=N_("admin.password_short"))
        raise
    return _back("users", "password")


# -- tokens ------------------------------------------------------------------------------


@router.get("/tokens")
def tokens(visit: AdminVisit, db: WriteSession, done: str = "") -> Response:
    rows = admin.list_tokens(session=db, actor=visit.actor)
    return visit.render("admin_tokens.html", rows=rows, done=DONE.get(done))


@router.get("/tokens/{token_id}/revoke")
def revoke_form(token_id: int, visit: AdminVisit, db: ReadSession) -> Response:
    row = admin.token_row(db, token_id)
    return visit.render("admin_revoke.html", row=row)


@router.post("/tokens/{token_id}/revoke")
def revoke(token_id: int, visit: AdminVisit, db: WriteSession) -> Response:
    admin.revoke_token(session=db, token_id=token_id, actor=visit.actor)
    return _back("tokens", "revoked")


# -- centres -----------------------------------------------------------------------------


def _centres(visit: Visit, db: Session, *, issued: tuple[str, str] | None = None) -> Response:
    rows = admin.list_centres(session=db, actor=visit.actor)
    return visit.render("admin_centres.html", rows=rows, issued=issued)


@router.get("/centres")
def centres(visit: AdminVisit, db: WriteSession) -> Response:
    return _centres(visit, db)


@router.post("/centres/{code}/tokens")
def issue_token(
    code: str, visit: AdminVisit, db: WriteSession, label: Annotated[str, Form(max_length=100)] = ""
) -> Response:
    """The new token is on this answer only (never stored, never shown again): the page is
    not a redirect, and is sent with ``Cache-Control: no-store`` like every workspace page."""
    secret = admin.add_centre_token(session=db, code=code, label=label.strip(), actor=visit.actor)
    return _centres(visit, db, issued=(code, secret))
