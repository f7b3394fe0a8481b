"""Agent identity: 工号, endpoint names, HA1, skills, the rendered SIP accounts, passwords."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from app.acd.identity import (
    IdentityError,
    number_from_channel,
    number_from_endpoint,
    parse_skills,
    sip_ha1,
)
from app.acd.provisioning import FILE_NAME, ProvisioningError, render_agents, write_agents_file
from app.services.auth import hash_password, verify_password
from tests.unit.test_pbx_config import render_all


def test_endpoint_and_channel_names_give_the_agent_number() -> None:
    assert number_from_endpoint("agent-1001") == "1001"
    assert number_from_endpoint("caller") is None
    assert number_from_endpoint("agent-12") is None
    assert number_from_channel("PJSIP/agent-123456-0000002a") == "123456"
    assert number_from_channel("PJSIP/caller-00000001") is None
    assert number_from_channel("Local/agent-1001-0001;1") is None


def test_ha1_is_md5_of_number_realm_password() -> None:
    assert sip_ha1("1001", "pw") == hashlib.md5(b"1001:hotline:pw").hexdigest()


def test_skills_parse_and_name_what_is_wrong() -> None:
    assert parse_skills("ticket:5, refund_change:3,english") == {
        "ticket": 5, "refund_change": 3, "english": 1}
    with pytest.raises(IdentityError, match="unknown skill 'tickets'; known skills: ticket"):
        parse_skills("tickets:2")
    with pytest.raises(IdentityError, match="level 10 is out of range; use 1 to 9"):
        parse_skills("ticket:10")
    with pytest.raises(IdentityError, match="not a number"):
        parse_skills("ticket:x")


def test_agent_accounts_render_as_endpoint_auth_and_aor(tmp_path: Path) -> None:
    ha1 = sip_ha1("1001", "secret-pw")
    text = render_agents([("1001", ha1)])
    blocks = text.split("[agent-1001]")
    assert len(blocks) == 4  # endpoint, auth, aor
    endpoint, auth, aor = blocks[1:]
    for line in ("type = endpoint", "context = from-agents", "allow = ulaw,alaw",
                 "dtmf_mode = rfc4733", "direct_media = no", "rtp_symmetric = yes",
                 "rewrite_contact = yes", "media_address = 127.0.0.1",
                 "bind_rtp_to_media_address = yes", "auth = agent-1001", "aors = agent-1001"):
        assert line in endpoint
    for line in ("type = auth", "auth_type = md5", "username = 1001", "realm = hotline",
                 f"md5_cred = {ha1}"):
        assert line in auth
    assert "secret-pw" not in text and "password" not in auth
    for line in ("max_contacts = 1", "remove_existing = yes", "qualify_frequency = 0"):
        assert line in aor
    path = write_agents_file(tmp_path, [("1001", ha1)])
    # Root and the PBX's group (Asterisk runs as its own user) read it; nobody else.
    assert path.name == FILE_NAME and path.stat().st_mode & 0o777 == 0o640
    assert render_agents([]).count("[") == 0


def test_a_cluster_node_rings_agents_through_the_proxy_and_knows_them_by_its_header() -> None:
    ha1 = sip_ha1("1001", "secret-pw")
    text = render_agents([("1001", ha1)], proxy="127.0.0.1:16060")
    endpoint, aor, identify = text.split("[agent-1001]")[1:]
    # No digest here: the proxy challenges the phone, and the HA1 stays out of the node.
    assert ha1 not in text and "type = auth" not in text and "auth =" not in endpoint
    assert "aors = agent-1001" in endpoint and "context = from-agents" in endpoint
    assert "contact = sip:agent-1001@127.0.0.1:16060" in aor
    assert "endpoint = agent-1001" in identify
    assert "match_header = X-Hotline-Agent: 1001" in identify
    with pytest.raises(ProvisioningError, match="not host:port"):
        render_agents([("1001", ha1)], proxy="127.0.0.1:5060\n[x]")


def test_rendering_refuses_what_could_inject_config() -> None:
    with pytest.raises(ProvisioningError):
        render_agents([("1001\n[x]", "0" * 32)])
    with pytest.raises(ProvisioningError):
        render_agents([("1001", "zz")])


def test_pjsip_identifies_agents_by_name_and_includes_their_accounts(tmp_path: Path) -> None:
    files = render_all(tmp_path, sip_port=5060)
    pjsip = files["pjsip.conf"]
    assert "endpoint_identifier_order = header,username,ip" in pjsip
    assert "#tryinclude pjsip_agents.conf" in pjsip
    assert "bind = 127.0.0.1:5060" in pjsip
    assert "media_address = 127.0.0.1" in pjsip
    lan = render_all(tmp_path / "lan", sip_port=5060, sip_bind="0.0.0.0",
                     media_address="10.20.0.7")
    assert "bind = 0.0.0.0:5060" in lan["pjsip.conf"]
    # A node on a network sends and takes media on its own address, agents' calls included.
    assert "media_address = 10.20.0.7" in lan["pjsip.conf"]
    agents = render_agents([("1001", sip_ha1("1001", "pw-1"))], media="10.20.0.7")
    assert "media_address = 10.20.0.7" in agents and "127.0.0.1" not in agents
    with pytest.raises(ProvisioningError, match="not an IP address"):
        render_agents([], media="10.0.0.1\n[x]")
    ext = files["extensions.conf"]
    agents = ext.split("[from-agents]")[1].split("\n[")[0]
    for code in ("*21", "*22", "*23", "*24"):
        assert f"exten => {code},1,Stasis(hotline,feature,${{EXTEN}})" in agents
    assert "12306" not in agents and "ss-noservice" in agents


def test_passwords_are_salted_and_verified() -> None:
    first, second = hash_password("pw-1234"), hash_password("pw-1234")
    assert first != second and "pw-1234" not in first
    assert verify_password("pw-1234", first) and verify_password("pw-1234", second)
    assert not verify_password("pw-1235", first)
    assert not verify_password("pw-1234", None)
    assert not verify_password("pw-1234", "garbage")
