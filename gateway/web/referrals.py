"""The referral programme's page: what its managers watch (aggregates only, no patient's
data: every staff role may see it)."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import APIRouter
from fastapi.responses import Response

from gateway.kit.deps import ReadSession
from gateway.referrals import figures as programme_figures
from gateway.referrals import service as referrals
from gateway.settings import today
from gateway.web.kit import Anyone, WorkspaceRoute

router = APIRouter(route_class=WorkspaceRoute)
STATUSES = ("open", "used", "expired-unused", "expired-partly")
HOWS = ("referred", "self-referred", "emergency", "none")


@dataclass(frozen=True, slots=True)
class VisitRow:
    province: str
    level: str
    counts: tuple[int, ...]  # in HOWS order
    self_share: float | None  # self-referred / (referred + self-referred), percent


@dataclass(frozen=True, slots=True)
class FeedbackRow:
    centre: str
    due: int
    timely: int
    rate: float | None  # percent


def _visit_rows(visits: dict[tuple[str, ...], int]) -> list[VisitRow]:
    keys = sorted({(province, level) for province, level, _ in visits})
    rows = []
    for province, level in keys:
        counts = tuple(visits.get((province, level, how), 0) for how in HOWS)
        chose = counts[0] + counts[1]
        share = 100 * counts[1] / chose if chose else None
        rows.append(VisitRow(province, level, counts, share))
    return rows


@router.get("/referrals")
def programme(visit: Anyone, db: ReadSession) -> Response:
    settings = visit.state.settings
    figures = programme_figures.figures(
        session=db, today=today(settings), feedback_days=settings.referral_feedback_days
    )
    rollout = sorted(referrals.rollout(session=db).entries.values(), key=lambda e: e.province)
    feedback = [
        FeedbackRow(centre, due, timely, 100 * timely / due if due else None)
        for centre, (due, timely) in sorted(figures.feedback.items())
    ]
    return visit.render(
        "referrals.html",
        statuses=STATUSES,
        hows=HOWS,
        by_status={key: figures.statuses.get(key, 0) for key in _status_keys()},
        visits=_visit_rows(figures.visits),
        feedback=feedback,
        rollout=rollout,
        feedback_days=settings.referral_feedback_days,
    )


def _status_keys() -> list[tuple[str, str]]:
    return [(status, level) for status in STATUSES for level in ("2", "3")]
