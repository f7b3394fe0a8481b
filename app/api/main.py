"""FastAPI app: health, and live views of calls. Served by `hotline serve` beside the Stasis app."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, HTTPException, Query
from fastapi.responses import JSONResponse

if TYPE_CHECKING:
    from app.platform import Platform


def create_app(platform: Platform) -> FastAPI:
    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await platform.start()
        try:
            yield
        finally:
            await platform.stop()

    api = FastAPI(
        title="Railway hotline API",
        version="0.1.0",
        description="Health, calls and (as the platform grows) lookups, work orders, recordings.",
        lifespan=lifespan,
    )

    @api.get("/healthz", tags=["health"], summary="ARI and AMI connectivity; 503 while down")
    async def healthz() -> JSONResponse:
        ari_ok = platform.ari.connected
        ami_ok = platform.ami.connected
        body: dict[str, Any] = {
            "status": "ok" if ari_ok and ami_ok else "degraded",
            "ari": {"connected": ari_ok, "connections": platform.ari.events.connections},
            "ami": {"connected": ami_ok},
            "active_calls": len(platform.ari.dispatcher.calls),
        }
        return JSONResponse(body, status_code=200 if ari_ok and ami_ok else 503)

    @api.get("/api/v1/calls/recent", tags=["calls"],
             summary="Live calls and the most recent finished ones (in memory)")
    async def recent_calls(
        sip_call_id: str | None = Query(None, description="only the call with this SIP Call-ID"),
        active: bool | None = Query(None, description="only live (true) or finished (false)"),
    ) -> list[dict[str, Any]]:
        calls = platform.ari.recent.all()
        if sip_call_id is not None:
            calls = [c for c in calls if c.sip_call_id == sip_call_id]
        if active is not None:
            calls = [c for c in calls if (c.ended_at is None) == active]
        return [c.as_dict() for c in calls]

    @api.get("/api/v1/calls/recent/{call_id}", tags=["calls"], summary="One recent call")
    async def recent_call(call_id: str) -> dict[str, Any]:
        trace = platform.ari.recent.get(call_id)
        if trace is None:
            raise HTTPException(404, f"no recent call {call_id}")
        return trace.as_dict()

    return api
