"""ARI REST calls with typed results; failures raise AriError with ARI's status and message."""

from __future__ import annotations

from typing import Any

import httpx

from app.ari_handlers.models import (
    AsteriskInfo,
    Bridge,
    Channel,
    LiveRecording,
    Playback,
)


class AriError(RuntimeError):
    def __init__(self, status: int, message: str, method: str, path: str) -> None:
        super().__init__(f"ARI {method} {path} failed: {status} {message}")
        self.status = status
        self.message = message
        self.method = method
        self.path = path


class AriConnectionError(AriError):
    """Asterisk did not answer at all."""


Params = dict[str, str | int | float | bool | None]


class AriRest:
    def __init__(self, base_url: str, user: str, password: str, timeout: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self._client = httpx.AsyncClient(
            base_url=self.base_url,
            auth=(user, password),
            timeout=timeout,
            # Kept open, all of them: at dozens of new calls a second, connections opened and
            # closed per request cost both sides more than the requests. Within the PBX's
            # HTTP session limit (http.conf sessionlimit), with room for other clients.
            limits=httpx.Limits(max_connections=100, max_keepalive_connections=100),
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    async def request(
        self, method: str, path: str, params: Params | None = None, json: Any = None
    ) -> Any:
        clean = {
            k: ("true" if v is True else "false" if v is False else v)
            for k, v in (params or {}).items()
            if v is not None
        }
        try:
            resp = await self._client.request(method, path, params=clean, json=json)
        except httpx.HTTPError as exc:
            raise AriConnectionError(0, str(exc) or type(exc).__name__, method, path) from exc
        if resp.status_code >= 400:
            try:
                message = str(resp.json().get("message", resp.text))
            except ValueError:
                message = resp.text.strip() or resp.reason_phrase
            raise AriError(resp.status_code, message, method, path)
        if resp.status_code == 204 or not resp.content:
            return None
        return resp.json()

    # --- asterisk ---
    async def info(self) -> AsteriskInfo:
        return AsteriskInfo.model_validate(await self.request("GET", "/asterisk/info"))

    # --- channels ---
    async def list_channels(self) -> list[Channel]:
        return [Channel.model_validate(c) for c in await self.request("GET", "/channels")]

    async def get_channel(self, channel_id: str) -> Channel:
        return Channel.model_validate(await self.request("GET", f"/channels/{channel_id}"))

    async def answer(self, channel_id: str) -> None:
        await self.request("POST", f"/channels/{channel_id}/answer")

    async def hangup(self, channel_id: str, reason: str = "normal") -> None:
        await self.request("DELETE", f"/channels/{channel_id}", {"reason": reason})

    async def get_variable(self, channel_id: str, variable: str) -> str:
        data = await self.request(
            "GET", f"/channels/{channel_id}/variable", {"variable": variable}
        )
        return str(data.get("value", ""))

    async def set_variable(self, channel_id: str, variable: str, value: str) -> None:
        await self.request(
            "POST", f"/channels/{channel_id}/variable", {"variable": variable, "value": value}
        )

    async def play(
        self, channel_id: str, media: str | list[str], playback_id: str | None = None,
        lang: str | None = None,
    ) -> Playback:
        media_param = media if isinstance(media, str) else ",".join(media)
        path = f"/channels/{channel_id}/play" + (f"/{playback_id}" if playback_id else "")
        data = await self.request("POST", path, {"media": media_param, "lang": lang})
        return Playback.model_validate(data)

    async def stop_playback(self, playback_id: str) -> None:
        await self.request("DELETE", f"/playbacks/{playback_id}")

    async def record(
        self, channel_id: str, name: str, fmt: str = "wav", max_duration: int = 0,
        max_silence: int = 0, beep: bool = False, terminate_on: str = "none",
        if_exists: str = "overwrite",
    ) -> LiveRecording:
        data = await self.request("POST", f"/channels/{channel_id}/record", {
            "name": name, "format": fmt, "maxDurationSeconds": max_duration,
            "maxSilenceSeconds": max_silence, "beep": beep, "terminateOn": terminate_on,
            "ifExists": if_exists,
        })
        return LiveRecording.model_validate(data)

    async def stop_recording(self, name: str) -> None:
        await self.request("POST", f"/recordings/live/{name}/stop")

    async def snoop(self, channel_id: str, app: str, snoop_id: str | None = None,
                    spy: str = "in", whisper: str = "none", app_args: str | None = None,
                    ) -> Channel:
        """A channel carrying the channel's audio (spy: in = what it receives from its phone,
        out, both), and whispering into it (whisper: none, out = heard on its phone, both),
        placed in our Stasis app with `app_args`."""
        data = await self.request("POST", f"/channels/{channel_id}/snoop",
                                  {"spy": spy, "whisper": whisper, "app": app,
                                   "appArgs": app_args, "snoopId": snoop_id})
        return Channel.model_validate(data)

    async def start_moh(self, channel_id: str, moh_class: str = "default") -> None:
        await self.request("POST", f"/channels/{channel_id}/moh", {"mohClass": moh_class})

    async def stop_moh(self, channel_id: str) -> None:
        await self.request("DELETE", f"/channels/{channel_id}/moh")

    async def mute(self, channel_id: str, direction: str = "in") -> None:
        """Mute a channel: `in` drops what its phone sends (the others no longer hear it)."""
        await self.request("POST", f"/channels/{channel_id}/mute", {"direction": direction})

    async def unmute(self, channel_id: str, direction: str = "in") -> None:
        await self.request("DELETE", f"/channels/{channel_id}/mute", {"direction": direction})

    async def originate(
        self, endpoint: str, app: str, app_args: str = "", caller_id: str | None = None,
        timeout: int = 30, channel_id: str | None = None,
        variables: dict[str, str] | None = None,
    ) -> Channel:
        # Variables are set on the new channel before it dials (PJSIP_HEADER(add,...) adds a
        # header to its INVITE).
        data = await self.request("POST", "/channels", {
            "endpoint": endpoint, "app": app, "appArgs": app_args, "callerId": caller_id,
            "timeout": timeout, "channelId": channel_id,
        }, json={"variables": variables} if variables else None)
        return Channel.model_validate(data)

    async def external_media(
        self, app: str, external_host: str, fmt: str = "slin",
        encapsulation: str = "audiosocket", transport: str = "tcp", data: str | None = None,
        channel_id: str | None = None,
    ) -> Channel:
        # The `app` parameter puts the new channel in our Stasis app, so its events reach us.
        resp = await self.request("POST", "/channels/externalMedia", {
            "app": app, "external_host": external_host, "format": fmt,
            "encapsulation": encapsulation, "transport": transport, "data": data,
            "channelId": channel_id,
        })
        return Channel.model_validate(resp)

    # --- bridges ---
    async def create_bridge(self, bridge_type: str = "mixing", name: str = "") -> Bridge:
        data = await self.request("POST", "/bridges", {"type": bridge_type, "name": name or None})
        return Bridge.model_validate(data)

    async def list_bridges(self) -> list[Bridge]:
        return [Bridge.model_validate(b) for b in await self.request("GET", "/bridges")]

    async def add_channel(self, bridge_id: str, channel_id: str) -> None:
        await self.request("POST", f"/bridges/{bridge_id}/addChannel", {"channel": channel_id})

    async def remove_channel(self, bridge_id: str, channel_id: str) -> None:
        await self.request("POST", f"/bridges/{bridge_id}/removeChannel", {"channel": channel_id})

    async def record_bridge(
        self, bridge_id: str, name: str, fmt: str = "wav", max_duration: int = 0,
        if_exists: str = "fail",
    ) -> LiveRecording:
        data = await self.request("POST", f"/bridges/{bridge_id}/record", {
            "name": name, "format": fmt, "maxDurationSeconds": max_duration,
            "ifExists": if_exists,
        })
        return LiveRecording.model_validate(data)

    async def destroy_bridge(self, bridge_id: str) -> None:
        await self.request("DELETE", f"/bridges/{bridge_id}")
