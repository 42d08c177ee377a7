"""The FastAPI application: routers, the one error handler, metrics, health and readiness."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway import logs, metrics
from gateway.batches import endpoints as batches
from gateway.documents import endpoints as documents
from gateway.domain.lifecycle import InvalidTransitionError
from gateway.eligibility import endpoints as eligibility
from gateway.errors import GatewayError
from gateway.fhir import endpoints as fhir
from gateway.fhir.xml import fhir_schema
from gateway.information import endpoints as information
from gateway.kit import openapi
from gateway.kit.broker import make_celery
from gateway.kit.chores import Chore, Chores
from gateway.kit.db import engine_for, ping, session_factory
from gateway.kit.deps import GatewayState, TokenCache
from gateway.kit.frontdoor import FrontDoor, Refusal
from gateway.kit.outbox import OutboxDispatcher, Publisher
from gateway.kit.ratelimit import make_limiter
from gateway.payers import endpoints as payers
from gateway.referrals import endpoints as referrals
from gateway.review import endpoints as lifecycle
from gateway.settings import Settings, get_settings
from gateway.settlement import endpoints as settlements
from gateway.submissions import endpoints as submissions
from gateway.submissions.writer import IngestWriter
from gateway.upkeep import gauges, signals, sweeper
from gateway.web.routes import router as workspace_router
from gateway.webhooks import endpoints as webhooks
from validators.problems import Problem
from validators.schema import claim_schema

log = logging.getLogger(__name__)
access = logging.getLogger("gateway.access")
MAX_PROBLEMS = 100  # listed in one answer; a body can hold thousands of the same mistake


def _errors(
    status_code: int, problems: list[Problem], headers: dict[str, str] | None = None
) -> JSONResponse:
    shown = problems[:MAX_PROBLEMS]
    if len(problems) > MAX_PROBLEMS:
        more = len(problems) - MAX_PROBLEMS
        shown.append(Problem("problems.truncated", f"{more} more problems are not listed."))
    content = {"errors": [p.to_dict() for p in shown]}
    return JSONResponse(content, status_code=status_code, headers=headers)


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(GatewayError)
    async def gateway_error(_: Request, exc: GatewayError) -> JSONResponse:
        return _errors(exc.status_code, exc.to_problems(), exc.headers)

    @app.exception_handler(RequestValidationError)
    async def request_invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [
            Problem("request.invalid", str(e.get("msg")), "/".join(str(p) for p in e["loc"]))
            for e in exc.errors()
        ]
        return _errors(422, problems)

    @app.exception_handler(InvalidTransitionError)
    async def invalid_move(_: Request, exc: InvalidTransitionError) -> JSONResponse:
        # A move the lifecycle forbids is the caller's conflict with the document's state,
        # wherever a service let it reach the lifecycle: 409 naming the allowed moves.
        return _errors(409, GatewayError(str(exc), 409).to_problems())

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return _errors(
            exc.status_code, GatewayError(str(exc.detail), exc.status_code).to_problems()
        )

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return _errors(500, [Problem("internal", "Internal error; nothing was half-stored.")])


_SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-resource-policy", b"same-origin"),
]
# API answers are data, never pages: nothing in them may run or be framed. The OpenAPI
# pages (/docs, /redoc) load Swagger's scripts, so they are left without this policy.
_API_POLICY = (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'")
_API_CACHE = (b"cache-control", b"no-store")
_API_PREFIXES = ("/v1/", "/fhir/")


class RequestMiddleware:
    """Around every request: a request id (the caller's X-Request-ID, or a new one),
    echoed in the answer and set for every log line written while answering; security
    headers the endpoint did not set itself (the workspace sets its own); one log line;
    and the request counted and timed by route template (never by raw path). One layer
    for all of it: each ASGI layer costs every request a call and a wrapped ``send``.

    Under overload it is also the front door (``kit.frontdoor``): an ingest request the
    door refuses is answered here, its body unread, with the same headers, count and log
    line as any other answer, and none of the application's work."""

    def __init__(self, app: ASGIApp, door: FrontDoor | None = None) -> None:
        self.app = app
        self.door = door

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        raw = next((v for k, v in scope["headers"] if k == b"x-request-id"), None)
        rid = logs.accepted_request_id(raw.decode("latin-1") if raw else None)
        token = logs.request_id.set(rid)
        began = time.perf_counter()
        status = 500
        api = scope["path"].startswith(_API_PREFIXES)

        async def send_with_headers(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                present = {k.lower() for k, _ in headers}
                headers.append((b"x-request-id", rid.encode("latin-1")))
                extra = [*_SECURITY_HEADERS, _API_POLICY, _API_CACHE] if api else _SECURITY_HEADERS
                headers += [(k, v) for k, v in extra if k not in present]
                message["headers"] = headers
            await send(message)

        door = self.door
        refused = door.refusal(scope) if door is not None else None
        let_in = door is not None and refused is None and door.counts(scope)
        in_flight = door.in_flight if door is not None and let_in else None
        entered = in_flight.enter() if in_flight is not None else 0.0
        try:
            if refused is None:
                await self.app(scope, receive, send_with_headers)
            else:
                await _send_refusal(refused[1], send_with_headers)
        finally:
            if in_flight is not None:
                in_flight.leave(entered)
            seconds = time.perf_counter() - began
            if refused is None:
                route = getattr(scope.get("route"), "path", "unmatched")
            else:
                route = refused[0]
            method, code = scope["method"], str(status)
            metrics.HTTP_REQUESTS.labels(method, route, code).inc()
            metrics.HTTP_LATENCY.labels(method, route, code).observe(seconds)
            caller = scope.get("state", {}).get("caller")
            access.info(
                "%s %s %s",
                method,
                route,
                status,
                extra={"method": method, "route": route, "status": status,
                       "ms": round(seconds * 1000, 2), "centre": caller},
            )  # fmt: skip
            logs.request_id.reset(token)


async def _send_refusal(refusal: Refusal, send: Send) -> None:
    await send(
        {"type": "http.response.start", "status": refusal.status, "headers": refusal.headers}
    )
    await send({"type": "http.response.body", "body": refusal.body})


def front_door(writer: IngestWriter, settings: Settings) -> FrontDoor:
    """The routes that store what they are sent, refused before any work when the writer
    foresees too long a wait: submissions, batch uploads and FHIR claims."""
    door = FrontDoor(
        settings.ingest_max_wait_s, writer.expected_wait, writer.shed_at_door, writer.in_flight
    )
    door.add("POST", "/v1/submissions")
    door.add("POST", "/v1/batches", counted=False)
    door.add("POST", "/fhir/Claim/$submit", fhir.overloaded_answer)
    door.add("POST", "/fhir/Claim", fhir.overloaded_answer)
    return door


def _install_operations(app: FastAPI) -> None:
    @app.get("/healthz", tags=["operations"], summary="The process is alive")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get(
        "/readyz",
        tags=["operations"],
        summary="Database and broker are reachable; whether submissions are being shed",
        responses={503: {"description": "The database or the broker is unreachable"}},
    )
    def readyz(request: Request) -> JSONResponse:
        state: GatewayState = request.app.state.gateway
        checks: dict[str, str] = {}
        try:
            ping(state.engine)
            checks["database"] = "ok"
        except Exception as exc:
            checks["database"] = f"unreachable: {type(exc).__name__}"
        try:
            with state.celery.connection_for_write() as connection:
                connection.ensure_connection(max_retries=1, timeout=3)
            checks["broker"] = "ok"
        except Exception as exc:
            checks["broker"] = f"unreachable: {type(exc).__name__}"
        ready = all(v == "ok" for v in checks.values())
        # Shedding is still ready: the process answers, only quickly refuses what would wait.
        writer: IngestWriter = request.app.state.ingest_writer
        body = {
            "status": "ready" if ready else "not-ready",
            "checks": checks,
            "shedding": writer.shedding(),
        }
        return JSONResponse(body, status_code=200 if ready else 503)

    @app.get("/metrics", tags=["operations"], summary="Prometheus metrics")
    async def prometheus() -> Response:
        data, content_type = await run_in_threadpool(metrics.render)
        return Response(data, media_type=content_type)


def chores(
    sessions: sessionmaker[Session], settings: Settings, collector: signals.Collector
) -> list[Chore]:
    """The API process's upkeep, each on its own interval."""
    found = [
        Chore(
            "sweep for stuck work", sweeper.periodic(sessions, settings), settings.sweep_interval_s
        ),
        Chore("reading of the business signals", collector.run, settings.signals_interval_s),
    ]
    if settings.analyze_interval_s > 0:
        found.append(
            Chore(
                "analysis of grown tables", sweeper.analysis(sessions), settings.analyze_interval_s
            )
        )
    return found


def create_app(settings: Settings | None = None, *, relay: bool = True) -> FastAPI:
    """The gateway API; ``relay`` runs the outbox dispatcher (publisher and relay) and the
    upkeep (sweep, statistics) here.

    Without it, committed messages wait in the outbox for a relay elsewhere.
    """
    settings = settings or get_settings()
    engine = engine_for(settings.database_url)
    sessions = session_factory(engine)
    celery = make_celery(settings)
    publisher = Publisher(celery, sessions, settings.queue_name, gauges)
    dispatcher = OutboxDispatcher(
        publisher,
        settings.outbox_relay_interval_s,
        settings.outbox_relay_grace_s,
    )
    writer = IngestWriter(sessions, settings, dispatcher)
    collector = signals.Collector(engine, settings)
    upkeep = Chores(chores(sessions, settings, collector))
    state = GatewayState(
        settings=settings,
        engine=engine,
        sessions=sessions,
        celery=celery,
        publisher=publisher,
        dispatcher=dispatcher,
        tokens=TokenCache(settings.token_cache_s),
        limiter=make_limiter(
            settings.rate_limit_per_minute,
            settings.rate_limit_burst,
            settings.rate_limit_redis_url,
        ),
    )
    claim_schema()  # compile the XSDs once, before the first request
    fhir_schema()

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if relay:
            dispatcher.start()
            upkeep.start()
        if settings.ingest_max_wait_s > 0:
            writer.loop_lag.start()
        yield
        await writer.loop_lag.stop()
        await run_in_threadpool(writer.stop)  # hands the dispatcher its last messages
        if relay:
            await run_in_threadpool(dispatcher.stop)
            await run_in_threadpool(upkeep.stop)
            collector.close()

    app = FastAPI(
        title="RASA health-document gateway",
        version="1",
        summary="Submit treatment documents as XML, JSON or FHIR; follow them to payment.",
        lifespan=lifespan,
        openapi_url=None,  # kit.openapi serves it as a route of the app (counted by route)
        docs_url=None,  # served by kit.openapi from packaged assets, not a CDN
        redoc_url=None,
        # The gateway exports its own metrics and logs; FastAPI's OpenTelemetry hooks would
        # only cost every request a look at the environment for providers never set.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.gateway = state
    app.state.ingest_writer = writer  # submissions' own: kit's state does not know it
    app.state.eligibility_limiter = make_limiter(  # eligibility's own budget, likewise
        settings.eligibility_per_minute, None, settings.rate_limit_redis_url, "gateway:rl:elig:"
    )
    _install_error_handlers(app)
    app.add_middleware(RequestMiddleware, door=front_door(writer, settings))
    _install_operations(app)
    openapi.install(app)
    app.include_router(submissions.router)
    app.include_router(batches.router)
    app.include_router(documents.router)
    app.include_router(eligibility.router)
    app.include_router(lifecycle.router)
    app.include_router(information.router)
    app.include_router(settlements.router)
    app.include_router(payers.router)
    app.include_router(fhir.router)
    app.include_router(webhooks.router)
    app.include_router(referrals.router)
    app.include_router(workspace_router)
    return app
