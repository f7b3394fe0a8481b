"""The echo test line (Stasis argument `echo`): greet, then say back each key pressed."""

from __future__ import annotations

import logging

from app.ari_handlers.call import Call
from app.ari_handlers.dispatch import CallHandler
from app.ari_handlers.rest import AriError

log = logging.getLogger(__name__)

GREETING = "sound:hello-world"
KEY_SOUNDS = {"*": "sound:digits/star", "#": "sound:digits/pound"}


def key_media(key: str) -> str:
    if key.isdigit():
        return f"sound:digits/{key}"
    if key in KEY_SOUNDS:
        return KEY_SOUNDS[key]
    return f"sound:letters/{key.lower()}"


async def note_sip_call_id(call: Call) -> None:
    if sip_call_id := (call.channel.channelvars or {}).get("HOTLINE_SIP_CALL_ID"):
        call.trace.sip_call_id = sip_call_id  # set by the dialplan, carried by the event
        return
    try:
        call.trace.sip_call_id = await call.rest.get_variable(call.id, "CHANNEL(pjsip,call-id)")
    except AriError as exc:
        if exc.status == 404:
            raise
        log.debug("no SIP Call-ID: %s", exc)  # not a SIP channel


async def echo_digits(call: Call) -> None:
    await note_sip_call_id(call)
    await call.answer()
    await call.play(GREETING, interrupt_on_dtmf=True)
    while True:
        key = await call.wait_digit()
        if key is not None:
            await call.play(key_media(key))


def route_by_argument(handlers: dict[str, CallHandler], default: CallHandler) -> CallHandler:
    """Pick the handler by the first Stasis() argument of the dialplan."""

    async def route(call: Call) -> None:
        handler = handlers.get(call.args[0], default) if call.args else default
        await handler(call)

    return route
