"""The agent's call controls: `/api/v1/calls/{id}/hold|unhold|mute|transfer|consult|complete|
cancel|hangup`, for the agent on the call or a supervisor. The caller's call task does the work
(app/acd/controls.py); the answer is the conversation's state after it."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field, model_validator

from app.acd import records
from app.acd.controls import ControlError, ControlRequest
from app.api.deps import require, roles_doc
from app.api.errors import ApiError, documented
from app.db.models import Role
from app.services.auth import Principal

router = APIRouter(prefix="/api/v1/calls", tags=["call controls"],
                   responses=documented(401, 403, 404, 409, 503))
CONTROL = (Role.AGENT, Role.SUPERVISOR)
Controller = Annotated[Principal, Depends(require(*CONTROL))]
CONNECTING_WAIT = 5.0  # seconds: from the agent's answer to the talk bridge
REPLY_TIMEOUT = 20.0  # seconds: a control is a few PBX requests; the call task may be mid-step
AgentNo = Annotated[str, Field(pattern=r"^\d{4,6}$", description="the agent's 工号")]
DOC = roles_doc(*CONTROL) + " Agents: only the call they are on."


class ConsultOut(BaseModel):
    agent: str
    answered: bool


class ControlOut(BaseModel):
    call_id: str
    state: Literal["talking", "held", "consulting", "transferred", "ended"]
    agent: str | None = Field(description="the agent on the call now")
    held: bool
    muted: bool
    hold_count: int = Field(description="holds of the current agent's leg")
    consult: ConsultOut | None = None
    transfer: dict[str, str] | None = Field(
        None, description="where the caller is being transferred: {queue} or {agent}")


class MuteIn(BaseModel):
    muted: bool = Field(description="true: the caller no longer hears the agent")


class TransferIn(BaseModel):
    queue: str | None = Field(None, min_length=1, max_length=40,
                              description="a queue of the routing file")
    agent: AgentNo | None = None

    @model_validator(mode="after")
    def one_target(self) -> TransferIn:
        if (self.queue is None) == (self.agent is None):
            raise ValueError("give either queue or agent")
        return self


class ConsultIn(BaseModel):
    agent: AgentNo


async def _control(request: Request, user: Principal, call_id: str, action: str,
                   params: dict[str, Any] | None = None) -> ControlOut:
    platform = request.app.state.platform
    acd = platform.acd if platform is not None else None
    if acd is None:
        raise ApiError(503, "no_telephony", "call controls run in `hotline serve`")
    db = request.app.state.db
    conversation = acd.conversations.get(call_id)
    if conversation is None and call_id in platform.ari.dispatcher.calls \
            and await records.being_answered(db, call_id):
        # The agent has answered (its state says on_call) and the talk is being set up.
        deadline = asyncio.get_running_loop().time() + CONNECTING_WAIT
        while conversation is None and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.1)
            conversation = acd.conversations.get(call_id)
    is_agent = user.role == Role.AGENT
    if conversation is None or (is_agent and (
            conversation.current is None or conversation.current.agent != user.name)):
        if not await records.call_known(db, call_id) \
                and call_id not in platform.ari.dispatcher.calls:
            raise ApiError(404, "call_not_found", f"no call {call_id}")
        if is_agent and not await records.was_on_call(db, user.name, call_id):
            raise ApiError(403, "forbidden", "only the agent on the call (or a supervisor) may")
        if conversation is None:
            raise ApiError(409, "not_connected",
                           f"call {call_id} is not connected to an agent now")
        raise ApiError(409, "not_on_call", f"agent {user.name} is no longer on call {call_id}")
    reply: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
    conversation.call.deliver(ControlRequest(
        type="ControlRequest", channel_id=call_id, action=action, params=params or {},
        by=user.name, by_agent=is_agent, reply=reply))
    try:
        state = await asyncio.wait_for(asyncio.shield(reply), REPLY_TIMEOUT)
    except ControlError as exc:
        raise ApiError(exc.status, exc.code, exc.message) from None
    except TimeoutError:
        raise ApiError(503, "busy", f"call {call_id} did not take the control within "
                       f"{REPLY_TIMEOUT:.0f} s; its state is unknown: look again") from None
    return ControlOut.model_validate(state)


@router.post("/{call_id}/hold", response_model=ControlOut, description=DOC,
             summary="Put the caller on hold (music for the caller, silence for the agent)")
async def hold(call_id: str, request: Request, user: Controller) -> ControlOut:
    return await _control(request, user, call_id, "hold")


@router.post("/{call_id}/unhold", response_model=ControlOut, description=DOC,
             summary="Take the caller off hold, back to the agent")
async def unhold(call_id: str, request: Request, user: Controller) -> ControlOut:
    return await _control(request, user, call_id, "unhold")


@router.post("/{call_id}/mute", response_model=ControlOut, description=DOC,
             summary="Mute or unmute the agent's side (the caller stops hearing the agent)")
async def mute(call_id: str, body: MuteIn, request: Request, user: Controller) -> ControlOut:
    return await _control(request, user, call_id, "mute", {"muted": body.muted})


@router.post("/{call_id}/transfer", response_model=ControlOut, description=DOC
             + " Blind: the agent leaves at once (wrap-up). To a queue: the caller waits there "
             "for the next agent, on the same call record and recording. To an agent: that "
             "agent must be ready; their phone rings while the caller hears music; if nobody "
             "answers, the caller goes back to the queue it came from.",
             responses=documented(422),
             summary="Blind transfer to a queue or an agent")
async def transfer(call_id: str, body: TransferIn, request: Request,
                   user: Controller) -> ControlOut:
    target = {"queue": body.queue} if body.queue else {"agent": body.agent}
    return await _control(request, user, call_id, "transfer", target)


@router.post("/{call_id}/consult", response_model=ControlOut, description=DOC
             + " The caller holds (music); the second agent (ready) is rung and, on answer, "
             "talks to the first. Then `complete` or `cancel`.",
             responses=documented(422),
             summary="Consult a second agent while the caller holds")
async def consult(call_id: str, body: ConsultIn, request: Request,
                  user: Controller) -> ControlOut:
    return await _control(request, user, call_id, "consult", {"agent": body.agent})


@router.post("/{call_id}/complete", response_model=ControlOut, description=DOC
             + " Needs the consulted agent to have answered. The first agent hanging up while "
             "consulting an agent who answered does the same.",
             summary="Complete a consult transfer: the caller joins the second agent, the first "
                     "leaves")
async def complete(call_id: str, request: Request, user: Controller) -> ControlOut:
    return await _control(request, user, call_id, "complete")


@router.post("/{call_id}/cancel", response_model=ControlOut, description=DOC,
             summary="Cancel a consultation: the second agent is dropped, the caller is back")
async def cancel(call_id: str, request: Request, user: Controller) -> ControlOut:
    return await _control(request, user, call_id, "cancel")


@router.post("/{call_id}/hangup", response_model=ControlOut, description=DOC,
             summary="End the call")
async def hangup(call_id: str, request: Request, user: Controller) -> ControlOut:
    return await _control(request, user, call_id, "hangup")
