"""A local fake ARI server (REST + WebSocket) for unit tests of the ARI client."""

from __future__ import annotations

import asyncio
import json
import socket
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect


def channel(cid: str, number: str = "13800138000") -> dict[str, Any]:
    return {"id": cid, "name": f"PJSIP/caller-{cid}", "state": "Ring",
            "caller": {"name": "", "number": number},
            "dialplan": {"context": "from-callers", "exten": "12306", "priority": 2}}


class FakeAri:
    def __init__(self) -> None:
        self.channels: dict[str, dict[str, Any]] = {}
        self.requests: list[tuple[str, str]] = []
        self.accepting = True
        self.play_delay = 0.01
        self.record_seconds = 0.05
        self.fail_record = False
        self.bridges = 0
        self.refuse_adds = 0  # the next N addChannel requests: 422, not in Stasis yet
        self._ws: WebSocket | None = None
        self._ws_closed = asyncio.Event()
        self.ws_connects = 0
        self.connected = asyncio.Event()
        self.server: uvicorn.Server | None = None
        self.port = 0
        self._tasks: set[asyncio.Task[None]] = set()

    # --- test controls ---
    async def push(self, event: dict[str, Any] | str) -> None:
        assert self._ws is not None, "no client connected"
        await self._ws.send_text(event if isinstance(event, str) else json.dumps(event))

    async def start_call(self, cid: str) -> None:
        self.channels[cid] = channel(cid)
        await self.push({"type": "StasisStart", "application": "hotline", "args": [],
                         "channel": self.channels[cid]})

    async def dtmf(self, cid: str, digit: str) -> None:
        await self.push({"type": "ChannelDtmfReceived", "application": "hotline", "digit": digit,
                         "duration_ms": 100, "channel": self.channels[cid]})

    async def hangup(self, cid: str) -> None:
        chan = self.channels.pop(cid)
        await self.push({"type": "ChannelHangupRequest", "application": "hotline",
                         "channel": chan})
        await self.push({"type": "StasisEnd", "application": "hotline", "channel": chan})

    async def drop_connection(self) -> None:
        self.connected.clear()
        if self._ws is not None:
            await self._ws.close()
        self._ws = None

    # --- server ---
    def app(self) -> Starlette:
        return Starlette(routes=[
            WebSocketRoute("/ari/events", self._events),
            Route("/ari/asterisk/info", self._info),
            Route("/ari/channels", self._list_channels),
            Route("/ari/channels/{cid}", self._channel, methods=["GET", "DELETE"]),
            Route("/ari/channels/{cid}/answer", self._answer, methods=["POST"]),
            Route("/ari/channels/{cid}/variable", self._variable, methods=["GET", "POST"]),
            Route("/ari/channels/externalMedia", self._external_media, methods=["POST"]),
            Route("/ari/channels/{cid}/snoop", self._snoop, methods=["POST"]),
            Route("/ari/channels/{cid}/play/{pid}", self._play, methods=["POST"]),
            Route("/ari/playbacks/{pid}", self._stop_playback, methods=["DELETE"]),
            Route("/ari/channels/{cid}/record", self._record, methods=["POST"]),
            Route("/ari/channels/{cid}/moh", self._ok, methods=["POST", "DELETE"]),
            Route("/ari/bridges", self._bridge_create, methods=["POST"]),
            Route("/ari/bridges", self._list_bridges, methods=["GET"]),
            Route("/ari/bridges/{bid}", self._bridge_destroy, methods=["DELETE"]),
            Route("/ari/bridges/{bid}/addChannel", self._add_channel, methods=["POST"]),
        ])

    async def start(self) -> None:
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(self.app(), log_config=None, lifespan="off", ws="websockets-sansio")
        self.server = uvicorn.Server(config)
        self._serve = asyncio.create_task(self.server.serve(sockets=[sock]))
        while not self.server.started:
            await asyncio.sleep(0.01)

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self.server is not None:
            self.server.should_exit = True
            await self._serve

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/ari"

    async def _events(self, ws: WebSocket) -> None:
        if not self.accepting:
            await ws.close(code=1013)
            return
        await ws.accept()
        self._ws = ws
        self.ws_connects += 1
        self.connected.set()
        try:
            while True:
                await ws.receive_text()
        except WebSocketDisconnect:
            pass

    def _not_found(self, what: str) -> JSONResponse:
        return JSONResponse({"message": f"{what} not found"}, status_code=404)

    async def _info(self, request: Request) -> Response:
        return JSONResponse({"system": {"version": "fake"}})

    async def _list_bridges(self, request: Request) -> Response:
        return JSONResponse([])

    async def _list_channels(self, request: Request) -> Response:
        return JSONResponse(list(self.channels.values()))

    async def _channel(self, request: Request) -> Response:
        cid = request.path_params["cid"]
        self.requests.append((request.method, request.url.path))
        if cid not in self.channels:
            return self._not_found("Channel")
        if request.method == "DELETE":
            chan = self.channels.pop(cid)
            self._later(self.push({"type": "StasisEnd", "application": "hotline",
                                   "channel": chan}))
            return Response(status_code=204)
        return JSONResponse(self.channels[cid])

    async def _answer(self, request: Request) -> Response:
        cid = request.path_params["cid"]
        self.requests.append(("POST", request.url.path))
        if cid not in self.channels:
            return self._not_found("Channel")
        self.channels[cid]["state"] = "Up"
        return Response(status_code=204)

    async def _variable(self, request: Request) -> Response:
        if request.method == "POST":
            self.requests.append(("POST", request.url.path + "?" + str(request.query_params)))
            return Response(status_code=204)
        return JSONResponse({"value": "sip-" + request.path_params["cid"]})

    async def _snoop(self, request: Request) -> Response:
        cid = request.path_params["cid"]
        self.requests.append(("POST", request.url.path))
        if cid not in self.channels:
            return self._not_found("Channel")
        snoop = channel(f"snoop-{cid}") | {"name": f"Snoop/{cid}-00000001"}
        return JSONResponse(snoop)

    async def _external_media(self, request: Request) -> Response:
        self.requests.append(("POST", request.url.path))
        data = request.query_params.get("data", "")
        return JSONResponse(channel(f"media-{data}") | {"name": f"AudioSocket/{data}"})

    async def _play(self, request: Request) -> Response:
        cid, pid = request.path_params["cid"], request.path_params["pid"]
        self.requests.append(("POST", request.url.path + "?" + str(request.query_params)))
        if cid not in self.channels:
            return self._not_found("Channel")
        playback = {"id": pid, "media_uri": request.query_params.get("media", ""),
                    "target_uri": f"channel:{cid}", "state": "queued"}

        async def finish() -> None:
            await asyncio.sleep(self.play_delay)
            if self._ws is not None:
                await self.push({"type": "PlaybackFinished", "application": "hotline",
                                 "playback": {**playback, "state": "done"}})

        self._later(finish())
        return JSONResponse(playback, status_code=201)

    async def _stop_playback(self, request: Request) -> Response:
        self.requests.append(("DELETE", request.url.path))
        return Response(status_code=204)

    async def _record(self, request: Request) -> Response:
        cid = request.path_params["cid"]
        name = request.query_params["name"]
        self.requests.append(("POST", request.url.path + "?" + str(request.query_params)))
        if self.fail_record:
            return JSONResponse({"message": "Internal Server Error"}, status_code=500)
        recording = {"name": name, "format": "wav", "state": "recording",
                     "target_uri": f"channel:{cid}"}

        async def finish() -> None:
            await asyncio.sleep(self.record_seconds)
            if cid in self.channels and self._ws is not None:
                await self.push({"type": "RecordingFinished", "application": "hotline",
                                 "recording": {**recording, "state": "done", "duration": 1}})

        self._later(finish())
        return JSONResponse(recording, status_code=201)

    async def _bridge_create(self, request: Request) -> Response:
        self.requests.append(("POST", "/ari/bridges?" + str(request.query_params)))
        self.bridges += 1
        return JSONResponse({"id": f"bridge-{self.bridges}", "bridge_type": "holding",
                             "channels": []})

    async def _bridge_destroy(self, request: Request) -> Response:
        self.requests.append(("DELETE", request.url.path))
        return Response(status_code=204)

    async def _add_channel(self, request: Request) -> Response:
        self.requests.append((request.method, request.url.path))
        if self.refuse_adds > 0:
            self.refuse_adds -= 1
            return JSONResponse({"message": "Channel not in Stasis application"},
                                status_code=422)
        return Response(status_code=204)

    async def _ok(self, request: Request) -> Response:
        self.requests.append((request.method, request.url.path))
        return Response(status_code=204)

    def _later(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
