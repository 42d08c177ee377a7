"""The workspace's router, mounted by the application under ``/web``."""

from __future__ import annotations

from fastapi import APIRouter

from gateway.web import (
    admin,
    auth,
    batches,
    donations,
    pages,
    referrals,
    settlements,
    worklist,
)
from gateway.web.kit import Refused, WorkspaceRoute
from gateway.web.messages import N_

missing = APIRouter(route_class=WorkspaceRoute)


@missing.api_route("/{rest:path}", methods=["GET", "POST"])
def not_found(rest: str) -> None:
    """Any other workspace address: a page saying so, with the workspace's headers."""
    raise Refused(404, N_("error.not_found"))


SECTIONS = (
    auth.router,
    pages.router,
    worklist.router,
    batches.router,
    settlements.router,
    donations.router,
    referrals.router,
    admin.router,
    missing,  # last
)  # missing: last

router = APIRouter(include_in_schema=False)  # each route carries /web (WorkspaceRoute)
for section in SECTIONS:
    router.include_router(section)
