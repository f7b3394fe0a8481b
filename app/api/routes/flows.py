"""Flow hot reload for telecom engineers: the flows folder checked and swapped in at once."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel

from app.api.deps import require, roles_doc
from app.api.errors import ApiError, documented
from app.db.models import Role
from app.ivr.loader import FlowError
from app.services.auth import Principal

router = APIRouter(prefix="/api/v1/flows", tags=["flows"], responses=documented(401, 403))
Engineer = Annotated[Principal, Depends(require(Role.ENGINEER))]


class ReloadOut(BaseModel):
    flows: list[str]


@router.post(
    "/reload", summary="Check the flow files and swap them in",
    description="New calls run the new flows; calls in progress finish on the ones they "
    "started with. A broken flow is refused (422, `details.problems` lists FILE:LINE: "
    "message) and the running flows stay. " + roles_doc(Role.ENGINEER),
    responses=documented(422, 503),
)
async def reload_flows(request: Request, _: Engineer) -> ReloadOut:
    platform = request.app.state.platform
    library = getattr(platform, "flows", None)
    if library is None:
        raise ApiError(503, "unavailable", "no calls on this node (an API-only node)")
    try:
        names = await asyncio.to_thread(library.reload)
    except FlowError as exc:
        raise ApiError(422, "invalid_flow", "flows not reloaded; the running ones stay",
                       {"problems": [str(p) for p in exc.problems]}) from None
    return ReloadOut(flows=names)
