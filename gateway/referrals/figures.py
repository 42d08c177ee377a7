"""The referral programme's figures, as its managers watch them: read by the signals
collector (gateway/upkeep/signals.py) and shown on the workspace's Referrals page."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy.orm import Session

from gateway.domain.referrals import level_of_grade
from gateway.referrals import repository as store

VISIT_WINDOW_DAYS = 30  # specialist visits counted for the signals
FEEDBACK_WINDOW_DAYS = 90  # referral visits whose feedback is watched


@dataclass(slots=True)
class Figures:
    """The programme's signals, as its managers watch them (docs/referrals.md)."""

    statuses: dict[tuple[str, ...], int]  # (status, level) -> referrals
    visits: dict[tuple[str, ...], int]  # (province, level, how) -> specialist documents
    feedback: dict[str, tuple[int, int]]  # using centre -> (visits due, fed back in time)


def figures(*, session: Session, today: date, feedback_days: int) -> Figures:
    """Referrals by status and level; the last 30 days' specialist visits in the rollout's
    provinces by how the patient came (referred, self-referred, emergency, none); per
    centre, the referral visits of the last 90 days old enough for feedback to be due, and
    how many had it within ``feedback_days``."""
    statuses: dict[tuple[str, ...], int] = {
        (s, str(level)): n for s, level, n in store.status_counts(session, today)
    }
    visits: dict[tuple[str, ...], int] = {}
    provinces = store.rollout(session).entries.keys()
    since = today - timedelta(days=VISIT_WINDOW_DAYS)
    for group in store.specialist_visits(session, provinces, since):
        if group.referred:
            how = "referred"
        elif group.emergency:
            how = "emergency"
        elif group.self_referred:
            how = "self-referred"
        else:
            how = "none"
        key = (group.province, str(int(level_of_grade(group.grade))), how)
        visits[key] = visits.get(key, 0) + group.documents
    due_until = today - timedelta(days=feedback_days)
    feedback: dict[str, tuple[int, int]] = {}
    rows = store.feedback_due(session, today - timedelta(days=FEEDBACK_WINDOW_DAYS), due_until)
    for centre, day, at in rows:
        timely = at is not None and at.date() <= day + timedelta(days=feedback_days)
        due, done = feedback.get(centre, (0, 0))
        feedback[centre] = (due + 1, done + int(timely))
    return Figures(statuses, visits, feedback)
