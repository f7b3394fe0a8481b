"""Live and recent calls, as the Stasis app sees them (in memory)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from app.api.deps import require, roles_doc
from app.api.errors import ApiError, documented
from app.core.calltrace import CallTrace
from app.db.models import Role
from app.services.auth import Principal
from app.services.masking import mask_phone
from app.services.personal_data import detail_for

router = APIRouter(prefix="/api/v1/calls", tags=["calls"], responses=documented(401, 403))
WATCH = (Role.SUPERVISOR, Role.QA, Role.ENGINEER, Role.AGENT)
Watcher = Annotated[Principal, Depends(require(*WATCH))]


def _recent(request: Request) -> list[CallTrace]:
    platform = request.app.state.platform
    if platform is None:
        raise ApiError(503, "no_telephony", "this API runs without the Stasis app")
    calls: list[CallTrace] = platform.ari.recent.all()
    return calls


def _out(trace: CallTrace, viewer: Role) -> dict[str, Any]:
    body = trace.as_dict()
    body["caller"] = mask_phone(body["caller"])
    body["steps"] = [detail_for(viewer, step) for step in body["steps"]]
    return body


@router.get(
    "/recent",
    summary="Live calls and the most recent finished ones",
    description=roles_doc(*WATCH),
    responses=documented(503, e503="an API-only node has no live calls"),
)
async def recent_calls(
    request: Request,
    user: Watcher,
    sip_call_id: Annotated[str | None, Query(description="only this SIP Call-ID")] = None,
    active: Annotated[bool | None, Query(description="only live or finished calls")] = None,
) -> list[dict[str, Any]]:
    calls = _recent(request)
    if sip_call_id is not None:
        calls = [c for c in calls if c.sip_call_id == sip_call_id]
    if active is not None:
        calls = [c for c in calls if (c.ended_at is None) == active]
    return [_out(c, user.role) for c in calls]


@router.get(
    "/recent/{call_id}", summary="One recent call", description=roles_doc(*WATCH),
    responses=documented(404, 503, e503="an API-only node has no live calls"),
)
async def recent_call(call_id: str, request: Request, user: Watcher) -> dict[str, Any]:
    for trace in _recent(request):
        if trace.call_id == call_id:
            return _out(trace, user.role)
    raise ApiError(404, "call_not_found", f"no recent call {call_id}")
