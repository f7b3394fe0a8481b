"""Generate a SIPp UAC scenario for one caller script."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import quoteattr

from app.callgen.dtmf_pcap import PACKET_MS, PRESS_MS, Frame, RtpStream, write_pcap
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


class _Line:
    """What the caller's phone sends, laid out on one time line (microseconds from answer)."""

    def __init__(self, media: Media) -> None:
        self.media = media
        self.stream = RtpStream()
        self.frames: list[Frame] = []
        self.now = 0

    def _add(self, frames: list[Frame], at: int) -> None:
        self.frames += [(at + offset, frame) for offset, frame in frames]

    def quiet(self, ms: int, after_sound: bool = False) -> None:
        """ms without a sound: silence, as a phone sends it, or nothing without media. Right
        after a key or speech the first packet is one packet time later."""
        lead = PACKET_MS if after_sound else 0
        if self.media.silence:
            self._add(self.stream.silence(max(0, ms - lead)), self.now + lead * 1000)
        else:
            self.stream.skip(ms)
        self.now += ms * 1000

    def key(self, key: str) -> None:
        self._add(self.stream.key(key, self.media.tone_ms), self.now)
        self.now += self.media.tone_ms * 1000
        self.quiet(self.media.gap_ms, after_sound=True)

    def speech(self, ulaw: bytes) -> None:
        frames = self.stream.audio(ulaw)
        self._add(frames, self.now)
        self.now += len(frames) * PACKET_MS * 1000
        self.quiet(200, after_sound=True)


def build_scenario(
    steps: list[Step], hold_ms: int, caller: str, work: Path, settle_ms: int = 500,
    media: Media | None = None,
) -> str:
    """The scenario XML; everything the caller sends goes into one pcap file in work.

    One file, played once from the answer on: SIPp 3.6.1 plays one file at a time per call
    and a new play cancels the one before, so a key whose sending thread ran late on a busy
    machine lost its end packets to the next key's play. In one file a late packet is only
    late. The file goes on with the hold (silence, unless `--no-media`) until the call ends.
    """
    line = _Line(media or Media())
    if settle_ms:
        line.quiet(settle_ms)
    for step in steps:
        if isinstance(step, Key):
            line.key(step.key)
        elif isinstance(step, Pause):
            line.quiet(step.ms)
        elif isinstance(step, Speech):
            line.speech(wav_data(step.path))
    script_ms = line.now // 1000
    if hold_ms > 0:
        line.quiet(hold_ms + HOLD_TAIL_MS)
    body: list[str] = []
    if line.frames:
        path = quoteattr(str(write_pcap(work / "caller.pcap", line.frames)))
        body.append(f"<nop><action><exec play_pcap_audio={path}/></action></nop>")
    if script_ms:
        body.append(f'<pause milliseconds="{script_ms}"/>')
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
]]>{_log("invite")}</send>
  <recv response="100" optional="true"/>
  <recv response="180" optional="true"/>
  <recv response="183" optional="true"/>
{failures}
  <recv response="200" rtd="true" rrs="true">{_log("final 200")}</recv>
  <send><![CDATA[
ACK [next_url] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: "Test caller" <sip:{caller}@[local_ip]:[local_port]>;tag=[pid]T[call_number]
To: <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
Call-ID: [call_id]
CSeq: 1 ACK
[routes]
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
BYE [next_url] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: "Test caller" <sip:{caller}@[local_ip]:[local_port]>;tag=[pid]T[call_number]
To: <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
Call-ID: [call_id]
CSeq: 2 BYE
[routes]
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
