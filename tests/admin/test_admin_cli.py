"""Administration on the command line: any centre gets a token (a registry-imported one
too), tokens are listed, rotated and revoked, accounts disabled, enabled and given a new
password, centres listed and shown; each command is one audit entry."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from gateway.cli import app
from gateway.domain.centres import Role
from gateway.settings import Settings, get_settings
from gateway.storage.models import ApiToken, AuditEntry
from tests import factories as f
from tests.web.conftest import log_in, make_user

runner = CliRunner()


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, settings: Settings) -> Iterator[None]:
    monkeypatch.setenv("GATEWAY_DATABASE_URL", settings.database_url)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture
def web_settings(settings: Settings) -> Settings:
    # The TestClient speaks plain http://: a Secure cookie would not come back to it.
    update = {"secret_key": SecretStr(f"test-{uuid.uuid4().hex}"), "cookie_secure": False}
    return settings.model_copy(update=update)


def audits(sessions: sessionmaker[Session], action: str) -> list[AuditEntry]:
    with sessions() as session:
        return list(
            session.scalars(
                select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.seq)
            )
        )


def audit_count(sessions: sessionmaker[Session]) -> int:
    with sessions() as session:
        return session.scalar(select(func.count()).select_from(AuditEntry)) or 0


def ok(args: list[str], stdin: str | None = None) -> str:
    result = runner.invoke(app, args, input=stdin)
    assert result.exit_code == 0, (result.stdout, result.stderr)
    return result.stdout


def submits(client: TestClient, token: str, code: str) -> int:
    body = f.as_json(f.submission(code))
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    return client.post("/v1/submissions", content=body, headers=headers).status_code


def import_centre(tmp_path: Path) -> str:
    code = f"R{uuid.uuid4().hex[:8].upper()}"
    (tmp_path / "centres.csv").write_text(
        "code,name,kind,sector,province,contract_from,contract_to\n"
        f"{code},Imported clinic,contracted,charity,Fars,2024-03-20,2027-03-20\n"
    )
    assert "1 centre(s)" in ok(["registry", "import", str(tmp_path)])
    return code


def test_a_registry_imported_centre_gets_a_token_that_the_api_takes(
    cli_env: None, sessions: sessionmaker[Session], client: TestClient, tmp_path: Path
) -> None:
    code = import_centre(tmp_path)
    before = audit_count(sessions)
    out = ok(["token", "add", "centre", "--centre", code, "--label", "his"])
    token = out.strip().splitlines()[-1]
    assert token.startswith("gw_")
    assert audit_count(sessions) == before + 1
    (created,) = [e for e in audits(sessions, "token.create") if e.details["centre"] == code]
    assert created.subject_id == hashlib.sha256(token.encode()).hexdigest()[:12]
    assert submits(client, token, code) == 202

    shown = ok(["centre", "show", code])
    assert f"{code}\tcontracted\tcharity\tFars\t2024-03-20..2027-03-20\t1\tImported clinic" in shown
    assert token not in shown
    listed = ok(["centre", "list"])
    assert f"{code}\tcontracted\tcharity\tFars" in listed
    assert [e.subject_id for e in audits(sessions, "centre.show")][-1] == code
    assert audits(sessions, "centre.list")


def test_a_centre_token_needs_a_known_centre(cli_env: None, tmp_path: Path) -> None:
    assert runner.invoke(app, ["token", "add", "centre"]).exit_code == 2
    assert runner.invoke(app, ["token", "add", "auditor", "--centre", "X"]).exit_code == 2
    missing = runner.invoke(app, ["token", "add", "centre", "--centre", "NO-SUCH-CENTRE"])
    assert missing.exit_code == 1
    assert "There is no centre NO-SUCH-CENTRE" in missing.stderr


def _token_id(sessions: sessionmaker[Session], token: str) -> int:
    digest = hashlib.sha256(token.encode()).hexdigest()
    with sessions() as session:
        return session.scalars(select(ApiToken.id).where(ApiToken.token_hash == digest)).one()


def test_token_list_shows_everything_but_the_token(
    cli_env: None, sessions: sessionmaker[Session]
) -> None:
    centre, token = f.make_centre(sessions)
    token_id = _token_id(sessions, token)
    before = audit_count(sessions)
    listed = ok(["token", "list"])
    assert audit_count(sessions) == before + 1
    digest = hashlib.sha256(token.encode()).hexdigest()
    assert token not in listed
    assert digest not in listed
    (line,) = [row for row in listed.splitlines() if row.startswith(f"{token_id}\t")]
    cells = line.split("\t")
    assert cells[1:3] == ["centre", centre.code]
    assert cells[4:7] == ["-", "-", digest[:12]]


def test_revoke_by_id_refuses_the_token_and_says_so_in_the_audit(
    cli_env: None, sessions: sessionmaker[Session], client: TestClient
) -> None:
    centre, token = f.make_centre(sessions)
    token_id = _token_id(sessions, token)
    assert f"token {token_id} revoked" in ok(["token", "revoke", "--id", str(token_id)])
    assert submits(client, token, centre.code) == 401
    revoked = [e for e in audits(sessions, "token.revoke") if e.details.get("id") == token_id]
    assert len(revoked) == 1
    again = runner.invoke(app, ["token", "revoke", "--id", str(token_id)])
    assert again.exit_code == 1
    assert runner.invoke(app, ["token", "revoke"]).exit_code == 2


def test_rotate_gives_a_new_token_and_revokes_the_old(
    cli_env: None, sessions: sessionmaker[Session], client: TestClient
) -> None:
    centre, old = f.make_centre(sessions)
    old_id = _token_id(sessions, old)
    before = audit_count(sessions)
    new = ok(["token", "rotate", str(old_id)]).strip().splitlines()[-1]
    assert audit_count(sessions) == before + 1
    assert new.startswith("gw_")
    assert new != old
    assert submits(client, old, centre.code) == 401
    assert submits(client, new, centre.code) == 202
    (entry,) = [e for e in audits(sessions, "token.rotate") if e.details["old_id"] == old_id]
    assert entry.details["new_id"] == _token_id(sessions, new)
    assert entry.details["centre"] == centre.code


def test_rotate_with_grace_lets_the_old_token_work_until_it_expires(
    cli_env: None, sessions: sessionmaker[Session], client: TestClient
) -> None:
    centre, old = f.make_centre(sessions)
    old_id = _token_id(sessions, old)
    new = ok(["token", "rotate", str(old_id), "--grace-hours", "2"]).strip().splitlines()[-1]
    assert submits(client, old, centre.code) == 202
    assert submits(client, new, centre.code) == 202
    with sessions() as session:
        stored = session.get_one(ApiToken, old_id)
        assert stored.revoked_at is None
        assert stored.expires_at is not None
        assert stored.expires_at > stored.created_at
        stored.expires_at = stored.created_at
        session.commit()
    expired = runner.invoke(app, ["token", "rotate", str(old_id)])
    assert expired.exit_code == 1
    assert "expired" in expired.stderr


def test_disable_ends_sessions_and_enable_does_not_bring_them_back(
    cli_env: None, sessions: sessionmaker[Session], web_settings: Settings
) -> None:
    from gateway.app import create_app

    username = make_user(sessions, Role.AUDITOR)
    with TestClient(create_app(web_settings, relay=False)) as web:
        assert log_in(web, username).status_code == 303
        assert web.get("/web/queue", follow_redirects=False).status_code == 200
        before = audit_count(sessions)
        assert "disabled" in ok(["user", "disable", username])
        assert audit_count(sessions) == before + 1
        assert web.get("/web/queue", follow_redirects=False).status_code == 303
        assert log_in(web, username).status_code == 401
        listed = ok(["user", "list"])
        (line,) = [row for row in listed.splitlines() if row.startswith(f"{username}\t")]
        assert line.split("\t")[3] != "-"

    ok(["user", "enable", username])
    with TestClient(create_app(web_settings, relay=False)) as web:
        assert log_in(web, username).status_code == 303
        kept = web.cookies.get("gw_session")
        ok(["user", "disable", username])
        ok(["user", "enable", username])
        web.cookies.set("gw_session", kept or "", path="/web")
        assert web.get("/web/queue", follow_redirects=False).status_code == 303
        assert log_in(web, username).status_code == 303
    assert [e.subject_id for e in audits(sessions, "user.enable")][-1] == username


def test_reset_password_reads_stdin_and_ends_sessions(
    cli_env: None, sessions: sessionmaker[Session], web_settings: Settings
) -> None:
    from gateway.app import create_app

    username = make_user(sessions, Role.FINANCE)
    short = runner.invoke(app, ["user", "reset-password", username, "--password-stdin"], "short\n")
    assert short.exit_code == 1
    assert "at least 12" in short.stderr
    new_password = "a much newer passphrase"
    with TestClient(create_app(web_settings, relay=False)) as web:
        assert log_in(web, username).status_code == 303
        ok(["user", "reset-password", username, "--password-stdin"], f"{new_password}\n")
        assert web.get("/web/settlements", follow_redirects=False).status_code == 303
        assert log_in(web, username).status_code == 401
        assert log_in(web, username, new_password).status_code == 303
    prompted = ["user", "reset-password", username]
    ok(prompted, "another fine passphrase\nanother fine passphrase\n")
    assert [e.subject_id for e in audits(sessions, "user.password_reset")][-2:] == [username] * 2
    missing = runner.invoke(app, ["user", "disable", "nobody-at-all"])
    assert missing.exit_code == 1


@pytest.mark.own_database  # counts every administrator's account
def test_the_last_open_administrator_account_cannot_be_disabled(
    cli_env: None, sessions: sessionmaker[Session]
) -> None:
    """Nobody could enable anyone again from the workspace: refused, nothing changed."""
    first = make_user(sessions, Role.ADMIN)
    before = audit_count(sessions)
    refused = runner.invoke(app, ["user", "disable", first])
    assert refused.exit_code == 1
    assert "last administrator" in refused.stderr
    assert audit_count(sessions) == before
    second = make_user(sessions, Role.ADMIN)
    ok(["user", "disable", first])  # another administrator's account is open
    assert runner.invoke(app, ["user", "disable", second]).exit_code == 1
    ok(["user", "enable", first])
    ok(["user", "disable", second])
    auditor = make_user(sessions, Role.AUDITOR)  # other roles are not counted
    ok(["user", "disable", auditor])
