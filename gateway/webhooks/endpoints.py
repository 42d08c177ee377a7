"""A centre's webhooks: register, list, delete, and see each delivery attempt.

Only centre tokens manage webhooks (403 for other roles); a centre never sees another
centre's webhooks (404).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Response
from pydantic import AnyUrl, BaseModel, Field, UrlConstraints

from gateway.domain.bounds import Offset, RowId
from gateway.domain.centres import Role
from gateway.errors import ForbiddenError
from gateway.kit.deps import Caller, ReadSession, State, WriteSession
from gateway.kit.http import AUTHENTICATED, BAD_JSON, errors
from gateway.storage.models import Webhook, WebhookDelivery
from gateway.webhooks import service as webhooks
from gateway.webhooks.signing import error_class

router = APIRouter(prefix="/v1", tags=["webhooks"])

WebhookUrl = Annotated[
    AnyUrl, UrlConstraints(max_length=500, allowed_schemes=["http", "https"], host_required=True)
]


class WebhookIn(BaseModel):
    url: WebhookUrl = Field(
        description="An https URL whose host is, and resolves only to, public addresses "
        "(422 webhook.https-required, webhook.blocked-address or webhook.host-invalid "
        "otherwise); see docs/webhooks.md, Address policy",
        examples=["https://his.example-hospital.ir/gateway-events"],
    )


class WebhookOut(BaseModel):
    id: int
    url: str
    active: bool
    created_at: datetime
    disabled_at: datetime | None
    deliveries_url: str


class WebhookCreated(WebhookOut):
    secret: str = Field(
        description="The Standard Webhooks secret (whsec_ and base64) that signs every "
        "delivery (webhook-signature); shown only in this answer"
    )


class DeliveryOut(BaseModel):
    id: int
    event_id: str = Field(description="The event's id, also sent as webhook-id")
    document_id: uuid.UUID | None
    attempt: int = Field(description="1 for the first try of an event, 2 for its first retry...")
    status_code: int | None = Field(description="The receiver's HTTP status; null if none")
    error: str | None = Field(
        description="Why the attempt failed, as a class: timeout, refused, tls, unresolved, "
        "network, blocked-address, http-3xx, http-4xx or http-5xx; null when delivered",
        examples=["http-5xx"],
    )
    delivered: bool
    duration_ms: int
    created_at: datetime


class DeliveryPage(BaseModel):
    items: list[DeliveryOut]
    total: int
    limit: int
    offset: int


def webhook_centre(principal: Caller) -> int:
    """The calling centre's id; other roles may not manage webhooks."""
    if principal.role is not Role.CENTRE or principal.centre is None:
        raise ForbiddenError("Only a centre's token may manage webhooks.")
    return principal.centre.id


CentreId = Annotated[int, Depends(webhook_centre)]
WebhookId = Annotated[RowId, Path()]


@router.post(
    "/webhooks",
    status_code=201,
    response_model=WebhookCreated,
    responses=errors(
        *AUTHENTICATED,
        400,
        403,
        409,
        422,
        c409="The centre has its most webhooks",
        said={
            **BAD_JSON,
            403: "Only a centre's token may manage webhooks.",
            409: "A centre may have at most 10 active webhooks; delete one first.",
            422: (
                "webhook.https-required",
                "A webhook URL must be https; this gateway does not send events over http.",
            ),
        },
    ),
    summary="Register a webhook (the signing secret is shown once)",
)
def create_webhook(
    body: WebhookIn,
    response: Response,
    centre_id: CentreId,
    caller: Caller,
    session: WriteSession,
    state: State,
) -> WebhookCreated:
    done = webhooks.register(
        session=session,
        centre_id=centre_id,
        url=str(body.url),
        actor=caller.actor,
        policy=state.settings.webhook_address_policy(),
    )
    out = webhook_out(done.webhook)
    response.headers["Location"] = f"/v1/webhooks/{out.id}"
    return WebhookCreated(**out.model_dump(), secret=done.secret)


@router.get(
    "/webhooks",
    response_model=list[WebhookOut],
    responses=errors(*AUTHENTICATED, 403),
    summary="The calling centre's webhooks, active and deleted",
)
def list_webhooks(centre_id: CentreId, session: ReadSession) -> list[WebhookOut]:
    found = webhooks.centre_webhooks(session=session, centre_id=centre_id)
    return [webhook_out(w) for w in found]


@router.delete(
    "/webhooks/{webhook_id}",
    status_code=204,
    responses=errors(*AUTHENTICATED, 403, 404, 422),
    summary="Delete a webhook: no further events are sent to it; its deliveries stay visible",
)
def delete_webhook(
    webhook_id: WebhookId, centre_id: CentreId, caller: Caller, session: WriteSession
) -> Response:
    webhooks.disable(
        session=session, centre_id=centre_id, webhook_id=webhook_id, actor=caller.actor
    )
    return Response(status_code=204)


@router.get(
    "/webhooks/{webhook_id}/deliveries",
    response_model=DeliveryPage,
    responses=errors(*AUTHENTICATED, 403, 404, 422),
    summary="A webhook's delivery attempts, newest first",
)
def list_deliveries(
    webhook_id: WebhookId,
    centre_id: CentreId,
    session: ReadSession,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[Offset, Query()] = 0,
) -> DeliveryPage:
    rows, total = webhooks.deliveries(
        session=session, centre_id=centre_id, webhook_id=webhook_id, limit=limit, offset=offset
    )
    return DeliveryPage(
        items=[delivery_out(d) for d in rows], total=total, limit=limit, offset=offset
    )


def webhook_out(webhook: Webhook) -> WebhookOut:
    return WebhookOut(
        id=webhook.id,
        url=webhook.url,
        active=webhook.disabled_at is None,
        created_at=webhook.created_at,
        disabled_at=webhook.disabled_at,
        deliveries_url=f"/v1/webhooks/{webhook.id}/deliveries",
    )


def delivery_out(row: WebhookDelivery) -> DeliveryOut:
    return DeliveryOut(
        id=row.id,
        event_id=row.event_id,
        document_id=row.document_id,
        attempt=row.attempt,
        status_code=row.status_code,
        error=error_class(row.status_code, row.error),
        delivered=row.delivered,
        duration_ms=row.duration_ms,
        created_at=row.created_at,
    )
