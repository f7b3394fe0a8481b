"""A PBX config with one static agent, for testing the softphone before agents are provisioned.

Agent endpoints will come from the database; until then (and independently of it) the softphone
tests render a temporary copy of dialplans/ with agent-1001 written in by hand. Delete this
helper once the provisioned agents can be used in its place.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

AGENT = "1001"
PASSWORD = "secret"
REALM = "hotline"
CALL_ID = "test-123"
RING_AGENT = "7001"  # rings agent-1001 with the X-Hotline-Call-Id header
RING_BRIEFLY = "7002"  # the same, but gives up (CANCEL) after 1 s of ringing
RING_CALLER_NUMBER = "13800138000"  # the number the agent's phone is shown (masked)

PJSIP = f"""
; --- static test agent (tests/integration/static_agent.py) ---
[agent-{AGENT}]
type = auth
auth_type = md5
username = {AGENT}
realm = {REALM}
md5_cred = {hashlib.md5(f"{AGENT}:{REALM}:{PASSWORD}".encode()).hexdigest()}

[agent-{AGENT}]
type = aor
max_contacts = 1
remove_existing = yes
; The PBX checks the phone with OPTIONS, as it would a desk phone.
qualify_frequency = 2

[agent-{AGENT}]
type = endpoint
context = softphone-test
auth = agent-{AGENT}
aors = agent-{AGENT}
disallow = all
allow = ulaw,alaw
dtmf_mode = rfc4733
direct_media = no
rtp_symmetric = yes
rewrite_contact = yes
media_address = 127.0.0.1
bind_rtp_to_media_address = yes
"""

EXTENSIONS = f"""
; --- static test agent (tests/integration/static_agent.py) ---
[softphone-test]
exten => _X.,1,Hangup()

[softphone-test-ring]
exten => s,1,Set(PJSIP_HEADER(add,X-Hotline-Call-Id)={CALL_ID})
 same => n,Return()
"""

# Reached from the callers' context: ring the agent and report how the Dial ended.
RING = f"""exten => {RING_AGENT},1,Set(CALLERID(num)={RING_CALLER_NUMBER})
 same => n,Dial(PJSIP/agent-{AGENT},30,b(softphone-test-ring^s^1))
 same => n,Hangup()
exten => {RING_BRIEFLY},1,Set(CALLERID(num)={RING_CALLER_NUMBER})
 same => n,Dial(PJSIP/agent-{AGENT},1,b(softphone-test-ring^s^1))
 same => n,Hangup()
"""


def write_dialplans(source: Path, target: Path) -> Path:
    """Copy source (dialplans/) into target with the static agent and its ring extension."""
    shutil.copytree(source, target)
    pjsip = target / "pjsip.conf"
    text = pjsip.read_text()
    order = "endpoint_identifier_order = "
    start = text.index(order)
    end = text.index("\n", start)
    # The agent is identified by its From user; every other loopback request stays a caller.
    text = text[:start] + order + "username,ip" + text[end:]
    pjsip.write_text(text + PJSIP)
    ext = target / "extensions.conf"
    text = ext.read_text()
    marker = "[from-callers]\n"
    text = text.replace(marker, marker + RING, 1)
    ext.write_text(text + EXTENSIONS)
    modules = target / "modules.conf"
    # Dial's b() pre-dial handler is a Gosub.
    modules.write_text(modules.read_text() + "\nload = app_stack.so\n")
    return target
