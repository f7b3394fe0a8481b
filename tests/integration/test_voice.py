"""Spoken answers made at call time never hold up other calls: real SIP callers (SIPp) into the
real PBX while the natural voice makes a long answer for one of them."""

from __future__ import annotations

import asyncio
import concurrent.futures
import itertools
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import func, select

from app.db.models import Order, Ticket
from app.db.session import Database
from app.ivr import phrases
from app.services.masking import mask_phone
from app.services.throttle import LookupThrottle
from app.services.tickets import lookup_order
from app.tts.synth import Job, media_uri_for_file, prepare
from app.tts.text import first_phrase
from tests.integration.conftest import Platform, wait_for
from tests.integration.test_ivr import query, steps

# Demo orders hold one ticket each; the test's order gets this many, so its answer is long
# (about 10 s of speech a ticket) and the natural voice takes seconds to make its rest.
TICKETS = 8
# Caller B asks the menu to repeat itself (*) every KEY_EVERY_MS; each key must have been
# answered (the menu restarted on the PBX) before the next one comes.
KEY_TONE_MS = 140
KEY_EVERY_MS = 1000
# Enough keys to outlast A's answer being made, even when the machine is busy.
B_KEYS = 60
# Keys of B's, pressed while A's answer was being made, that must have been answered before
# B's next key: if the synthesis blocked the platform, only a key in the instant before it
# or between its end and its file being written could be, at most one in each.
ANSWERED_KEYS = 3
A_CALLER, B_CALLER = "13700137001", "13700137002"


def at(step: dict[str, Any]) -> datetime:
    """When the platform noted the step (its clock)."""
    return datetime.fromisoformat(step["at"])


def pbx_at(step: dict[str, Any]) -> datetime:
    """When the PBX raised the event behind the step: a key's end, a playback's start. The
    PBX runs on this machine, so its clock is the platform's."""
    return datetime.fromisoformat(step["detail"]["ari_ts"]).astimezone(UTC)


def of_kind(record: dict[str, Any], kind: str, **detail: Any) -> list[dict[str, Any]]:
    return [s for s in record["steps"] if s["kind"] == kind
            and all(s["detail"].get(k) == v for k, v in detail.items())]


@pytest.fixture(scope="module")
def long_order(platform: Platform) -> tuple[str, str]:
    """(order number, last 4 of its phone): the second demo order (test_ivr's tests look up
    the first and the last), given copies of the tickets of the orders after it."""

    async def grow(session: Any) -> tuple[str, str]:
        orders = list(await session.scalars(
            select(Order).order_by(Order.id).offset(1).limit(TICKETS)))
        order = orders[0]
        held = await session.scalar(
            select(func.count()).select_from(Ticket).where(Ticket.order_id == order.id))
        for other in orders[1:1 + TICKETS - held]:
            t = (await session.scalars(select(Ticket).where(Ticket.order_id == other.id))
                 ).first()
            session.add(Ticket(order_id=order.id, run_id=t.run_id,
                               from_station_id=t.from_station_id,
                               to_station_id=t.to_station_id, coach=t.coach, seat=t.seat,
                               seat_class=t.seat_class, price_cents=t.price_cents,
                               status=t.status))
        await session.commit()
        return order.order_no, order.phone[-4:]

    return query(platform, grow)  # type: ignore[no-any-return]


def answer_jobs(platform: Platform, number: str, code: str) -> tuple[str, list[Job]]:
    """The answer the order's caller hears, and its parts as the call-time cache holds them."""

    async def look_up() -> Any:
        db = Database(platform.db_url)
        try:
            return await lookup_order(db, number, code, LookupThrottle())
        finally:
            await db.dispose()

    view = asyncio.run(look_up())
    assert view is not None and len(view.tickets) == TICKETS, view
    text = phrases.order_answer(view, "zh")
    return text, [prepare(part, "zh") for part in first_phrase(text)]


def repeating(platform: Platform, caller: str) -> bool:
    """Whether the caller's live call has asked the menu to repeat itself."""
    calls = platform.get("/api/v1/calls/recent", active=True).json()
    return any(c["caller"] == mask_phone(caller)
               and any(s["kind"] == "repeat" for s in c["steps"]) for c in calls)


def calls_while_made(platform: Platform, number: str, code: str,
                     rest: Job) -> tuple[dict[str, Any], dict[str, Any], datetime]:
    """B pressing * in the menu, A asking for the order meanwhile: their records, and when
    the rest of A's answer was written into the cache."""
    every = ["--key-tone", str(KEY_TONE_MS), "--key-gap", str(KEY_EVERY_MS - KEY_TONE_MS)]
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        b_call = pool.submit(platform.call, "--from", B_CALLER, "--dtmf", "*" * B_KEYS,
                             *every, "--hold", "1", timeout=300)
        # B's keys come already when A calls: all of A's answer is made while they come.
        wait_for(lambda: repeating(platform, B_CALLER) or b_call.done(), 120,
                 "caller B repeating the menu")
        a_call = pool.submit(platform.call, "--from", A_CALLER,
                             "--dtmf", f"1{number[1:]}#{code}#", "--hold", "400", timeout=600)
        b, a = b_call.result(), a_call.result()
    assert a["ok"] and a["hung_up_by"] == "hotline", a
    assert b["ok"], b
    assert rest.done(), "the rest of A's answer is in the cache"
    made = datetime.fromtimestamp(rest.wav.stat().st_mtime, UTC)
    return platform.record(a["sip_call_id"]), platform.record(b["sip_call_id"]), made


def test_keys_are_answered_while_a_long_answer_is_made(platform: Platform,
                                                        long_order: tuple[str, str]) -> None:
    """Caller A asks for an order of TICKETS tickets, an answer never said before: its first
    phrase plays at once, and the natural voice makes the rest (several seconds) while it
    plays and after. All along, caller B presses * (repeat) in the main menu once a second,
    and the platform stops the menu and starts it again each time.

    Synthesis off the event loop: B's keys are handled at once while A's answer is being
    made, each one's menu starting on the PBX before B's next key comes.

    Why the test fails if the synthesis blocked the loop: the platform would handle
    nothing while it ran. B's keys would wait, unhandled, and the menu would start again
    only after the synthesis, when B's later keys had come too. The PBX stamps each key
    and each start of the menu on its own clock as they happen, so the record shows no
    key of that time answered before the next one (ANSWERED_KEYS: not even a few).
    """
    number, code = long_order
    text, jobs = answer_jobs(platform, number, code)
    assert len(jobs) == 2, "the answer is a first phrase and the rest"
    rest = jobs[1]
    media = [media_uri_for_file(job.wav) for job in jobs]
    # The rest must be made during the call: a text said before is in the cache (shared by
    # every instance on this machine), so its files go first, and after the test as well.
    for path in (rest.wav, rest.sln16):
        path.unlink(missing_ok=True)
    try:
        rec_a, rec_b, made = calls_while_made(platform, number, code, rest)
    finally:
        for path in (rest.wav, rest.sln16):
            path.unlink(missing_ok=True)

    # A heard its whole answer: the first phrase, then the rest, each played to its end.
    lookup = steps(rec_a, "lookup")[0]
    assert lookup["found"] is True and lookup["summary"] == f"{TICKETS} tickets", lookup
    assert steps(rec_a, "speak")[0]["chars"] == len(text)
    answer = [s["detail"]["media"] for s in of_kind(rec_a, "play")
              if "/dyn/" in s["detail"]["media"]]
    assert answer == media, answer
    for name in media:
        assert len(of_kind(rec_a, "play_started", media=name)) == 1, name
        assert len(of_kind(rec_a, "played", media=name)) == 1, name
        assert not of_kind(rec_a, "interrupted", media=name), name
    assert rec_a["outcome"] == "self_service"
    answer_starts = at(of_kind(rec_a, "play", media=media[0])[0])
    first_played = at(of_kind(rec_a, "played", media=media[0])[0])
    rest_starts = at(of_kind(rec_a, "play", media=media[1])[0])
    assert answer_starts < made < rest_starts, "the rest was made while A's answer played"

    def since(moment: datetime) -> str:
        return f"{(moment - answer_starts).total_seconds():+.2f} s"

    # B's keys as the PBX got them, and the menu's starts on the PBX.
    keys = [pbx_at(s) for s in of_kind(rec_b, "dtmf")]
    starts = [pbx_at(s) for s in of_kind(rec_b, "play_started")]
    assert len(keys) >= B_KEYS - 2, f"B's keys went missing: {len(keys)} of {B_KEYS}"
    assert len(steps(rec_b, "repeat")) >= len(keys) - 1
    assert rec_b["outcome"] == "hung_up_in_menu"
    window = (f"A's answer started at +0, its first phrase ended at {since(first_played)}, "
              f"the rest was made at {since(made)} and started at {since(rest_starts)}; "
              f"B's keys from {since(keys[0])} to {since(keys[-1])}")

    def restarted(key: datetime) -> str:
        first = min((r for r in starts if r > key), default=None)
        return "never" if first is None else since(first)

    # B's keys that came while the rest was being made, and those of them answered in time.
    during = [(key, after) for key, after in itertools.pairwise(keys)
              if answer_starts < key < made]
    in_time = [key for key, after in during if any(key < r < after for r in starts)]
    assert len(in_time) >= ANSWERED_KEYS, (
        f"{len(in_time)} of the {len(during)} keys B pressed while A's answer was being made "
        f"were answered before B's next key ({window}): "
        + ", ".join(f"key at {since(k)}, menu at {restarted(k)}" for k, _ in during))
