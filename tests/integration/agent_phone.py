"""An agent's softphone played by SIPp: REGISTER with digest auth, and feature-code calls."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from app.callgen.ports import free_media_port, free_udp_port
from app.config import Settings

HEAD = """<?xml version="1.0" encoding="ISO-8859-1" ?>
<!DOCTYPE scenario SYSTEM "sipp.dtd">
<scenario name="{name}">
"""


def _final(code: int, label: str) -> str:
    return (f'  <recv response="{code}" optional="true" next="{label}"><action>'
            f'<log message="final {code}"/></action></recv>\n')


def register_scenario(number: str, password: str) -> str:
    user = f"agent-{number}"
    request = f"""REGISTER sip:[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: <sip:{user}@[remote_ip]:[remote_port]>;tag=[pid]R[call_number]
To: <sip:{user}@[remote_ip]:[remote_port]>
Call-ID: [call_id]
CSeq: {{cseq}} REGISTER
Contact: <sip:{user}@[local_ip]:[local_port]>
Max-Forwards: 70
Expires: 60
{{auth}}Content-Length: 0
"""
    first = request.format(cseq=1, auth="")
    second = request.format(
        cseq=2, auth=f"[authentication username={number} password={password}]\n")
    return HEAD.format(name="agent register") + f"""  <send retrans="500"><![CDATA[
{first}
]]></send>
{_final(403, "done")}  <recv response="401" auth="true"/>
  <send retrans="500"><![CDATA[
{second}
]]></send>
{_final(200, "done")}{_final(401, "done")}{_final(403, "done")}  <label id="done"/>
</scenario>
"""


def feature_scenario(number: str, password: str) -> str:
    user = f"agent-{number}"
    invite = f"""INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: <sip:{user}@[remote_ip]:[remote_port]>;tag=[pid]F[call_number]
To: <sip:[service]@[remote_ip]:[remote_port]>
Call-ID: [call_id]
CSeq: {{cseq}} INVITE
Contact: <sip:{user}@[local_ip]:[local_port]>
Max-Forwards: 70
Content-Type: application/sdp
{{auth}}Content-Length: [len]

v=0
o=agent 1 1 IN IP[local_ip_type] [local_ip]
s=-
c=IN IP[media_ip_type] [media_ip]
t=0 0
m=audio [media_port] RTP/AVP 0 101
a=rtpmap:0 PCMU/8000
a=rtpmap:101 telephone-event/8000
a=sendrecv
"""
    auth = f"[authentication username={number} password={password}]\n"
    ack = """ACK sip:[service]@[remote_ip]:[remote_port] SIP/2.0
[last_Via:]
[last_From:]
[last_To:]
Call-ID: [call_id]
CSeq: {cseq} ACK
Max-Forwards: 70
Content-Length: 0
"""
    return HEAD.format(name="agent feature code") + f"""  <send retrans="500"><![CDATA[
{invite.format(cseq=1, auth="")}
]]></send>
  <recv response="100" optional="true"/>
  <recv response="401" auth="true"/>
  <send><![CDATA[
{ack.format(cseq=1)}
]]></send>
  <send retrans="500"><![CDATA[
{invite.format(cseq=2, auth=auth)}
]]></send>
  <recv response="100" optional="true"/>
  <recv response="180" optional="true"/>
  <recv response="183" optional="true"/>
  <recv response="200" rrs="true"/>
  <send><![CDATA[
ACK [next_url] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
[last_From:]
[last_To:]
Call-ID: [call_id]
CSeq: 2 ACK
Max-Forwards: 70
Content-Length: 0
]]></send>
  <recv request="BYE"/>
  <send><![CDATA[
SIP/2.0 200 OK
[last_Via:]
[last_From:]
[last_To:]
[last_Call-ID:]
[last_CSeq:]
Content-Length: 0
]]></send>
  <nop><action><log message="final hung up by the platform"/></action></nop>
</scenario>
"""


def run_sipp(settings: Settings, scenario: str, work: Path, service: str = "s",
             timeout: int = 30) -> str:
    """Run one SIPp call of the scenario; returns what it logged as `final ...`."""
    work.mkdir(parents=True, exist_ok=True)
    xml = work / "scenario.xml"
    xml.write_text(scenario)
    log = work / "sipp.log"
    cmd = ["sipp", f"127.0.0.1:{settings.sip_port}", "-sf", str(xml), "-s", service,
           "-i", "127.0.0.1", "-p", str(free_udp_port()), "-mp", str(free_media_port()),
           "-m", "1", "-trace_logs", "-log_file", str(log), "-trace_err",
           "-error_file", str(work / "errors.log"),
           "-timeout", f"{timeout}s", "-timeout_error", "-nostdin"]
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, timeout=timeout + 15,
                   cwd=work)
    text = log.read_text() if log.exists() else ""
    found = re.findall(r"final ([^\n]+)", text)
    return found[-1].strip() if found else "no final response: " + (
        (work / "errors.log").read_text()[-800:] if (work / "errors.log").exists() else "")


def register(settings: Settings, number: str, password: str, work: Path) -> str:
    """'200' when the PBX accepted the registration, '401'/'403' when it refused it."""
    return run_sipp(settings, register_scenario(number, password), work)


def feature_code(settings: Settings, number: str, password: str, code: str, work: Path) -> str:
    return run_sipp(settings, feature_scenario(number, password), work, service=code)
