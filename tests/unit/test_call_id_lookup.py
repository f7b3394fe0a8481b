"""`hotline call` names the platform's call id even for a call that ended while the
platform restarted (only the stored history knows it then)."""

from __future__ import annotations

import httpx

from app.callgen.runner import lookup_call_ids


def api(recent: dict[str, str], stored: dict[str, str]) -> httpx.MockTransport:
    def handle(request: httpx.Request) -> httpx.Response:
        sip = request.url.params["sip_call_id"]
        if request.url.path == "/api/v1/calls/recent":
            return httpx.Response(200, json=[{"call_id": recent[sip]}] if sip in recent else [])
        items = [{"id": stored[sip]}] if sip in stored else []
        return httpx.Response(200, json={"items": items})
    return httpx.MockTransport(handle)


def test_a_live_call_is_found_among_the_recent_calls() -> None:
    found = lookup_call_ids("http://p", ["a"], None, transport=api({"a": "c1"}, {}))
    assert found == {"a": "c1"}


def test_a_call_only_in_the_stored_history_is_found_there() -> None:
    found = lookup_call_ids("http://p", ["a", "b"], None,
                            transport=api({"a": "c1"}, {"b": "c2"}))
    assert found == {"a": "c1", "b": "c2"}


def test_an_unknown_call_gives_up_after_the_wait() -> None:
    assert lookup_call_ids("http://p", ["x"], None, wait=0.6, transport=api({}, {})) == {}


def test_no_platform_listening_answers_at_once() -> None:
    tries = []

    def refuse(request: httpx.Request) -> httpx.Response:
        tries.append(request)
        raise httpx.ConnectError("refused", request=request)
    found = lookup_call_ids("http://p", ["x"], None, wait=2,
                            transport=httpx.MockTransport(refuse))
    assert found == {} and len(tries) == 1
