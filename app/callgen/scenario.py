"""Generate a SIPp UAC scenario for one caller script."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import quoteattr

from app.callgen.dtmf_pcap import PRESS_MS, Frame, RtpStream, write_pcap
from app.callgen.script import Key, Pause, Speech, Step, wav_data

KEY_GAP_MS = 160  # from the end of one key to the start of the next, unless told otherwise
HOLD_TAIL_MS = 2000  # silence goes on a little past the hold, until the BYE is through
FAILURES = (400, 403, 404, 408, 480, 486, 487, 488, 500, 502, 503, 603)


@dataclass(frozen=True)
class Media:
    """How the caller's phone sends: key timing, and whether it sends silence between sounds
    (a real phone does, all call long; `--no-media` is a caller whose RTP has died)."""

    tone_ms: int = PRESS_MS
    gap_ms: int = KEY_GAP_MS
    silence: bool = True


def _log(message: str) -> str:
    return f'<action><log message={quoteattr(message + " [call_id] [clock_tick]")}/></action>'


class _Plays:
    """The pcap files of one scenario, written into work as the script is laid out."""

    def __init__(self, work: Path) -> None:
        self.work = work
        self.count = 0

    def play(self, kind: str, frames: list[Frame]) -> str:
        self.count += 1
        path = write_pcap(self.work / f"{kind}-{self.count}.pcap", frames)
        return f"<nop><action><exec play_pcap_audio={quoteattr(str(path))}/></action></nop>"


def _quiet(stream: RtpStream, plays: _Plays, ms: int, media: Media) -> list[str]:
    """A pause of ms: silence on the line, or nothing at all without media."""
    body = []
    if media.silence:
        body.append(plays.play("silence", stream.silence(ms)))
    else:
        stream.skip(ms)
    body.append(f'<pause milliseconds="{ms}"/>')
    return body


def build_scenario(
    steps: list[Step], hold_ms: int, caller: str, work: Path, settle_ms: int = 500,
    media: Media | None = None,
) -> str:
    """The scenario XML; key presses, speech and silence are written as pcap files into work.

    Each play replaces the one before it (SIPp plays one file at a time per call), so a key
    carries the silence of its gap, and the hold plays silence until the call ends.
    """
    media = media or Media()
    body: list[str] = []
    stream, plays = RtpStream(), _Plays(work)
    if settle_ms:
        body += _quiet(stream, plays, settle_ms, media)
    for step in steps:
        if isinstance(step, Key):
            gap = media.gap_ms if media.silence else 0
            body.append(plays.play("key", stream.key(step.key, media.tone_ms, gap)))
            if not media.silence:
                stream.skip(media.gap_ms)
            body.append(f'<pause milliseconds="{media.tone_ms + media.gap_ms}"/>')
        elif isinstance(step, Pause):
            body += _quiet(stream, plays, step.ms, media)
        elif isinstance(step, Speech):
            frames = stream.audio(wav_data(step.path))
            if media.silence:
                tail = len(frames) * 20_000
                frames += [(tail + t, f) for t, f in stream.silence(200)]
            else:
                stream.skip(200)
            body.append(plays.play("speech", frames))
            body.append(f'<pause milliseconds="{step.ms + 200}"/>')
    if media.silence and hold_ms > 0:
        body.append(plays.play("silence", stream.silence(hold_ms + HOLD_TAIL_MS)))
    failures = "\n".join(
        f'  <recv response="{code}" optional="true" next="failed">{_log(f"final {code}")}</recv>'
        for code in FAILURES
    )
    return f"""<?xml version="1.0" encoding="ISO-8859-1" ?>
<!DOCTYPE scenario SYSTEM "sipp.dtd">
<scenario name="hotline test call">
  <send retrans="500"><![CDATA[
INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: "Test caller" <sip:{caller}@[local_ip]:[local_port]>;tag=[pid]T[call_number]
To: <sip:[service]@[remote_ip]:[remote_port]>
Call-ID: [call_id]
CSeq: 1 INVITE
Contact: <sip:{caller}@[local_ip]:[local_port]>
Max-Forwards: 70
User-Agent: hotline-call
Content-Type: application/sdp
Content-Length: [len]

v=0
o=caller 53655765 2353687637 IN IP[local_ip_type] [local_ip]
s=-
c=IN IP[media_ip_type] [media_ip]
t=0 0
m=audio [media_port] RTP/AVP 0 101
a=rtpmap:0 PCMU/8000
a=rtpmap:101 telephone-event/8000
a=fmtp:101 0-15
a=sendrecv
]]></send>
  <recv response="100" optional="true"/>
  <recv response="180" optional="true"/>
  <recv response="183" optional="true"/>
{failures}
  <recv response="200" rtd="true">{_log("final 200")}</recv>
  <send><![CDATA[
ACK sip:[service]@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: "Test caller" <sip:{caller}@[local_ip]:[local_port]>;tag=[pid]T[call_number]
To: <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
Call-ID: [call_id]
CSeq: 1 ACK
Contact: <sip:{caller}@[local_ip]:[local_port]>
Max-Forwards: 70
Content-Length: 0

]]></send>
  {"".join(body)}
  <recv request="BYE" timeout="{max(hold_ms, 1)}" ontimeout="hangup">{_log("remote_bye")}</recv>
  <send><![CDATA[
SIP/2.0 200 OK
[last_Via:]
[last_From:]
[last_To:]
[last_Call-ID:]
[last_CSeq:]
Content-Length: 0

]]></send>
  <nop next="end"/>
  <label id="hangup"/>
  <send retrans="500"><![CDATA[
BYE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: "Test caller" <sip:{caller}@[local_ip]:[local_port]>;tag=[pid]T[call_number]
To: <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
Call-ID: [call_id]
CSeq: 2 BYE
Contact: <sip:{caller}@[local_ip]:[local_port]>
Max-Forwards: 70
Content-Length: 0

]]></send>
  <recv response="200">{_log("local_bye")}</recv>
  <nop next="end"/>
  <label id="failed"/>
  <send><![CDATA[
ACK sip:[service]@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: "Test caller" <sip:{caller}@[local_ip]:[local_port]>;tag=[pid]T[call_number]
To: <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
Call-ID: [call_id]
CSeq: 1 ACK
Max-Forwards: 70
Content-Length: 0

]]></send>
  <label id="end"/>
</scenario>
"""
