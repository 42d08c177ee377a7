"""The embedded broker: kombu's SQLAlchemy transport, tuned for a SQLite file.

It needs no server, so ``gateway demo`` and the tests run anywhere Python runs. Two
adjustments over the stock transport: options meant for the transport (the polling
interval) are kept out of ``create_engine``, and SQLite runs in WAL mode with a busy
timeout so the API publishing and the worker polling do not lock each other out.
"""

from __future__ import annotations

from typing import Any

from kombu.transport import TRANSPORT_ALIASES
from kombu.transport.sqlalchemy import Channel as SqlaChannel
from kombu.transport.sqlalchemy import Transport as SqlaTransport
from sqlalchemy import create_engine, event

POLLING_INTERVAL = 0.1
_TRANSPORT_ONLY = {"polling_interval"}


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


class Channel(SqlaChannel):
    def _engine_from_config(self) -> Any:
        conninfo = self.connection.client
        kept = {k: v for k, v in conninfo.transport_options.items() if k not in _TRANSPORT_ONLY}
        for key in ("queue_tablename", "message_tablename", "callback", "errback",
                    "max_retries", "interval_start", "interval_step", "interval_max",
                    "retry_errors"):  # fmt: skip
            kept.pop(key, None)
        engine = create_engine(conninfo.hostname, **kept)
        if engine.dialect.name == "sqlite":
            event.listen(engine, "connect", _sqlite_pragmas)
        return engine


class Transport(SqlaTransport):
    Channel = Channel
    polling_interval = POLLING_INTERVAL


TRANSPORT_ALIASES["sqla"] = "gateway.kit.embedded_broker:Transport"
TRANSPORT_ALIASES["sqlalchemy"] = "gateway.kit.embedded_broker:Transport"
