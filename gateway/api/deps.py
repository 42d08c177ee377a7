"""What endpoints get injected: the app's state, a read session, the authenticated principal."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated

from celery import Celery
from fastapi import Depends, Request
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from gateway.domain.centres import Role
from gateway.errors import AuthError, ForbiddenError
from gateway.settings import Settings
from gateway.storage import repository
from gateway.storage.models import Centre
from workers.outbox import Publisher


@dataclass(slots=True)
class GatewayState:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    celery: Celery
    publisher: Publisher


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: a centre (sees its own documents only), an auditor or an admin."""

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


def get_state(request: Request) -> GatewayState:
    state: GatewayState = request.app.state.gateway
    return state


State = Annotated[GatewayState, Depends(get_state)]


def read_session(state: State) -> Iterator[Session]:
    with state.sessions() as session:
        yield session


ReadSession = Annotated[Session, Depends(read_session)]


def authenticate(request: Request, state: State) -> Principal:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthError()
    with state.sessions() as session:
        found = repository.find_token(session, hash_token(token.strip()))
    if found is None:
        raise AuthError("The bearer token is not valid.")
    if found.expires_at is not None and found.expires_at.replace(tzinfo=UTC) <= datetime.now(UTC):
        raise AuthError("The bearer token has expired.")
    return Principal(token_id=found.id, role=Role(found.role), centre=found.centre)


Caller = Annotated[Principal, Depends(authenticate)]


def centre_caller(principal: Caller) -> Principal:
    if principal.role is not Role.CENTRE or principal.centre is None:
        raise ForbiddenError("Only a centre's token may submit documents.")
    return principal


CentreCaller = Annotated[Principal, Depends(centre_caller)]
