"""What the dialplan services decided reaches a new call with its first event (ari.conf's
channelvars); a PBX that does not pass the variables on is asked for each."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from app.ari_handlers.models import Channel
from app.ari_handlers.stasis_app import note_sip_call_id
from app.core.calltrace import CallTrace
from app.ivr.app import dialplan_vars

CARRIED = {"HOTLINE_FLOW": "variant", "HOTLINE_LANG": "en", "HOTLINE_PRIORITY": "1",
           "HOTLINE_REPEAT": "0", "HOTLINE_OPEN": "1", "HOTLINE_MODE": "",
           "HOTLINE_SIP_CALL_ID": "abc@host"}


class Rest:
    def __init__(self, values: dict[str, str]) -> None:
        self.values = values
        self.asked: list[str] = []

    async def get_variable(self, channel_id: str, name: str) -> str:
        self.asked.append(name)
        return self.values.get(name, "")


def call(channelvars: dict[str, str] | None, rest: Rest) -> Any:
    channel = Channel(id="c1", channelvars=channelvars)
    return SimpleNamespace(id="c1", channel=channel, rest=rest, trace=CallTrace(call_id="c1"))


async def test_the_variables_come_with_the_event() -> None:
    rest = Rest({})
    one = call(CARRIED, rest)
    flow, flow_vars = await dialplan_vars(one)
    await note_sip_call_id(one)
    assert flow == "variant"
    assert flow_vars == {"caller_lang": "en", "priority": "true", "repeat": "0",
                         "open": "true"}
    assert one.trace.sip_call_id == "abc@host"
    assert rest.asked == []


async def test_without_them_each_is_asked_for() -> None:
    rest = Rest({k: v for k, v in CARRIED.items() if k != "HOTLINE_SIP_CALL_ID"}
                | {"CHANNEL(pjsip,call-id)": "abc@host"})
    one = call(None, rest)
    flow, flow_vars = await dialplan_vars(one)
    await note_sip_call_id(one)
    assert flow == "variant" and flow_vars["priority"] == "true"
    assert one.trace.sip_call_id == "abc@host"
    assert "HOTLINE_FLOW" in rest.asked and "CHANNEL(pjsip,call-id)" in rest.asked
