from __future__ import annotations

import json
import re
import stat
from pathlib import Path

import pytest

from app.config import REPO_ROOT, Settings
from app.pbx.render import (
    RenderError,
    placeholder_values,
    render_dialplans,
    render_switches,
    render_text,
)
from app.pbx.sandbox import (
    SandboxError,
    debian_mirror,
    hand_over,
    pbx_account,
    pbx_ids,
    require_root,
    share_config,
)
from app.pbx.secrets import Credentials, SecretsError, load_credentials


def render_all(tmp_path: Path, **overrides: object) -> dict[str, str]:
    settings = Settings(state_dir=tmp_path, **overrides)  # type: ignore[arg-type]
    values = placeholder_values(settings, Credentials("ari-secret", "ami-secret"))
    target = tmp_path / "etc"
    target.mkdir(parents=True)
    (target / "sample.conf").write_text("; a packaged sample\n")
    render_dialplans(REPO_ROOT / "dialplans", target, values, render_switches(settings))
    return {p.name: p.read_text() for p in target.iterdir()}


def test_dialplans_render_completely_and_replace_samples(tmp_path: Path) -> None:
    files = render_all(tmp_path)
    assert "sample.conf" not in files
    assert {"extensions.conf", "pjsip.conf", "ari.conf", "http.conf", "manager.conf",
            "modules.conf"} <= set(files)
    for name, text in files.items():
        assert not re.search(r"@@[A-Z_]+@@", text), name
    assert "exten => 12306,1" in files["extensions.conf"]
    assert "Stasis(hotline)" in files["extensions.conf"]


def test_control_interfaces_listen_on_loopback_only(tmp_path: Path) -> None:
    files = render_all(tmp_path, sip_port=5060)
    assert "bindaddr = 127.0.0.1" in files["http.conf"]
    assert "bindaddr = 127.0.0.1" in files["manager.conf"]
    assert "bind = 127.0.0.1:5060" in files["pjsip.conf"]
    assert "password = ari-secret" in files["ari.conf"]
    assert "autoload = no" in files["modules.conf"]


def test_instances_own_their_ports_and_directories(tmp_path: Path) -> None:
    main = render_all(tmp_path / "a", instance="main", sip_port=5060, ari_port=8088,
                      ami_port=5038, rtp_start=10000, rtp_end=20000)
    side = render_all(tmp_path / "b", instance="test", sip_port=15060, ari_port=18088,
                      ami_port=15038, rtp_start=21000, rtp_end=29999)
    for files, name, sip, ari, ami in ((main, "main", 5060, 8088, 5038),
                                       (side, "test", 15060, 18088, 15038)):
        conf = files["asterisk.conf"]
        for key, sub in (("astetcdir", "etc"), ("astrundir", "run"), ("astlogdir", "log"),
                         ("astspooldir", "spool"), ("astdbdir", "db")):
            assert f"{key} => /srv/hotline/{name}/{sub}" in conf
        # Shared by all instances: the package's modules and sounds.
        assert "astdatadir => /usr/share/asterisk" in conf
        assert f"bind = 127.0.0.1:{sip}" in files["pjsip.conf"]
        assert f"bindport = {ari}" in files["http.conf"]
        assert f"port = {ami}" in files["manager.conf"]
    assert "rtpstart = 21000" in side["rtp.conf"]


def test_instance_paths_live_in_the_shared_root(tmp_path: Path) -> None:
    settings = Settings(state_dir=tmp_path, pbx_root=tmp_path / "root", instance="t2")
    assert settings.pbx_etc == tmp_path / "root/srv/hotline/t2/etc"
    assert settings.pbx_spool == tmp_path / "root/srv/hotline/t2/spool"
    with pytest.raises(ValueError):
        Settings(instance="../etc")


def test_unknown_placeholder_names_file_and_line() -> None:
    with pytest.raises(RenderError, match=r"x.conf:2: unknown placeholder @@NOPE@@"):
        render_text("x.conf", "[a]\nb = @@NOPE@@\n", {"SIP_PORT": "5060"})


def conf_section(text: str, name: str) -> dict[str, str]:
    found: dict[str, str] = {}
    current = ""
    for line in text.splitlines():
        line = line.split(";", 1)[0].strip()
        if m := re.fullmatch(r"\[(.+)\]", line):
            current = m.group(1)
        elif current == name and "=" in line:
            key, value = (part.strip() for part in line.split("=", 1))
            found[key] = value
    return found


def test_the_ami_user_reads_events_and_queries_but_changes_nothing(tmp_path: Path) -> None:
    user = conf_section(render_all(tmp_path, ami_user="hotline")["manager.conf"], "hotline")
    assert set(user["read"].split(",")) == {
        "system", "call", "agent", "dialplan", "dtmf", "user", "reporting", "security"}
    # Read-only queries for a snapshot and what recordings need (MixMonitor is a `system`
    # action); no originate or command.
    assert set(user["write"].split(",")) == {"system", "call", "reporting"}
    assert user["secret"] == "ami-secret"
    assert user["permit"] == "127.0.0.1/255.255.255.255"


def extensions(dialplan: str) -> dict[str, set[str]]:
    """The extensions of each context of a rendered extensions.conf."""
    found: dict[str, set[str]] = {}
    context = ""
    for line in dialplan.splitlines():
        if m := re.match(r"\[([\w-]+)\]", line):
            context = m.group(1)
            found[context] = set()
        elif m := re.match(r"exten => ([^,]+),", line):
            found[context].add(m.group(1))
    return found


def test_test_numbers_are_in_the_dialplan_only_with_dev_lines(tmp_path: Path) -> None:
    off = extensions(render_all(tmp_path / "off", dev_lines=False)["extensions.conf"])
    on = extensions(render_all(tmp_path / "on", dev_lines=True)["extensions.conf"])
    assert {"12300", "12399"} <= on["from-callers"]
    assert "bench-dialplan-menu" in on
    assert not {"12300", "12399"} & off["from-callers"]
    assert "bench-dialplan-menu" not in off
    # Off, those numbers reach the catch-all: "not in service".
    assert "_X." in off["from-callers"] and "12306" in off["from-callers"]
    # Everything else is the same either way.
    assert {k: v - {"12300", "12399"} for k, v in on.items() if k != "bench-dialplan-menu"} == off


def test_dev_lines_are_off_unless_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HOTLINE_DEV_LINES", raising=False)
    assert render_switches(Settings()) == {"DEV_LINES": False}
    monkeypatch.setenv("HOTLINE_DEV_LINES", "1")
    assert render_switches(Settings()) == {"DEV_LINES": True}


def test_switched_blocks_are_kept_or_dropped_with_their_markers() -> None:
    text = "[a]\n; @@IF DEV_LINES@@\nx = 1\n; @@END DEV_LINES@@\ny = 2\n"
    assert render_text("x.conf", text, {}, {"DEV_LINES": True}) == "[a]\nx = 1\ny = 2\n"
    assert render_text("x.conf", text, {}, {"DEV_LINES": False}) == "[a]\ny = 2\n"


@pytest.mark.parametrize(("text", "error"), [
    ("; @@IF NOPE@@\n; @@END NOPE@@\n", r"x.conf:1: unknown switch NOPE \(known: DEV_LINES\)"),
    ("[a]\n; @@IF DEV_LINES@@\nx = 1\n", r"x.conf:2: @@IF DEV_LINES@@ is never closed"),
    ("[a]\n; @@END DEV_LINES@@\n", r"x.conf:2: @@END DEV_LINES@@ without its @@IF"),
    ("; @@IF DEV_LINES@@\n; @@IF DEV_LINES@@\n", r"x.conf:2: .* blocks do not nest"),
])
def test_broken_blocks_name_file_and_line(text: str, error: str) -> None:
    with pytest.raises(RenderError, match=error):
        render_text("x.conf", text, {}, {"DEV_LINES": True})


def test_secrets_are_generated_once_and_private(tmp_path: Path) -> None:
    settings = Settings(state_dir=tmp_path)
    with pytest.raises(SecretsError, match="hotline pbx start"):
        load_credentials(settings)
    first = load_credentials(settings, create=True)
    again = load_credentials(settings)
    assert first == again and len(first.ari_password) >= 24
    assert stat.S_IMODE(settings.secrets_file.stat().st_mode) == 0o600
    assert set(json.loads(settings.secrets_file.read_text())) == {"ari_password", "ami_secret"}
    override = Settings(state_dir=tmp_path, ari_password="given")
    assert load_credentials(override).ari_password == "given"


def test_secrets_given_in_the_environment_are_not_stored(tmp_path: Path) -> None:
    settings = Settings(state_dir=tmp_path, ari_password="ari-given", ami_secret="ami-given")
    assert load_credentials(settings, create=True) == Credentials("ari-given", "ami-given")
    assert not settings.secrets_file.exists()
    # Only the one not given is generated and kept.
    half = Settings(state_dir=tmp_path, ari_password="ari-given")
    creds = load_credentials(half, create=True)
    assert creds.ari_password == "ari-given" and len(creds.ami_secret) >= 24
    assert set(json.loads(settings.secrets_file.read_text())) == {"ami_secret"}


def test_mirror_comes_from_settings_first() -> None:
    assert debian_mirror(Settings(debian_mirror="http://mirror.example/debian")) == (
        "http://mirror.example/debian"
    )
    assert debian_mirror(Settings()).startswith("http")


def test_root_is_required_for_pbx_actions(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("os.geteuid", lambda: 1000)
    with pytest.raises(SandboxError, match=r"needs root.*sudo"):
        require_root("start")


def fake_root(tmp_path: Path, passwd: str) -> Settings:
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    (root / "etc/passwd").write_text(passwd)
    return Settings(state_dir=tmp_path / "state", pbx_root=root, instance="t")


def test_the_pbx_user_owns_what_it_writes_and_only_reads_its_config(tmp_path: Path) -> None:
    settings = fake_root(tmp_path, "root:x:0:0:root:/root:/bin/bash\n"
                         "asterisk:x:101:102:Asterisk PBX daemon:/var/lib/asterisk:/bin/false\n")
    assert pbx_account(settings.root) == (101, 102)
    etc = settings.pbx_etc
    etc.mkdir(parents=True)
    (etc / "manager.conf").write_text("[general]\n")
    (etc / "manager.conf").chmod(0o640)
    # A log left by an earlier run as root.
    old_log = settings.in_root(settings.pbx_dir / "log/messages.log")
    old_log.parent.mkdir(parents=True)
    old_log.write_text("")
    share_config(settings)
    hand_over(settings)
    for sub in ("run", "log", "spool", "db", "cache"):
        path = settings.in_root(settings.pbx_dir / sub)
        assert (path.stat().st_uid, path.stat().st_gid) == (101, 102), sub
    assert (old_log.stat().st_uid, old_log.stat().st_gid) == (101, 102)
    info = etc.stat()
    assert (info.st_uid, info.st_gid, stat.S_IMODE(info.st_mode)) == (0, 102, 0o2750)
    conf = (etc / "manager.conf").stat()
    assert (conf.st_uid, conf.st_gid, stat.S_IMODE(conf.st_mode)) == (0, 102, 0o640)
    # Files written into the config dir later (the agents' accounts) get the PBX group.
    (etc / "pjsip_agents.conf").write_text("")
    assert (etc / "pjsip_agents.conf").stat().st_gid == 102


def test_a_pbx_elsewhere_gets_its_config_with_the_ids_from_the_settings(tmp_path: Path) -> None:
    # docker/: the root here is only the volume the asterisk container reads; no passwd file.
    settings = Settings(state_dir=tmp_path / "state", pbx_root=tmp_path / "pbx", instance="t",
                        pbx_uid=600, pbx_gid=601)
    assert pbx_ids(settings) == (600, 601)
    etc = settings.pbx_etc
    etc.mkdir(parents=True)
    (etc / "ari.conf").write_text("[general]\n")
    share_config(settings)
    info = etc.stat()
    assert (info.st_uid, info.st_gid, stat.S_IMODE(info.st_mode)) == (0, 601, 0o2750)
    assert (etc / "ari.conf").stat().st_gid == 601
    with pytest.raises(SandboxError, match="both HOTLINE_PBX_UID and HOTLINE_PBX_GID"):
        pbx_ids(Settings(pbx_root=tmp_path / "pbx", pbx_uid=600))


def test_a_root_without_the_pbx_user_says_how_to_rebuild(tmp_path: Path) -> None:
    settings = fake_root(tmp_path, "root:x:0:0:root:/root:/bin/bash\n")
    with pytest.raises(SandboxError, match=r"no user 'asterisk'.*pbx install --force"):
        pbx_account(settings.root)


def test_callers_without_media_are_hung_up_after_the_configured_timeouts(
        tmp_path: Path) -> None:
    # Production defaults (the tests' own instance lowers rtp_timeout through the env).
    assert Settings.model_fields["rtp_timeout"].default == 30
    assert Settings.model_fields["rtp_timeout_hold"].default == 300
    files = render_all(tmp_path / "default", rtp_timeout=30, rtp_timeout_hold=300)
    caller = files["pjsip.conf"].split("[caller]")[1]
    assert "rtp_timeout = 30" in caller and "rtp_timeout_hold = 300" in caller
    assert "mindtmfduration = 40" in files["asterisk.conf"]
    quick = render_all(tmp_path / "quick", rtp_timeout=8, rtp_timeout_hold=0)
    assert "rtp_timeout = 8\n" in quick["pjsip.conf"]
    assert "rtp_timeout_hold = 0\n" in quick["pjsip.conf"]


def test_negative_media_timeouts_are_refused() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="rtp_timeout"):
        Settings(rtp_timeout=-1)


def test_the_check_render_keeps_line_numbers_and_opens_no_listener() -> None:
    from app.pbx.check import without_listeners
    from app.pbx.render import render_text

    text = "a\n; @@IF DEV_LINES@@\nb\n; @@END DEV_LINES@@\nc @@X@@\n"
    kept = render_text("x.conf", text, {"X": "1"}, {"DEV_LINES": False}, keep_numbers=True)
    assert kept.splitlines() == ["a", "", "", "", "c 1"]
    assert render_text("x.conf", text, {"X": "1"}, {"DEV_LINES": False}) == "a\nc 1\n"
    pjsip = "[global]\ntype = global\n[transport-udp]\ntype = transport\nbind = x\n[caller]\n"
    assert without_listeners("pjsip.conf", pjsip) == "[global]\ntype = global\n[caller]\n"
    assert "enabled = no" in without_listeners("http.conf", "[general]\nenabled = yes\n")
