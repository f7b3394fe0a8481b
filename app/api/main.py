"""FastAPI app: health, look-ups, lost-and-found, work orders, calls, agents, QA scoring, and
the web pages (app/web).

`hotline serve` runs it beside the Stasis app; without a platform it serves the data API alone
(tests, benchmarks).
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from sqlalchemy import text

from app.api.body_limit import BodyLimit
from app.api.errors import MAX_BODY_BYTES, documented, install_error_handlers
from app.api.routes import (
    agent_events,
    agents,
    call_controls,
    call_history,
    calls,
    dialplan_services,
    flows,
    lookups,
    pbx_view,
    qa,
    recordings,
    session,
    shifts,
    wall,
    work_orders,
)
from app.config import Settings
from app.db.session import Database
from app.qa.scorecard import ScorecardLibrary
from app.services.throttle import LookupThrottle
from app.services.token_cache import TokenCache
from app.stats import routes as stats_routes
from app.web.pages import install_pages

if TYPE_CHECKING:
    from app.platform import Platform


# FastAPI's own OpenTelemetry support looks for configured providers on every request; the
# platform configures none (its logs and call traces are its own), so it is off. Older FastAPI
# versions have no such option.
_NO_TELEMETRY: dict[str, Any] = (
    {"telemetry": {"tracing": False, "metrics": False, "logs": False}}
    if "telemetry" in inspect.signature(FastAPI.__init__).parameters else {}
)


def create_app(settings: Settings, db: Database, platform: Platform | None = None) -> FastAPI:
    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if platform is not None:
            await platform.start()
        try:
            yield
        finally:
            if platform is not None:
                await platform.stop()
            await db.dispose()

    api = FastAPI(
        **_NO_TELEMETRY,
        title="Railway hotline API",
        version="0.1.0",
        description="Ticket and train look-ups, lost-and-found, work orders, calls, agents and QA "
        "evaluations of the railway hotline. Authenticate with `Authorization: Bearer TOKEN` "
        "(`hotline users token NAME`); each route lists the roles it admits. Errors always "
        'have the body `{"error": {"code", "message", "details"}}`.',
        lifespan=lifespan,
        responses=documented(400, 413, 422),
        docs_url=None,  # served by install_pages from local assets (no CDN)
        redoc_url=None,
    )
    api.state.db = db
    api.state.settings = settings
    api.state.platform = platform
    api.state.token_cache = TokenCache(settings.token_cache_seconds)
    api.state.lookup_throttle = LookupThrottle(settings.lookup_policy)
    api.state.scorecards = ScorecardLibrary(settings.scorecards_dir)
    install_error_handlers(api)
    api.add_middleware(BodyLimit, max_bytes=MAX_BODY_BYTES)
    api.include_router(lookups.router)
    api.include_router(work_orders.router)
    api.include_router(calls.router)
    api.include_router(call_history.router)
    api.include_router(call_controls.router)
    api.include_router(agents.router)
    api.include_router(agent_events.router)
    api.include_router(recordings.router)
    api.include_router(qa.router)
    api.include_router(stats_routes.router)
    api.include_router(shifts.router)
    api.include_router(wall.router)
    api.include_router(session.router)
    api.include_router(dialplan_services.router)
    api.include_router(flows.router)
    api.include_router(pbx_view.router)
    install_pages(api)

    @api.get(
        "/healthz",
        tags=["health"],
        summary="Database, ARI and AMI connectivity; 503 while one is down",
        responses={503: {"description": "the database, ARI or AMI is down (same body)"}},
    )
    async def healthz() -> JSONResponse:
        try:
            async with db.session() as session:
                await session.execute(text("select 1"))
            db_ok = True
        except Exception:
            db_ok = False
        body: dict[str, Any] = {"database": {"connected": db_ok, "engine": db.dialect}}
        healthy = db_ok
        if platform is not None:
            telephony_ok, details = platform.health()
            healthy = healthy and telephony_ok
            body |= details
        body["status"] = "ok" if healthy else "degraded"
        return JSONResponse(body, status_code=200 if healthy else 503)

    return api
