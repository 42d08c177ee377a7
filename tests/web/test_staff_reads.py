"""The workspace's reads of patient data in the audit trail: the queue, the document page
and the statement CSV, each one entry naming what it showed, found by who-read."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from gateway.audit import chain as audit
from gateway.audit import reads
from gateway.domain.centres import Role
from gateway.settings import Settings
from tests import factories as f
from tests.audit.test_staff_reads import World, last_seq, make_world, reads_since

LoggedIn = Callable[[Role], TestClient]
ROUTES: dict[str, tuple[Callable[[World], str], tuple[Role, ...]]] = {
    "queue": (lambda w: f"/web/queue?status=&national_id={w.national_id}", (Role.AUDITOR,)),
    "document": (lambda w: f"/web/documents/{w.document}", (Role.AUDITOR,)),
    "statement-csv": (lambda w: f"/web/settlements/{w.order}/statement.csv", (Role.FINANCE,)),
}


def _expected(name: str, w: World) -> tuple[str, str, set[str]]:
    if name == "queue":
        return "documents", "GET /web/queue", {w.document, w.batch_document}
    if name == "document":
        return "document", w.document, {w.document}
    return "payment_order", str(w.order), {w.document}


@pytest.mark.parametrize("name", ROUTES)
def test_a_workspace_read_is_one_entry_naming_what_it_showed(
    web: TestClient, sessions, web_settings: Settings, logged_in: LoggedIn, name: str
) -> None:
    url, roles = ROUTES[name]
    w = make_world(web, sessions, web_settings)
    subject_type, subject_id, documents = _expected(name, w)
    actors = []
    for role in (*roles, Role.ADMIN):
        client = logged_in(role)
        before = last_seq(sessions)
        answer = client.get(url(w))
        assert answer.status_code == 200, answer.text
        (entry,) = reads_since(sessions, before)
        assert entry.actor.startswith(f"user:{role.value}-")
        assert (entry.details["role"], entry.subject_type, entry.subject_id) == (
            role.value,
            subject_type,
            subject_id,
        )
        if subject_type == "documents":
            assert set(entry.details["documents"]) == documents
            query = f"status=&national_id={w.national_id}&sort=received&dir=asc&size=25&page=1"
            assert entry.details["query"] == query
            assert entry.details["total"] == 2
        actors.append(entry.actor)
    with sessions() as session:
        found = reads.who_read(session, w.national_id)
        assert audit.verify(session).ok
    assert [(r.actor, set(r.documents)) for r in found] == [
        (actor, documents) for actor in reversed(actors)
    ]


def test_a_queue_with_nothing_to_show_records_nothing(
    web: TestClient, sessions, logged_in: LoggedIn
) -> None:
    client = logged_in(Role.AUDITOR)
    before = last_seq(sessions)
    nobody = f.national_id(10_000_080)  # outside the pool the factories draw patients from
    assert client.get(f"/web/queue?status=&national_id={nobody}").status_code == 200
    assert client.get("/web/queue?period=2026-13").status_code == 200  # refused filter
    assert reads_since(sessions, before) == []
