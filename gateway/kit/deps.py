"""What endpoints get injected: the app's state, the request's one session (read or write),
the authenticated principal."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated

from celery import Celery
from fastapi import Depends, Request
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from gateway import metrics
from gateway.domain.centres import Role
from gateway.errors import AuthError, ForbiddenError, RateLimitedError
from gateway.kit.db import transaction
from gateway.kit.outbox import OutboxDispatcher, Publisher
from gateway.kit.ratelimit import Limiter, LocalBuckets, Unlimited
from gateway.settings import Settings
from gateway.storage import repository
from gateway.storage.models import Centre

IN_MEMORY_LIMITERS = (Unlimited, LocalBuckets)


@dataclass(slots=True)
class GatewayState:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    celery: Celery
    publisher: Publisher
    dispatcher: OutboxDispatcher
    tokens: TokenCache
    limiter: Limiter = field(default_factory=Unlimited)


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: a centre (sees its own documents only), or staff: an auditor,
    finance or an admin (they see all centres)."""

    token_id: int
    role: Role
    centre: Centre | None

    @property
    def centre_scope(self) -> int | None:
        """The centre whose data this caller may see; None means all centres."""
        if self.role is Role.CENTRE:
            assert self.centre is not None
            return self.centre.id
        return None

    @property
    def actor(self) -> str:
        return f"centre:{self.centre.code}" if self.centre else f"{self.role}:{self.token_id}"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


# The dependencies below are coroutines: FastAPI runs a plain function dependency in a
# worker thread, and three thread hops a request cost more than the whole request's work.
async def get_state(request: Request) -> GatewayState:
    state: GatewayState = request.app.state.gateway
    return state


State = Annotated[GatewayState, Depends(get_state)]


def read_session(state: State) -> Iterator[Session]:
    with state.sessions() as session:
        yield session


ReadSession = Annotated[Session, Depends(read_session)]


def write_session(state: State) -> Iterator[Session]:
    """The request's one session for an endpoint that changes anything: it commits when the
    endpoint returns and rolls back if it raises, before the response is sent (``scope=
    "function"``), so a 2xx means stored. Services and repositories flush, never commit."""
    with transaction(state.sessions) as session:
        yield session


WriteSession = Annotated[Session, Depends(write_session, scope="function")]


class TokenCache:
    """Recently verified tokens, so a busy centre's requests skip the token query.

    An entry lives ``ttl`` seconds: a revoked token stops working within that time.
    """

    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self._entries: dict[str, tuple[float, Principal]] = {}

    def get(self, token_hash: str) -> Principal | None:
        entry = self._entries.get(token_hash)
        if entry is None or entry[0] < time.monotonic():
            return None
        return entry[1]

    def put(self, token_hash: str, principal: Principal) -> None:
        if len(self._entries) > 10_000:
            self._entries.clear()
        self._entries[token_hash] = (time.monotonic() + self.ttl, principal)


async def authenticate(request: Request, state: State) -> Principal:
    """The caller; a centre over its requests-per-minute budget gets 429. Only a token not
    in the cache, or a limiter that asks a shared store, is dealt with in a thread."""
    token_hash = _token_hash(request)
    principal = state.tokens.get(token_hash)
    if principal is None:
        principal = await run_in_threadpool(_verify, state, token_hash)
    _note_caller(request, principal)
    if principal.centre is not None:
        limiter, code = state.limiter, principal.centre.code
        if isinstance(limiter, IN_MEMORY_LIMITERS):
            _within_budget(limiter.take(code))
        else:
            _within_budget(await run_in_threadpool(limiter.take, code))
    return principal


def authenticate_here(request: Request, state: GatewayState) -> Principal:
    """``authenticate`` for code that runs in a worker thread already."""
    token_hash = _token_hash(request)
    principal = state.tokens.get(token_hash) or _verify(state, token_hash)
    _note_caller(request, principal)
    if principal.centre is not None:
        _within_budget(state.limiter.take(principal.centre.code))
    return principal


def _note_caller(request: Request, principal: Principal) -> None:
    """The caller's centre code (or role) for the request's access log line."""
    request.state.caller = principal.centre.code if principal.centre else str(principal.role)


def _token_hash(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthError()
    return hash_token(token.strip())


def _within_budget(wait: float) -> None:
    if wait:
        metrics.RATE_LIMITED.inc()
        raise RateLimitedError(wait)


def _verify(state: GatewayState, token_hash: str) -> Principal:
    with state.sessions() as session:
        found = repository.find_token(session, token_hash)
    if found is None:
        raise AuthError("The bearer token is not valid.")
    if found.expires_at is not None and found.expires_at.replace(tzinfo=UTC) <= datetime.now(UTC):
        raise AuthError("The bearer token has expired.")
    principal = Principal(token_id=found.id, role=Role(found.role), centre=found.centre)
    if found.expires_at is None:
        state.tokens.put(token_hash, principal)
    return principal


Caller = Annotated[Principal, Depends(authenticate)]


def require_centre(principal: Principal) -> Principal:
    if principal.role is not Role.CENTRE or principal.centre is None:
        raise ForbiddenError("Only a centre's token may submit documents.")
    return principal


async def centre_caller(principal: Caller) -> Principal:
    return require_centre(principal)


CentreCaller = Annotated[Principal, Depends(centre_caller)]


def roles(*allowed: Role) -> object:
    """A dependency admitting only callers of these roles (403 for the others)."""
    names = ", ".join(r.value for r in allowed)

    async def check(principal: Caller) -> Principal:
        if principal.role not in allowed:
            raise ForbiddenError(f"This needs a token of role {names}.")
        return principal

    return Depends(check)


Auditor = Annotated[Principal, roles(Role.AUDITOR, Role.ADMIN)]
Finance = Annotated[Principal, roles(Role.FINANCE, Role.ADMIN)]
Staff = Annotated[Principal, roles(Role.AUDITOR, Role.FINANCE, Role.ADMIN)]
