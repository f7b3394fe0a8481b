"""Self-service actions a flow's `lookup` step runs: the same domain services the API uses,
turned into answers a caller hears."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from app.core.clock import CST, at_minutes, today
from app.core.trains import train_number_from_keys
from app.ivr import phrases
from app.ivr.context import CallContext
from app.services.lost_found import search_found_items
from app.services.throttle import OrderLocked
from app.services.tickets import OrderView, lookup_order
from app.services.trains import train_status

DATE_KEYS = {"1": 0, "2": 1}  # today, tomorrow


@dataclass(frozen=True)
class ActionResult:
    found: bool
    vars: dict[str, str] = field(default_factory=dict)
    summary: str | None = None  # for the call record; never personal data
    # Look-ups that verify the caller: "ok", "failed", or "locked" (too many failures).
    verification: str | None = None


Action = Callable[[CallContext], Awaitable[ActionResult]]


def chosen_date(ctx: CallContext) -> date:
    return today() + timedelta(days=DATE_KEYS.get(ctx.vars.get("date_choice", "1"), 0))


async def _order(ctx: CallContext) -> OrderView | ActionResult:
    """The verified order, or the result to report: no match, or locked."""
    try:
        view = await lookup_order(
            ctx.db, ctx.vars.get("order_no", ""), ctx.vars.get("id_last4", ""),
            ctx.throttle, caller=ctx.caller or None,
        )
    except OrderLocked as locked:
        return ActionResult(False, summary=f"{locked.scope} locked", verification="locked")
    if view is None:
        return ActionResult(False, summary="no match", verification="failed")
    if not view.tickets:
        return ActionResult(False, summary="no tickets", verification="ok")
    return view


async def order_lookup(ctx: CallContext) -> ActionResult:
    view = await _order(ctx)
    if isinstance(view, ActionResult):
        return view
    answer = phrases.order_answer(view, ctx.lang)
    return ActionResult(True, {"answer": answer}, summary=f"{len(view.tickets)} tickets",
                        verification="ok")


def refund_fee_percent(departure: datetime, now: datetime) -> int:
    """The refund fee by time before departure (the hotline's published policy)."""
    hours = (departure - now).total_seconds() / 3600
    if hours >= 8 * 24:
        return 0
    if hours >= 48:
        return 5
    if hours >= 24:
        return 10
    return 20


async def refund_status(ctx: CallContext) -> ActionResult:
    view = await _order(ctx)
    if isinstance(view, ActionResult):
        return view
    ticket = view.tickets[0]
    hh, mm = (int(p) for p in (ticket.departure or "00:00").split(":"))
    departure = at_minutes(ticket.run_date, hh * 60 + mm)
    fee = refund_fee_percent(departure, datetime.now(CST))
    answer = phrases.refund_answer(ticket, fee, ctx.lang)
    return ActionResult(True, {"answer": answer}, summary=f"fee {fee}%", verification="ok")


async def train_status_lookup(ctx: CallContext) -> ActionResult:
    number = train_number_from_keys(ctx.vars.get("train_keys", ""))
    if number is None:
        return ActionResult(False, summary="bad train number")
    day = chosen_date(ctx)
    async with ctx.db.session() as session:
        view = await train_status(session, number, day)
    if view is None:
        return ActionResult(False, {"train_number": number}, summary=f"{number} not running")
    return ActionResult(
        True,
        {"answer": phrases.train_answer(view, ctx.lang), "train_number": number},
        summary=f"{number} {view.status}",
    )


async def lost_item_search(ctx: CallContext) -> ActionResult:
    number = train_number_from_keys(ctx.vars.get("train_keys", ""))
    if number is None:
        return ActionResult(False, summary="bad train number")
    day = chosen_date(ctx)
    async with ctx.db.session() as session:
        items = await search_found_items(session, number, day)
    found_vars = {"train_number": number, "travel_date": day.isoformat()}
    if not items:
        return ActionResult(False, found_vars, summary=f"{number} none")
    return ActionResult(
        True,
        {**found_vars, "answer": phrases.found_items_answer(items, ctx.lang)},
        summary=f"{number} {len(items)} items",
    )


ACTIONS: dict[str, Action] = {
    "order_lookup": order_lookup,
    "refund_status": refund_status,
    "train_status": train_status_lookup,
    "lost_item_search": lost_item_search,
}
