"""Generate a SIPp UAC scenario for one caller script."""

from __future__ import annotations

from pathlib import Path
from xml.sax.saxutils import quoteattr

from app.callgen.dtmf_pcap import speech_packets, write_dtmf_pcap, write_speech_pcap
from app.callgen.script import Key, Pause, Speech, Step, wav_data

KEY_GAP_MS = 300  # a press lasts 140 ms (see dtmf_pcap); the rest is the gap to the next key
FAILURES = (400, 403, 404, 408, 480, 486, 487, 488, 500, 502, 503, 603)


def _log(message: str) -> str:
    return f'<action><log message={quoteattr(message + " [call_id] [clock_tick]")}/></action>'


def build_scenario(
    steps: list[Step], hold_ms: int, caller: str, work: Path, settle_ms: int = 500
) -> str:
    """The scenario XML; key presses are written as pcap files into work."""
    body: list[str] = []
    presses = speeches = 0
    # One RTP clock for keys and speech, so the PBX sees a single, continuous stream.
    clock, seq = 8000, 100
    if settle_ms:
        body.append(f'<pause milliseconds="{settle_ms}"/>')
    for step in steps:
        if isinstance(step, Key):
            presses += 1
            path = write_dtmf_pcap(work / f"key-{presses}.pcap", step.key, clock, seq)
            clock, seq = clock + 8000, seq + 20
            pcap = quoteattr(str(path))
            body.append(f"<nop><action><exec play_pcap_audio={pcap}/></action></nop>")
            body.append(f'<pause milliseconds="{KEY_GAP_MS}"/>')
        elif isinstance(step, Pause):
            body.append(f'<pause milliseconds="{step.ms}"/>')
        elif isinstance(step, Speech):
            speeches += 1
            ulaw = wav_data(step.path)
            path = write_speech_pcap(work / f"speech-{speeches}.pcap", ulaw, clock, seq)
            packets = speech_packets(ulaw)
            clock, seq = clock + packets * 160 + 8000, seq + packets + 20
            pcap = quoteattr(str(path))
            body.append(f"<nop><action><exec play_pcap_audio={pcap}/></action></nop>")
            body.append(f'<pause milliseconds="{step.ms + 200}"/>')
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
