"""The workspace session: a signed cookie, its expiry, CSRF tokens, and password login.

The cookie carries the user's id, a fingerprint of their password hash and session
generation (changing the password, or logging out, ends every session of the account:
a copied cookie does not outlive the logout), the CSRF token of the session, and when it
was issued and last used; it is signed with HMAC-SHA256 under ``GATEWAY_SECRET_KEY``. Each request
reloads the user, so a disabled account is out at once. A visitor who has not logged in
gets a session too, so the login form carries a CSRF token like every other form.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import secrets
import time
from dataclasses import dataclass, replace

import orjson
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.orm import Session

from gateway.admin import repository as admin_queries
from gateway.admin.service import passwords
from gateway.audit import chain as audit
from gateway.domain.centres import Role
from gateway.settings import Settings
from gateway.storage.models import StaffUser

log = logging.getLogger(__name__)

COOKIE = "gw_session"
LANG_COOKIE = "gw_lang"
COOKIE_PATH = "/web"
CSRF_FIELD = "csrf_token"
# Checked when a username is unknown, so that a failure takes as long either way.
_DUMMY_HASH = passwords.hash(secrets.token_urlsafe(16))
_process_key: bytes | None = None


def secret_key(settings: Settings) -> bytes:
    """The configured key, or one random key for this process (said once in the log)."""
    global _process_key
    if settings.secret_key is not None:
        return settings.secret_key.get_secret_value().encode()
    if _process_key is None:
        _process_key = secrets.token_bytes(32)
        log.warning(
            "GATEWAY_SECRET_KEY is not set: workspace sessions are signed with a random key "
            "made for this process; they end when it restarts and are not shared between "
            "API processes. Set GATEWAY_SECRET_KEY in production."
        )
    return _process_key


@dataclass(frozen=True, slots=True)
class WebSession:
    """What the cookie says; ``user_id`` is None until someone logs in."""

    csrf: str
    issued: int
    seen: int
    user_id: int | None = None
    fingerprint: str = ""

    @classmethod
    def fresh(cls, now: int) -> WebSession:
        return cls(csrf=secrets.token_urlsafe(32), issued=now, seen=now)

    def logged_in(self, user: StaffUser, now: int) -> WebSession:
        """A new session for this user: new CSRF token, new clock (no fixation)."""
        return replace(WebSession.fresh(now), user_id=user.id, fingerprint=fingerprint(user))


def fingerprint(user: StaffUser) -> str:
    """Changes with the password and with each logout (generation 0 keeps the form of the
    cookies issued before generations existed)."""
    material = user.password_hash
    if user.session_generation:
        material += f"\n{user.session_generation}"
    return hashlib.sha256(material.encode()).hexdigest()[:16]


def end_sessions(db: Session, user: StaffUser) -> None:
    """Refuse every session issued to ``user`` until now (their next login starts anew)."""
    admin_queries.raise_session_generation(db, user.id)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def encode(session: WebSession, key: bytes) -> str:
    body = _b64(
        orjson.dumps(
            {
                "c": session.csrf,
                "i": session.issued,
                "s": session.seen,
                "u": session.user_id,
                "f": session.fingerprint,
            }
        )
    )
    signature = _b64(hmac.new(key, body.encode(), hashlib.sha256).digest())
    return f"{body}.{signature}"


def decode(cookie: str | None, key: bytes, settings: Settings, now: int) -> WebSession | None:
    """The session of a genuine, unexpired cookie; None for anything else."""
    if not cookie or "." not in cookie:
        return None
    body, _, signature = cookie.partition(".")
    expected = _b64(hmac.new(key, body.encode(), hashlib.sha256).digest())
    if not hmac.compare_digest(signature, expected):
        return None
    try:
        data = orjson.loads(_unb64(body))
        session = WebSession(
            csrf=str(data["c"]),
            issued=int(data["i"]),
            seen=int(data["s"]),
            user_id=None if data["u"] is None else int(data["u"]),
            fingerprint=str(data["f"]),
        )
    except (ValueError, KeyError, TypeError):
        return None
    idle = now - session.seen > settings.session_idle_minutes * 60
    old = now - session.issued > settings.session_max_hours * 3600
    return None if idle or old else session


def now_s() -> int:
    return int(time.time())


def csrf_ok(session: WebSession | None, submitted: str) -> bool:
    return session is not None and bool(submitted) and hmac.compare_digest(session.csrf, submitted)


def current_user(db: Session, session: WebSession) -> StaffUser | None:
    """The logged-in user, while their account is enabled, their password unchanged and
    they have not logged out since."""
    if session.user_id is None:
        return None
    user = db.get(StaffUser, session.user_id)
    if user is None or user.disabled_at is not None:
        return None
    if not hmac.compare_digest(fingerprint(user), session.fingerprint):
        return None
    return user


def actor_of(user: StaffUser) -> str:
    return f"user:{user.username}"


def role_of(user: StaffUser) -> Role:
    return Role(user.role)


def check_password(db: Session, username: str, password: str, client: str) -> StaffUser | None:
    """The user when the password is right; every attempt is appended to the audit log.

    An unknown or disabled user costs one argon2 verification like a known one does, so
    the time taken does not tell which usernames exist."""
    user = admin_queries.staff_user(db, username)
    try:
        passwords.verify(user.password_hash if user else _DUMMY_HASH, password)
        verified = user is not None
    except (VerificationError, InvalidHashError):
        verified = False
    failure = None
    if not verified:
        failure = "unknown-user" if user is None else "wrong-password"
    elif user is not None and user.disabled_at is not None:
        failure = "disabled"
    action = "login" if failure is None else "login.failed"
    details: dict[str, str] = {"client": client}
    if failure:
        details["reason"] = failure
    audit.append(
        db, [audit.Record(f"user:{username[:60]}", action, "user", username[:60], details)]
    )
    if failure is None and user is not None and passwords.check_needs_rehash(user.password_hash):
        user.password_hash = passwords.hash(password)
    return user if failure is None else None
