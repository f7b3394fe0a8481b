"""Typed ARI resources and events (only the fields the hotline uses; the rest is kept as extra)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class AriModel(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)


class CallerId(AriModel):
    name: str = ""
    number: str = ""


class DialplanCEP(AriModel):
    context: str = ""
    exten: str = ""
    priority: int = 0
    app_name: str = ""  # "Stasis" while the channel is in an ARI app
    app_data: str = ""  # "<app>[,args...]"


class Channel(AriModel):
    id: str
    name: str = ""
    state: str = ""
    caller: CallerId = Field(default_factory=CallerId)
    connected: CallerId = Field(default_factory=CallerId)
    dialplan: DialplanCEP | None = None
    creationtime: datetime | None = None
    language: str = ""
    # The variables ari.conf's channelvars names (None: none configured); a variable that is
    # not set is "".
    channelvars: dict[str, str] | None = None


class Bridge(AriModel):
    id: str
    technology: str = ""
    bridge_type: str = ""
    bridge_class: str = ""  # "stasis" for bridges made by an ARI app
    creationtime: datetime | None = None
    name: str = ""
    channels: list[str] = Field(default_factory=list)


class Playback(AriModel):
    id: str
    media_uri: str = ""
    target_uri: str = ""
    state: str = ""
    language: str | None = None


class LiveRecording(AriModel):
    name: str
    format: str = ""
    state: str = ""
    target_uri: str = ""
    duration: int | None = None
    cause: str | None = None


class AsteriskInfo(AriModel):
    build: dict[str, Any] = Field(default_factory=dict)
    system: dict[str, Any] = Field(default_factory=dict)
    status: dict[str, Any] = Field(default_factory=dict)


# --- events -------------------------------------------------------------------------------


class Event(AriModel):
    type: str
    application: str = ""
    timestamp: datetime | None = None

    def channel_ids(self) -> list[str]:
        """Channels this event concerns, first the one whose call should own it."""
        return []


class ChannelEvent(Event):
    channel: Channel

    def channel_ids(self) -> list[str]:
        return [self.channel.id]


class StasisStart(ChannelEvent):
    args: list[str] = Field(default_factory=list)
    replace_channel: Channel | None = None


class StasisEnd(ChannelEvent):
    pass


class ChannelDtmfReceived(ChannelEvent):
    digit: str
    duration_ms: int = 0


class ChannelHangupRequest(ChannelEvent):
    cause: int | None = None
    soft: bool | None = None


class ChannelDestroyed(ChannelEvent):
    cause: int = 0
    cause_txt: str = ""


class ChannelStateChange(ChannelEvent):
    pass


class ChannelTalkingStarted(ChannelEvent):
    """The PBX's talk detector (TALK_DETECT on the channel) heard the phone's side start."""


class ChannelTalkingFinished(ChannelEvent):
    """... and stop, after the detector's silence threshold; duration: ms of talking."""

    duration: int = 0


class ChannelVarset(Event):
    variable: str
    value: str = ""
    channel: Channel | None = None

    def channel_ids(self) -> list[str]:
        return [self.channel.id] if self.channel else []


class BridgeChannelEvent(ChannelEvent):
    bridge: Bridge


class ChannelEnteredBridge(BridgeChannelEvent):
    pass


class ChannelLeftBridge(BridgeChannelEvent):
    pass


def _target_channel(target_uri: str) -> list[str]:
    # Bridge playbacks route by bridge id: the call that owns the bridge claims that id.
    kind, _, ident = target_uri.partition(":")
    return [ident] if kind in ("channel", "bridge") and ident else []


class PlaybackEvent(Event):
    playback: Playback

    def channel_ids(self) -> list[str]:
        return _target_channel(self.playback.target_uri)


class PlaybackStarted(PlaybackEvent):
    pass


class PlaybackContinuing(PlaybackEvent):
    pass


class PlaybackFinished(PlaybackEvent):
    pass


class RecordingEvent(Event):
    recording: LiveRecording

    def channel_ids(self) -> list[str]:
        return _target_channel(self.recording.target_uri)


class RecordingStarted(RecordingEvent):
    pass


class RecordingFinished(RecordingEvent):
    pass


class RecordingFailed(RecordingEvent):
    pass


class ChannelGone(Event):
    """Synthetic: after a reconnect the channel was found gone (its hang-up events were missed)."""

    channel_id: str
    by: str = "pbx_restart"  # a value of EndedBy: the channel went while the link was down

    def channel_ids(self) -> list[str]:
        return [self.channel_id]


class Notice(Event):
    """Synthetic, from the platform to one call (an agent offered to a waiting caller, ...):
    kept in the call's notices until its task takes it, whatever it was doing meanwhile."""

    channel_id: str

    def channel_ids(self) -> list[str]:
        return [self.channel_id]


class SpeechStarted(Event):
    """Synthetic: the caller started speaking while we listen (barge-in stops the prompt)."""

    channel_id: str

    def channel_ids(self) -> list[str]:
        return [self.channel_id]


class SpeechRecognized(Event):
    """Synthetic: what the caller said, once they stopped (result: app.asr.live.Heard)."""

    channel_id: str
    result: Any = None

    def channel_ids(self) -> list[str]:
        return [self.channel_id]


EVENT_TYPES: dict[str, type[Event]] = {
    cls.__name__: cls
    for cls in (
        StasisStart, StasisEnd, ChannelDtmfReceived, ChannelHangupRequest, ChannelDestroyed,
        ChannelStateChange, ChannelVarset, ChannelEnteredBridge, ChannelLeftBridge,
        ChannelTalkingStarted, ChannelTalkingFinished,
        PlaybackStarted, PlaybackContinuing, PlaybackFinished,
        RecordingStarted, RecordingFinished, RecordingFailed,
    )
}


def parse_event(data: Any) -> Event:
    """Parse one decoded WebSocket message; raises pydantic.ValidationError or ValueError."""
    if not isinstance(data, dict) or not isinstance(data.get("type"), str):
        raise ValueError("event is not an object with a string 'type'")
    cls = EVENT_TYPES.get(data["type"], Event)
    return cls.model_validate(data)
