"""Structured logs: one JSON object a line, a correlation id, personal data masked.

Every line carries ``time``, ``level``, ``logger``, ``message``, the ``request_id`` of
the request (or of the task, which inherits the id of the request that stored its
document) and any ``extra=`` context. A filter on the handler masks national IDs, names
and secrets in the message and the context whatever logger wrote them, so a careless
``log.info("... %s", document)`` cannot leak them.
"""

from __future__ import annotations

import logging
import re
import sys
import uuid
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

import orjson

request_id: ContextVar[str | None] = ContextVar("request_id", default=None)

_VALID_ID = re.compile(r"[A-Za-z0-9._:/+=-]{1,128}")


def accepted_request_id(raw: str | None) -> str:
    """The caller's X-Request-ID when it is a sane token, else a new one."""
    if raw and _VALID_ID.fullmatch(raw):
        return raw
    return uuid.uuid4().hex


def correlation() -> dict[str, str]:
    """The current request id as a dict to merge into a message (empty outside a request)."""
    current = request_id.get()
    return {"request_id": current} if current else {}


# -- masking ------------------------------------------------------------------------

_NATIONAL_ID = re.compile(r"(?<![0-9])[0-9]{6}([0-9]{4})(?![0-9])")
_BEARER = re.compile(r"(?i)(bearer\s+)[^\s,;'\"]+")
_URL_PASSWORD = re.compile(r"(://[^:/@\s]+:)[^@\s]+@")
_SECRET_PAIR = re.compile(
    r"(?i)((?:password|passwd|secret|token|api[_-]?key|authorization)[\"']?\s*[:=]\s*[\"']?)"
    r"[^\s,;'\"&}]+"
)
_NAME_PAIR = re.compile(
    r"(?i)(\b(?:first|last|family|given|full|patient|physician)?[_-]?name[\"']?\s*[:=]\s*"
    r"[\"']?)[^,;'\"&}\n]+"
)
_SECRET_KEY = re.compile(r"(?i)password|passwd|secret|token|authorization|api_?key")
_PERSONAL_KEYS = frozenset(
    f"{prefix}{sep}{word}"
    for prefix in ("", "first", "last", "family", "given", "full", "patient", "physician")
    for sep in (("",) if not prefix else ("_", ""))
    for word in ("name", "Name")
) | {"national_id", "nationalId", "patient_national_id", "given", "family"}
_MASK = "***"
_SECRET_WORDS = ("pass", "secret", "token", "key", "authorization")


def mask_text(text: str) -> str:
    """The text with national IDs (all but the last 4 digits), names and secrets masked."""
    # Cheap substring tests first: most lines need none of the expressions.
    text = _NATIONAL_ID.sub(r"******\1", text)
    lowered = text.lower()
    if "bearer" in lowered:
        text = _BEARER.sub(r"\1" + _MASK, text)
    if "://" in text:
        text = _URL_PASSWORD.sub(r"\1" + _MASK + "@", text)
    if any(word in lowered for word in _SECRET_WORDS):
        text = _SECRET_PAIR.sub(r"\1" + _MASK, text)
    if "name" in lowered:
        text = _NAME_PAIR.sub(r"\1" + _MASK, text)
    return text


def _masked(key: str, value: Any) -> Any:
    if value not in (None, "") and (key in _PERSONAL_KEYS or _SECRET_KEY.search(key)):
        return _MASK
    if isinstance(value, str):
        return mask_text(value)
    return value


# Loggers whose records hold only values of closed sets: the access line's method, route
# template (never the raw path), status, duration and centre code. Masking them would
# cost every request, refused ones included, a dozen expressions and find nothing.
UNMASKED_LOGGERS = frozenset({"gateway.access"})


class MaskingFilter(logging.Filter):
    """Rewrites each record's message and context with personal data and secrets masked."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name in UNMASKED_LOGGERS:
            return True
        message = record.getMessage()
        record.msg = mask_text(message)
        record.args = None
        for key in _context_keys(record):
            setattr(record, key, _masked(key, getattr(record, key)))
        if record.exc_info and not record.exc_text:
            record.exc_text = mask_text(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return True


# -- formatting ---------------------------------------------------------------------

_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "taskName",
}


def _context_keys(record: logging.LogRecord) -> list[str]:
    return [key for key in vars(record) if key not in _STANDARD and not key.startswith("_")]


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": request_id.get(),
        }
        for key in _context_keys(record):
            entry.setdefault(key, getattr(record, key))
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exception"] = record.exc_text
        return orjson.dumps(entry, default=str).decode()


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        record.request_id = request_id.get() or "-"
        return super().format(record)


HANDLER_NAME = "gateway"


def configure_logging(level: str | int = "INFO", fmt: str = "json") -> None:
    """Route every logger (ours, uvicorn's, Celery's, Python's warnings) to one masked
    handler on stderr, at the given level."""
    handler = logging.StreamHandler(sys.stderr)
    handler.set_name(HANDLER_NAME)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    handler.addFilter(MaskingFilter())
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == HANDLER_NAME]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper() if isinstance(level, str) else level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "celery", "celery.task"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
        logger.setLevel(logging.NOTSET)
    # Warnings (Celery's about running as root, deprecations) become log lines too.
    logging.captureWarnings(True)
