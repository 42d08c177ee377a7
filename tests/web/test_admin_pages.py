"""The administrators' pages: Users, Tokens and Centres. Admins only, CSRF on every form,
one audit entry for each change, a token shown once, confirmation before a revocation."""

from __future__ import annotations

import hashlib
import html
import re
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from gateway.app import create_app
from gateway.domain.centres import Role
from gateway.settings import Settings
from gateway.storage.models import ApiToken, AuditEntry, StaffUser
from tests import factories as f
from tests.web.conftest import PASSWORD, csrf_of, log_in, make_user

PAGES = ["/web/users", "/web/tokens", "/web/centres"]


def entries(sessions: sessionmaker[Session], action: str) -> list[AuditEntry]:
    with sessions() as session:
        query = select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.seq)
        return list(session.scalars(query))


def post(web: TestClient, path: str, page: str = "/web/users", **data: str):
    data["csrf_token"] = csrf_of(web.get(page))
    return web.post(path, data=data, follow_redirects=False)


@pytest.mark.parametrize("role", [Role.AUDITOR, Role.FINANCE])
def test_other_roles_are_refused(
    logged_in: Callable[[Role], TestClient], sessions: sessionmaker[Session], role: Role
) -> None:
    web = logged_in(role)
    for page in PAGES:
        assert web.get(page).status_code == 403, page
    victim = make_user(sessions, Role.AUDITOR)
    token = csrf_of(web.get("/web/"))
    refused = web.post(f"/web/users/{victim}/disable", data={"csrf_token": token})
    assert refused.status_code == 403
    centre, _ = f.make_centre(sessions)
    issued = web.post(f"/web/centres/{centre.code}/tokens", data={"csrf_token": token})
    assert issued.status_code == 403
    assert "gw_" not in issued.text
    assert "/web/users" not in web.get("/web/").text  # not in the menu either
    with sessions() as session:
        user = session.scalars(select(StaffUser).where(StaffUser.username == victim)).one()
        assert user.disabled_at is None


def test_admin_lists_users_tokens_and_centres_in_both_languages(
    logged_in: Callable[[Role], TestClient], sessions: sessionmaker[Session]
) -> None:
    centre, token = f.make_centre(sessions)
    web = logged_in(Role.ADMIN)
    web.cookies.set("gw_lang", "en", path="/web")
    users = web.get("/web/users")
    assert users.status_code == 200
    assert "Reset password" in users.text
    tokens = web.get("/web/tokens")
    digest = hashlib.sha256(token.encode()).hexdigest()
    assert digest[:12] in tokens.text
    assert digest not in tokens.text
    assert token not in tokens.text
    assert "role.centre" not in tokens.text  # every label is in the catalogue
    centres = web.get("/web/centres")
    assert f'id="centre-{centre.code}"' in centres.text
    assert "Contracted" in centres.text
    web.cookies.set("gw_lang", "fa", path="/web")
    assert "کاربران" in web.get("/web/users").text
    assert "طرف قرارداد" in web.get("/web/centres").text


def test_forms_need_the_csrf_token(
    logged_in: Callable[[Role], TestClient], sessions: sessionmaker[Session]
) -> None:
    web = logged_in(Role.ADMIN)
    victim = make_user(sessions, Role.AUDITOR)
    centre, token = f.make_centre(sessions)
    token_id = _id_of(sessions, token)
    tries = [
        (f"/web/users/{victim}/disable", {}),
        (f"/web/users/{victim}/password", {"password": "x" * 20, "repeat": "x" * 20}),
        (f"/web/tokens/{token_id}/revoke", {}),
        (f"/web/centres/{centre.code}/tokens", {}),
    ]
    for path, data in tries:
        assert web.post(path, data=data).status_code == 403, path
    with sessions() as session:
        assert session.get_one(ApiToken, token_id).revoked_at is None
        rows = session.scalars(select(ApiToken).where(ApiToken.centre_id == centre.id)).all()
        assert len(rows) == 1
    assert log_in(TestClient(web.app), victim).status_code == 303
    # The same form with its token is done: the refusals above were the CSRF check's.
    assert post(web, f"/web/users/{victim}/disable").status_code == 303
    assert log_in(TestClient(web.app), victim).status_code == 401


def _id_of(sessions: sessionmaker[Session], token: str) -> int:
    digest = hashlib.sha256(token.encode()).hexdigest()
    with sessions() as session:
        return session.scalars(select(ApiToken.id).where(ApiToken.token_hash == digest)).one()


def test_disable_and_enable_end_the_sessions_and_are_audited(
    logged_in: Callable[[Role], TestClient],
    sessions: sessionmaker[Session],
    web_settings: Settings,
) -> None:
    web = logged_in(Role.ADMIN)
    victim = make_user(sessions, Role.AUDITOR)
    with TestClient(create_app(web_settings, relay=False)) as other:
        assert log_in(other, victim).status_code == 303
        done = post(web, f"/web/users/{victim}/disable")
        assert done.status_code == 303
        assert 'role="status"' in web.get(done.headers["location"]).text
        assert other.get("/web/queue", follow_redirects=False).status_code == 303
        assert log_in(other, victim).status_code == 401
        assert post(web, f"/web/users/{victim}/enable").status_code == 303
        assert log_in(other, victim).status_code == 303
    (disabled,) = [e for e in entries(sessions, "user.disable") if e.subject_id == victim]
    assert disabled.actor.startswith("user:admin-")
    assert [e for e in entries(sessions, "user.enable") if e.subject_id == victim]


def test_an_admin_cannot_disable_themself(web: TestClient, sessions: sessionmaker[Session]) -> None:
    me = make_user(sessions, Role.ADMIN)
    assert log_in(web, me).status_code == 303
    assert f'id="user-{me}"' in web.get("/web/users").text
    refused = post(web, f"/web/users/{me}/disable")
    assert refused.status_code == 409
    assert web.get("/web/users").status_code == 200


def test_reset_password_asks_twice_and_ends_sessions(
    logged_in: Callable[[Role], TestClient],
    sessions: sessionmaker[Session],
    web_settings: Settings,
) -> None:
    web = logged_in(Role.ADMIN)
    victim = make_user(sessions, Role.FINANCE)
    form = web.get(f"/web/users/{victim}/password")
    assert form.status_code == 200
    assert 'name="repeat"' in form.text
    page = f"/web/users/{victim}/password"
    new = "a brand new passphrase"
    differ = post(web, page, page, password=new, repeat=new + "!")
    assert differ.status_code == 422
    short = post(web, page, page, password="short", repeat="short")
    assert short.status_code == 422
    assert not entries(sessions, "user.password_reset") or all(
        e.subject_id != victim for e in entries(sessions, "user.password_reset")
    )
    with TestClient(create_app(web_settings, relay=False)) as other:
        assert log_in(other, victim).status_code == 303
        assert post(web, page, page, password=new, repeat=new).status_code == 303
        assert other.get("/web/settlements", follow_redirects=False).status_code == 303
        assert log_in(other, victim, PASSWORD).status_code == 401
        assert log_in(other, victim, new).status_code == 303
    assert [e for e in entries(sessions, "user.password_reset") if e.subject_id == victim]
    assert web.get("/web/users/nobody-here/password").status_code == 404


def test_issue_a_centre_token_once_and_revoke_it_after_confirming(
    logged_in: Callable[[Role], TestClient],
    sessions: sessionmaker[Session],
    client: TestClient,
    web_settings: Settings,
) -> None:
    centre, _ = f.make_centre(sessions)
    web = logged_in(Role.ADMIN)
    issued = post(web, f"/web/centres/{centre.code}/tokens", "/web/centres", label="desk 2")
    assert issued.status_code == 200
    found = re.search(r'id="new-token">([^<]+)<', issued.text)
    assert found
    token = html.unescape(found.group(1))
    assert token.startswith("gw_")
    assert issued.headers["cache-control"] == "no-store"
    assert token not in web.get("/web/centres").text
    assert token not in web.get("/web/tokens").text
    body = f.as_json(f.submission(centre.code))
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    assert client.post("/v1/submissions", content=body, headers=headers).status_code == 202
    created = [e for e in entries(sessions, "token.create") if e.details["centre"] == centre.code]
    assert created[-1].details["label"] == "desk 2"
    assert created[-1].actor.startswith("user:admin-")

    token_id = _id_of(sessions, token)
    confirm = web.get(f"/web/tokens/{token_id}/revoke")
    assert confirm.status_code == 200
    assert f'action="/web/tokens/{token_id}/revoke"' in confirm.text
    with sessions() as session:
        assert session.get_one(ApiToken, token_id).revoked_at is None  # asking changes nothing
    revoked = post(web, f"/web/tokens/{token_id}/revoke", f"/web/tokens/{token_id}/revoke")
    assert revoked.status_code == 303
    with TestClient(create_app(web_settings, relay=False)) as fresh:  # no cached principal
        answer = fresh.post("/v1/submissions", content=body, headers=headers)
    assert answer.status_code == 401
    (entry,) = [e for e in entries(sessions, "token.revoke") if e.details.get("id") == token_id]
    assert entry.actor.startswith("user:admin-")
    again = post(web, f"/web/tokens/{token_id}/revoke", "/web/tokens")
    assert again.status_code == 404
