"""after_commit: what follows a stored change runs only once the change is committed."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text

from gateway.kit.db import after_commit, session_factory, transaction


def test_callbacks_run_on_commit_once_and_never_after_a_rollback() -> None:
    sessions = session_factory(create_engine("sqlite://"))
    ran: list[str] = []

    def failing() -> None:
        with transaction(sessions) as session:
            session.execute(text("SELECT 1"))
            after_commit(session, lambda: ran.append("rolled back"))
            raise RuntimeError

    with pytest.raises(RuntimeError):
        failing()
    with sessions() as session:
        after_commit(session, lambda: ran.append("first"))
        session.commit()
        session.commit()  # nothing left to run
        session.execute(text("SELECT 1"))
        after_commit(session, lambda: ran.append("dropped"))
        session.rollback()
        session.commit()
    assert ran == ["first"]
