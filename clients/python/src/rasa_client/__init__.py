"""Client for the RASA health-document submission gateway.

from rasa_client import Client

with Client("https://gateway.example.ir", token) as gateway:
    submission = gateway.submit("claims/2026-11-20.xml")
    documents = gateway.follow(d.id for d in submission.documents)
"""

from rasa_client.client import Attachment, Client, OnProgress, Service
from rasa_client.content import Format, UnknownContent, detect_format, with_replaces
from rasa_client.errors import (
    BadRequest,
    Conflict,
    FollowTimeout,
    Forbidden,
    GatewayError,
    GatewayUnreachable,
    NotFound,
    PayloadTooLarge,
    Problem,
    RateLimited,
    ServerError,
    Unauthorized,
    Unavailable,
    UnsupportedMediaType,
    ValidationFailed,
)
from rasa_client.models import (
    DECIDED,
    FINAL,
    PROCESSED,
    Batch,
    Document,
    DocumentSummary,
    FolderItem,
    Submission,
)
from rasa_client.webhooks import WebhookVerificationError, sign_webhook, verify_webhook

__version__ = "0.1.0"
__all__ = [
    "DECIDED",
    "FINAL",
    "PROCESSED",
    "Attachment",
    "BadRequest",
    "Batch",
    "Client",
    "Conflict",
    "Document",
    "DocumentSummary",
    "FolderItem",
    "FollowTimeout",
    "Forbidden",
    "Format",
    "GatewayError",
    "GatewayUnreachable",
    "NotFound",
    "OnProgress",
    "PayloadTooLarge",
    "Problem",
    "RateLimited",
    "ServerError",
    "Service",
    "Submission",
    "Unauthorized",
    "Unavailable",
    "UnknownContent",
    "UnsupportedMediaType",
    "ValidationFailed",
    "WebhookVerificationError",
    "detect_format",
    "sign_webhook",
    "verify_webhook",
    "with_replaces",
]
