"""The referral programme's figures on /metrics, on a database of this test's own (SQLite
and PostgreSQL), so every figure is exactly this test's."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import update

from gateway.kit.db import transaction
from gateway.storage.models import Referral
from gateway.upkeep import signals
from tests.referrals.helpers import auth, issue, programme, specialist_visit, submit
from tests.upkeep.test_signals import own, own_url, scrape, value

__all__ = ["own", "own_url"]  # the fixtures this module's tests use


def test_the_programme_figures(own, tmp_path: Path) -> None:
    client, sessions = own
    p = programme(sessions, tmp_path)
    used = issue(client, p, issued_on="2026-11-01")["code"]
    issue(client, p, issued_on="2026-10-01")  # valid until 2026-10-30: expired unused
    issue(client, p, level=3)  # open
    submit(
        client,
        p,
        specialist_visit(p, used, service_date="2026-11-02"),
        specialist_visit(p, None, attributes={"selfReferred": True}),
        specialist_visit(p, None, attributes={"emergency": True}),
        specialist_visit(p, None, grade="general"),  # a GP visit: not a specialist's
    )
    feedback = {"diagnosis": "I25.1", "findings": "x", "plan": "y", "back_to_level1": True}
    given = client.post(
        f"/v1/referrals/{used}/feedback", json=feedback, headers=auth(p.specialist_token)
    )
    assert given.status_code == 200, given.text
    with transaction(sessions) as session:  # given three days after the visit
        session.execute(
            update(Referral)
            .where(Referral.code == used)
            .values(feedback_at=datetime(2026, 11, 5, 9, tzinfo=UTC))
        )
    family = signals.CentreFamily()
    programme_family = signals.ProgrammeFamily()
    settings = client.app.state.gateway.settings  # type: ignore[attr-defined]
    with sessions() as session:
        signals.read_slow(
            session, family, now=datetime.now(UTC), programme=programme_family, settings=settings
        )
    found = scrape(client)
    statuses = {
        (status, level): value(found, "gateway_referrals", status=status, level=level)
        for status in ("open", "used", "expired-unused", "expired-partly")
        for level in ("2", "3")
    }
    assert {k: v for k, v in statuses.items() if v} == {
        ("used", "2"): 1,
        ("expired-unused", "2"): 1,
        ("open", "3"): 1,
    }
    visits = {
        how: value(
            found,
            "gateway_referral_specialist_visits_30d",
            province="Tehran",
            level="2",
            referral=how,
        )
        for how in ("referred", "self-referred", "emergency", "none")
    }
    assert visits == {"referred": 1, "self-referred": 1, "emergency": 1, "none": 0}
    centre = p.specialist_centre
    assert value(found, "gateway_referral_feedback_due", centre=centre) == 1
    assert value(found, "gateway_referral_feedback_timely", centre=centre) == 1
