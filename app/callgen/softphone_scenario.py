"""SIPp scenarios for `hotline softphone`: a registering agent phone that takes calls.

One SIPp process plays the phone. Its main scenario registers (answering the digest challenge),
waits until enough calls were taken or the time is up, then unregisters. Incoming INVITEs carry
new Call-IDs, which SIPp hands to the out-of-call scenario: each one rings, answers (or rejects
with 486), streams speech or silence and ends with a BYE from either side. A SIPp global
variable counts finished calls so the main scenario knows when to stop. Both log
`event key=value ...` lines that softphone.py reads back.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import quoteattr

REGISTER_RETRANS_MS = 2000
POLL_MS = 200  # how often the registered phone checks whether it is done
SIP = "[call_id]"  # each incoming call's own SIP Call-ID, to tell calls apart in the log
REGISTER_FAILURES = (400, 401, 403, 404, 407, 480, 488, 500, 503)


@dataclass(frozen=True)
class PhonePlan:
    agent: str  # 工号, the digest auth username
    password: str
    calls: int = 1
    timeout_s: float = 60.0
    answer_after_ms: int = 0
    reject: bool = False
    hold_ms: int | None = None  # None: wait for the other side to hang up
    talk: Path | None = None  # 8 kHz mu-law WAV
    talk_ms: int = 0
    silence: Path | None = None  # looped while not talking

    @property
    def sip_user(self) -> str:
        return f"agent-{self.agent}"

    @property
    def expires_s(self) -> int:
        """Long enough that no refresh is needed before the phone gives up."""
        return min(3600, max(60, int(self.timeout_s) + 30))

    @property
    def max_polls(self) -> int:
        return max(1, int(self.timeout_s * 1000 / POLL_MS))


def _log(event: str, **fields: str) -> str:
    parts = " ".join(f"{k}={v}" for k, v in fields.items())
    return f"<log message={quoteattr(f'{event} {parts} tick=[clock_tick]'.replace('  ', ' '))}/>"


def _register(plan: PhonePlan, cseq: int, expires: int, auth: bool) -> str:
    user = plan.sip_user
    credentials = (
        f"[authentication username={plan.agent} password={plan.password}]\n"
        if auth else ""
    )
    # A REGISTER is resent after 2 s, not SIP's 0.5 s: a PBX busy for a moment would otherwise
    # answer both copies, and the second 401 (for the first REGISTER) would arrive after the
    # authenticated one was sent and be taken for a refusal.
    return f"""  <send retrans="{REGISTER_RETRANS_MS}"><![CDATA[
REGISTER sip:[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: <sip:{user}@[remote_ip]:[remote_port]>;tag=[pid]R[call_number]
To: <sip:{user}@[remote_ip]:[remote_port]>
Call-ID: [call_id]
CSeq: {cseq} REGISTER
Contact: <sip:{user}@[local_ip]:[local_port]>
{credentials}Expires: {expires}
Max-Forwards: 70
User-Agent: hotline-softphone
Content-Length: 0

]]></send>
"""


def _failures(label: str, skip: tuple[int, ...] = ()) -> str:
    return "".join(
        f'  <recv response="{code}" optional="true" next="{label}">'
        f"<action>{_log('register_failed', code=str(code))}</action></recv>\n"
        for code in REGISTER_FAILURES if code not in skip
    )


def build_register_scenario(plan: PhonePlan) -> str:
    """Main scenario: REGISTER with digest auth, wait for the calls, REGISTER Expires: 0."""
    if "]" in plan.password or "\n" in plan.password:
        raise ValueError("the password cannot contain ']' or a line break (SIPp's syntax)")
    return f"""<?xml version="1.0" encoding="ISO-8859-1" ?>
<!DOCTYPE scenario SYSTEM "sipp.dtd">
<scenario name="hotline softphone: register">
  <Global variables="done" />
{_register(plan, 1, plan.expires_s, auth=False)}
  <recv response="200" optional="true" next="registered"/>
  <recv response="407" auth="true" optional="true" next="auth"/>
{_failures("end", skip=(401, 407))}
  <recv response="401" auth="true"/>
  <label id="auth"/>
{_register(plan, 2, plan.expires_s, auth=True)}
{_failures("end")}
  <recv response="200"/>
  <label id="registered"/>
  <nop><action>{_log("registered", expires=str(plan.expires_s))}</action></nop>
  <label id="wait"/>
  <pause milliseconds="{POLL_MS}"/>
  <nop><action>
    <test assign_to="enough" variable="done" compare="greater_than_equal" value="{plan.calls}"/>
    <add assign_to="polls" value="1"/>
    <test assign_to="late" variable="polls" compare="greater_than_equal" value="{plan.max_polls}"/>
  </action></nop>
  <nop test="enough" next="unregister"/>
  <nop test="late" next="timeout"/>
  <nop next="wait"/>
  <label id="timeout"/>
  <nop><action>{_log("timeout", calls="[$done]")}</action></nop>
  <label id="unregister"/>
{_register(plan, 3, 0, auth=False)}
  <recv response="200" optional="true" next="unregistered"/>
  <recv response="407" auth="true" optional="true" next="reauth"/>
  <recv response="401" auth="true"/>
  <label id="reauth"/>
{_register(plan, 4, 0, auth=True)}
  <recv response="200"/>
  <label id="unregistered"/>
  <nop><action>{_log("unregistered")}</action></nop>
  <label id="end"/>
</scenario>
"""


def _reply(status: str, *, to_tag: bool = True, sdp: bool = False, cseq: str | None = None,
           contact: str = "") -> str:
    body = ""
    head = ""
    if sdp:
        head = "Content-Type: application/sdp\n"
        body = """v=0
o=agent 53655765 2353687637 IN IP[local_ip_type] [local_ip]
s=-
c=IN IP[media_ip_type] [media_ip]
t=0 0
m=audio [rtpstream_audio_port] RTP/AVP 0 101
a=rtpmap:0 PCMU/8000
a=rtpmap:101 telephone-event/8000
a=fmtp:101 0-15
a=sendrecv
"""
    tag = ";tag=[pid]T[call_number]" if to_tag else ""
    cseq_line = f"CSeq: {cseq}" if cseq else "[last_CSeq:]"
    contact_line = f"Contact: <sip:{contact}@[local_ip]:[local_port]>\n" if contact else ""
    return f"""<![CDATA[
SIP/2.0 {status}
[last_Via:]
[last_From:]
[last_To:]{tag}
[last_Call-ID:]
{cseq_line}
{contact_line}User-Agent: hotline-softphone
{head}Content-Length: [len]

{body}]]>"""


def build_answer_scenario(plan: PhonePlan) -> str:
    """Out-of-call scenario: one incoming call, rung, answered or rejected, talked, ended.

    An OPTIONS (the PBX checking that the contact is reachable) gets a 200 OK and ends there.
    """
    user = plan.sip_user
    done = '<add assign_to="done" value="1"/>'
    steps: list[str] = []
    if plan.answer_after_ms > 0:
        # Ringing: a CANCEL within the delay ends the call, else we pick up.
        steps.append(
            f'  <recv request="CANCEL" timeout="{plan.answer_after_ms}" ontimeout="pickup"/>\n'
            f"  <send>{_reply('200 OK', to_tag=False)}</send>\n"
            f"  <send>{_reply('487 Request Terminated', cseq='[$cseq] INVITE')}</send>\n"
            f'  <recv request="ACK"><action>{_log("cancelled", sip=SIP)}</action></recv>\n'
            '  <nop next="end"/>\n'
        )
    steps.append('  <label id="pickup"/>\n')
    if plan.reject:
        steps.append(
            f"  <send>{_reply('486 Busy Here')}</send>\n"
            f'  <recv request="ACK"><action>{_log("rejected", sip=SIP, code="486")}{done}'
            "</action></recv>\n"
            '  <nop next="end"/>\n'
        )
    else:
        steps.append(
            f'  <send retrans="500">{_reply("200 OK", sdp=True, contact=user)}</send>\n'
            f'  <recv request="ACK"><action>{_log("answered", sip=SIP)}</action></recv>\n'
        )
        steps.extend(_talk(plan))
        steps.append(_endings(user, done))
    return f"""<?xml version="1.0" encoding="ISO-8859-1" ?>
<!DOCTYPE scenario SYSTEM "sipp.dtd">
<scenario name="hotline softphone: incoming call">
  <Global variables="done" />
  <recv request="OPTIONS" optional="true" next="options"/>
  <recv request="INVITE" rrs="true"><action>
    <ereg regexp="([[:graph:]]+)$" search_in="hdr" header="X-Hotline-Call-Id:"
          check_it="false" assign_to="m1,xcid"/>
    <ereg regexp="sip:([^@;>]*)@" search_in="hdr" header="From:" check_it="false"
          assign_to="m2,from"/>
    <ereg regexp="[0-9]+" search_in="hdr" header="CSeq:" check_it="true" assign_to="cseq"/>
    <ereg regexp=".*" search_in="hdr" header="From:" check_it="true" assign_to="remote"/>
    {_log("invite", sip=SIP, caller="[$from]", xcid="[$xcid]")}
  </action></recv>
  <send>{_reply("100 Trying", to_tag=False)}</send>
  <send>{_reply("180 Ringing", contact=user)}</send>
{"".join(steps)}  <nop next="end"/>
  <label id="options"/>
  <send>{_reply("200 OK")}</send>
  <label id="end"/>
  <Reference variables="m1,m2,cseq,remote" />
</scenario>
"""


def _stream(path: Path, loops: int) -> str:
    return f'<nop><action><exec rtp_stream={quoteattr(f"{path},{loops},0")}/></action></nop>\n'


def _talk(plan: PhonePlan) -> list[str]:
    """Speech first (when given), then silence, like a phone whose user stops talking."""
    steps: list[str] = []
    hold = plan.hold_ms
    if plan.talk is not None:
        steps.append("  " + _stream(plan.talk, 1))
        window = plan.talk_ms if hold is None else min(plan.talk_ms, hold)
        after = "silence" if hold is None or hold > plan.talk_ms else "hangup"
        steps.append(f'  <recv request="BYE" timeout="{max(window, 1)}" ontimeout="{after}" '
                     'next="remote_bye"/>\n')
    steps.append('  <label id="silence"/>\n')
    if plan.silence is not None:
        steps.append("  " + _stream(plan.silence, -1))
    if hold is None:
        steps.append('  <recv request="BYE" next="remote_bye"/>\n')
    else:
        rest = hold - plan.talk_ms if plan.talk is not None else hold
        steps.append(f'  <recv request="BYE" timeout="{max(rest, 1)}" ontimeout="hangup" '
                     'next="remote_bye"/>\n')
    return steps


def _endings(user: str, done: str) -> str:
    # SIPp numbers every incoming call 0, so its [branch] repeats from call to call; the PBX
    # would take the next call's BYE for a retransmission of the first one's and answer it
    # from that finished transaction. The call's own Call-ID makes each branch unique.
    return f"""  <label id="remote_bye"/>
  <nop><action>{_log("remote_bye", sip=SIP)}</action></nop>
  <send>{_reply("200 OK", to_tag=False)}</send>
  <nop next="counted"/>
  <label id="hangup"/>
  <nop><action>{_log("local_bye", sip=SIP)}</action></nop>
  <send retrans="500"><![CDATA[
BYE [next_url] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]-[call_id]
From: <sip:{user}@[local_ip]:[local_port]>;tag=[pid]T[call_number]
To: [$remote]
[routes]
Call-ID: [call_id]
CSeq: 1 BYE
Max-Forwards: 70
User-Agent: hotline-softphone
Content-Length: 0

]]></send>
  <recv response="200"/>
  <label id="counted"/>
  <nop><action>{done}{_log("ended", sip=SIP)}</action></nop>
"""
