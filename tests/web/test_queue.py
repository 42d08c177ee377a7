"""The review queue: search by prefix, sort, page, months in either calendar, exports, and
claims (claim, see who holds, release, the next N, lapse, an admin's reassignment)."""

from __future__ import annotations

import csv
import io
import re
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy import select, update

from gateway.domain.centres import Role
from gateway.kit.db import transaction
from gateway.storage.models import AuditEntry, Document, ReviewClaim, StaffUser
from tests import factories as f
from tests.review.test_lifecycle_api import ALWAYS_REVIEW, submit_priced
from tests.web.conftest import csrf_of, log_in, make_user

LoggedIn = Callable[[Role], TestClient]


def centre_with(web: TestClient, sessions, count: int, **visit) -> tuple[str, list[str]]:
    """A new centre with ``count`` documents under review, numbered <prefix>-1.."""
    centre, token = f.make_centre(sessions)
    prefix = f"Q{uuid.uuid4().hex[:6].upper()}"
    ids = [
        submit_priced(web, sessions, token, centre.code, ALWAYS_REVIEW, number=f"{prefix}-{i}",
                      **visit)
        for i in range(1, count + 1)
    ]  # fmt: skip
    return centre.code, ids


def english(client: TestClient) -> TestClient:
    client.get("/web/lang/en")
    return client


def other_client(web: TestClient, sessions, role: Role = Role.AUDITOR) -> tuple[TestClient, str]:
    client = TestClient(web.app)
    username = make_user(sessions, role)
    assert log_in(client, username).status_code == 303
    return english(client), username


def numbers_of(page: str) -> list[str]:
    return re.findall(r'class="doc-link">([^<]+)<', page)


def test_search_by_document_number_and_national_id_prefix(
    web: TestClient, sessions, logged_in: LoggedIn
) -> None:
    _code, ids = centre_with(web, sessions, 3)
    client = english(logged_in(Role.AUDITOR))
    with sessions() as session:
        docs = {d.id: d for d in session.scalars(select(Document).where(Document.id.in_(
            [uuid.UUID(i) for i in ids])))}  # fmt: skip
    first = docs[uuid.UUID(ids[0])]
    prefix = first.external_id.rsplit("-", 1)[0]
    page = client.get(f"/web/queue?number={prefix}").text
    assert sorted(numbers_of(page)) == sorted(d.external_id for d in docs.values())
    assert numbers_of(client.get(f"/web/queue?number={first.external_id}").text) == [
        first.external_id
    ]
    start = first.patient_national_id[:7]
    found = numbers_of(client.get(f"/web/queue?status=&national_id={start}").text)
    assert first.external_id in found
    persian_digits = start.translate(str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹"))
    assert first.external_id in numbers_of(
        client.get(f"/web/queue?status=&national_id={persian_digits}").text
    )
    assert numbers_of(client.get("/web/queue?number=%25").text) == []  # % is no wildcard


def test_sorting_paging_and_the_last_page(web: TestClient, sessions, logged_in: LoggedIn) -> None:
    code, _ids = centre_with(web, sessions, 3)
    client = english(logged_in(Role.AUDITOR))
    oldest_first = numbers_of(client.get(f"/web/queue?centre={code}&sort=received").text)
    newest_first = numbers_of(client.get(f"/web/queue?centre={code}&sort=received&dir=desc").text)
    assert len(oldest_first) == 3
    assert newest_first == list(reversed(oldest_first))
    assert [n.rsplit("-", 1)[1] for n in oldest_first] == ["1", "2", "3"]
    by_number = numbers_of(client.get(f"/web/queue?centre={code}&sort=number&dir=desc").text)
    assert [n.rsplit("-", 1)[1] for n in by_number] == ["3", "2", "1"]
    past_the_end = client.get(f"/web/queue?centre={code}&page=99&size=25")
    assert "Showing <bdi>1</bdi>–<bdi>3</bdi> of <bdi>3</bdi>" in past_the_end.text
    assert "Page <bdi>1</bdi> of <bdi>1</bdi>" in past_the_end.text
    everything = client.get("/web/queue?status=&size=25&page=99999").text
    shown = re.search(
        r"Showing <bdi>([\d,]+)</bdi>–<bdi>([\d,]+)</bdi> of <bdi>([\d,]+)", everything
    )
    assert shown
    first, last, total = (int(g.replace(",", "")) for g in shown.groups())
    assert first <= last == total
    assert 'value="50"' in everything  # page sizes offered
    aged = client.get(f"/web/queue?centre={code}").text
    assert 'class="age sla-ok"' in aged  # received today: within the days allowed
    assert "Amount" in aged  # in review because of the amount (threshold 0)


def test_months_in_either_calendar_and_any_case_centre(
    web: TestClient, sessions, logged_in: LoggedIn
) -> None:
    code, ids = centre_with(web, sessions, 1, service_date="2026-11-10")  # 1405-08-19
    client = english(logged_in(Role.AUDITOR))
    with sessions() as session:
        number = session.get(Document, uuid.UUID(ids[0])).external_id  # type: ignore[union-attr]
    for period in ("1405-08", "۱۴۰۵-۰۸", "2026-11", "1405/8"):
        page = client.get(f"/web/queue?centre={code.lower()}&period={period}").text
        assert numbers_of(page) == [number], period
    assert numbers_of(client.get(f"/web/queue?centre={code}&period=1405-09").text) == []
    page = client.get(f"/web/queue?centre={code}").text
    assert f'<option value="{code}">' in page  # suggested in the datalist


def test_exports_keep_identifiers_as_text(web: TestClient, sessions, logged_in: LoggedIn) -> None:
    code, _ids = centre_with(web, sessions, 2)
    client = english(logged_in(Role.AUDITOR))
    answer = client.get(f"/web/queue/export.csv?centre={code}&sort=number")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/csv")
    assert answer.content.startswith(b"\xef\xbb\xbf")  # the byte-order mark
    rows = list(csv.reader(io.StringIO(answer.content.decode("utf-8-sig"))))
    assert rows[0][0] == "Document number"
    assert len(rows) == 3
    national_id = rows[1][7]
    assert re.fullmatch(r'="\d{10}"', national_id)
    assert rows[1][0].startswith('="Q')
    sheet = client.get(f"/web/queue/export.xlsx?centre={code}&sort=number")
    assert sheet.status_code == 200
    book = load_workbook(io.BytesIO(sheet.content))
    cells = list(book.active.iter_rows(values_only=True))  # type: ignore[union-attr]
    assert len(cells) == 3
    assert isinstance(cells[1][7], str)
    assert cells[1][7] == national_id[2:-1]  # the same ID, a text cell
    assert isinstance(cells[1][9], int)  # amounts stay numbers
    persian = client.get(f"/web/lang/fa?next=/web/queue/export.csv?centre={code}")
    assert persian.status_code in (200, 303)
    fa = client.get(f"/web/queue/export.csv?centre={code}").content.decode("utf-8-sig")
    assert fa.startswith("شماره سند")
    with sessions() as session:
        reads = session.scalars(
            select(AuditEntry).where(AuditEntry.subject_type == "queue-export")
        ).all()
    assert reads


def claimed(sessions, document_id: str) -> ReviewClaim | None:
    with sessions() as session:
        return session.get(ReviewClaim, uuid.UUID(document_id))


def post(client: TestClient, url: str, data: dict | list, page: str = "/web/queue") -> object:
    token = csrf_of(client.get(page))
    items = list(data.items()) if isinstance(data, dict) else list(data)
    form: dict[str, list[str]] = {"csrf_token": [token]}
    for key, value in items:
        form.setdefault(key, []).append(value)
    return client.post(url, data=form, follow_redirects=False)


def test_claims_show_who_holds_what_and_lapse(web: TestClient, sessions, logged_in) -> None:
    code, ids = centre_with(web, sessions, 3)
    alice = english(logged_in(Role.AUDITOR))
    bob, _bob_name = other_client(web, sessions)
    back = ("back", f"/web/queue?centre={code}")
    answer = post(alice, "/web/queue/selected", [("do", "claim"), ("id", ids[0]), back])
    assert answer.status_code == 303  # type: ignore[attr-defined]
    assert "claimed=1" in answer.headers["location"]  # type: ignore[attr-defined]
    mine = alice.get(f"/web/queue?centre={code}&mine=1").text
    assert '<strong class="mine">You</strong>' in mine
    assert len(numbers_of(mine)) == 1
    with sessions() as session:
        alice_user = session.scalars(
            select(StaffUser).where(StaffUser.id == claimed(sessions, ids[0]).holder_id)  # type: ignore[union-attr]
        ).one()
    seen_by_bob = bob.get(f"/web/queue?centre={code}").text
    assert alice_user.display_name in seen_by_bob
    taken = post(bob, "/web/queue/selected", [("do", "claim"), ("id", ids[0])])
    assert "busy=1" in taken.headers["location"]  # type: ignore[attr-defined]
    assert claimed(sessions, ids[0]).holder_id == alice_user.id  # type: ignore[union-attr]
    # The claim lapses: Bob may take it then.
    with transaction(sessions) as session:
        session.execute(update(ReviewClaim).where(ReviewClaim.document_id == uuid.UUID(ids[0]))
                        .values(claimed_at=datetime.now(UTC) - timedelta(days=2),
                                expires_at=datetime.now(UTC) - timedelta(seconds=1)))  # fmt: skip
    assert alice_user.display_name not in bob.get(f"/web/queue?centre={code}").text
    post(bob, "/web/queue/selected", [("do", "claim"), ("id", ids[0])])
    assert claimed(sessions, ids[0]).holder_id != alice_user.id  # type: ignore[union-attr]
    # The next two of the filter: the unclaimed ones, oldest first.
    nxt = post(
        alice, "/web/queue/claim-next", {"centre": code, "count": "2", "status": "UNDER_REVIEW"}
    )
    assert "mine=1" in nxt.headers["location"]  # type: ignore[attr-defined]
    assert claimed(sessions, ids[1]).holder_id == alice_user.id  # type: ignore[union-attr]
    assert claimed(sessions, ids[2]).holder_id == alice_user.id  # type: ignore[union-attr]
    post(alice, "/web/queue/selected", [("do", "release"), ("id", ids[1]), ("id", ids[0])])
    assert claimed(sessions, ids[1]) is None
    assert claimed(sessions, ids[0]) is not None  # Bob's: Alice cannot release it
    with sessions() as session:
        actions = list(session.scalars(select(AuditEntry.action).where(
            AuditEntry.subject_id.in_(ids), AuditEntry.action.like("review.%"))))  # fmt: skip
    assert actions.count("review.claim") == 4
    assert actions.count("review.release") == 1


def test_an_admin_reassigns_and_an_auditor_cannot(web: TestClient, sessions) -> None:
    _code, ids = centre_with(web, sessions, 1)
    auditor, auditor_name = other_client(web, sessions)
    admin, _ = other_client(web, sessions, Role.ADMIN)
    post(auditor, "/web/queue/selected", [("do", "claim"), ("id", ids[0])])
    with sessions() as session:
        target = session.scalars(select(StaffUser).where(StaffUser.username == auditor_name)).one()
        other = make_user(sessions, Role.AUDITOR)
        other_id = session.scalars(select(StaffUser.id).where(StaffUser.username == other)).one()
    page = f"/web/documents/{ids[0]}"
    refused = post(auditor, f"{page}/claim", {"do": "assign", "to_user": str(other_id)}, page)
    assert refused.status_code == 403  # type: ignore[attr-defined]
    moved = post(admin, f"{page}/claim", {"do": "assign", "to_user": str(other_id)}, page)
    assert moved.status_code == 303  # type: ignore[attr-defined]
    assert claimed(sessions, ids[0]).holder_id == other_id  # type: ignore[union-attr]
    with sessions() as session:
        query = select(AuditEntry).where(
            AuditEntry.subject_id == ids[0], AuditEntry.action == "review.reassign"
        )
        entry = session.scalars(query).one()
    assert entry.details["from"] == target.display_name
    assert entry.details["to_user"] == other


def test_appealed_documents_are_marked_and_listed(
    web: TestClient, sessions, logged_in: LoggedIn
) -> None:
    centre, token = f.make_centre(sessions)
    appealed = submit_priced(web, sessions, token, centre.code, ALWAYS_REVIEW)
    plain = submit_priced(web, sessions, token, centre.code, ALWAYS_REVIEW)
    staff = f.make_staff_token(sessions)
    denied = web.post(
        f"/v1/documents/{appealed}/decision",
        json={"decision": "deny", "reason": "no"},
        headers={"Authorization": f"Bearer {staff}"},
    )
    assert denied.status_code == 200, denied.text
    appeal = web.post(
        f"/v1/documents/{appealed}/appeal",
        json={"reason": "see the notes", "lines": [2]},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert appeal.status_code == 200, appeal.text
    client = english(logged_in(Role.AUDITOR))
    page = client.get(f"/web/queue?centre={centre.code}").text
    rows = {
        m.group(1): m.group(2) for m in re.finditer(r'data-id="([^"]+)">(.*?)</tr>', page, re.S)
    }
    assert 'class="marker appealed"' in rows[appealed]
    assert 'class="marker appealed"' not in rows[plain]
    only = client.get(f"/web/queue?status=&centre={centre.code}&appealed=1").text
    assert appealed in only
    assert plain not in only
    document = client.get(f"/web/documents/{appealed}").text
    assert document.index('id="appeal"') < document.index('id="lines"')  # at the top
    assert "see the notes" in document.split('id="appeal"')[1].split("</section>")[0]
