from __future__ import annotations

import json
import re
import stat
from pathlib import Path

import pytest

from app.config import REPO_ROOT, Settings
from app.pbx.render import RenderError, placeholder_values, render_dialplans, render_text
from app.pbx.sandbox import SandboxError, debian_mirror, require_root
from app.pbx.secrets import Credentials, SecretsError, load_credentials


def render_all(tmp_path: Path, **overrides: object) -> dict[str, str]:
    settings = Settings(state_dir=tmp_path, **overrides)  # type: ignore[arg-type]
    values = placeholder_values(settings, Credentials("ari-secret", "ami-secret"))
    target = tmp_path / "etc"
    target.mkdir(parents=True)
    (target / "sample.conf").write_text("; a packaged sample\n")
    render_dialplans(REPO_ROOT / "dialplans", target, values)
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


def test_mirror_comes_from_settings_first() -> None:
    assert debian_mirror(Settings(debian_mirror="http://mirror.example/debian")) == (
        "http://mirror.example/debian"
    )
    assert debian_mirror(Settings()).startswith("http")


def test_root_is_required_for_pbx_actions(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("os.geteuid", lambda: 1000)
    with pytest.raises(SandboxError, match=r"needs root.*sudo"):
        require_root("start")


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
