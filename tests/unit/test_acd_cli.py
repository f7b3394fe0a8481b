"""`hotline centers` and `hotline agents` against a temporary database and PBX config dir."""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.cli import main
from app.config import get_settings
from app.db import migrate
from app.services.auth import verify_password


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A seeded database and a PBX config dir under tmp_path; no PBX runs."""
    db = tmp_path / "hotline.db"
    monkeypatch.setenv("HOTLINE_DATABASE_URL", f"sqlite:///{db}")
    monkeypatch.setenv("HOTLINE_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("HOTLINE_PBX_ROOT", str(tmp_path / "root"))
    get_settings.cache_clear()
    migrate.upgrade(f"sqlite:///{db}")
    con = sqlite3.connect(db)
    con.executemany("insert into centers (name, code, enabled) values (?, ?, 1)",
                    [("北京", "bj"), ("上海", "sh"), ("太原", "ty")])
    con.commit()
    con.close()
    yield tmp_path
    get_settings.cache_clear()


def agents_file(tmp: Path) -> str:
    return (get_settings().pbx_etc / "pjsip_agents.conf").read_text()


def dump(tmp: Path) -> str:
    con = sqlite3.connect(tmp / "hotline.db")
    text = "\n".join(con.iterdump())
    con.close()
    return text


def test_centers_list(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["centers", "list", "--json"]) == 0
    centers = json.loads(capsys.readouterr().out)
    assert [c["name"] for c in centers] == ["北京", "上海", "太原"]
    assert main(["centers", "list"]) == 0
    assert "上海\tsh\tenabled" in capsys.readouterr().out


def test_create_list_and_change_agents(env: Path, capsys: pytest.CaptureFixture[str],
                                       caplog: pytest.LogCaptureFixture) -> None:
    # The platform logs at INFO (app.logs); the database driver's DEBUG lines echo SQL values.
    caplog.set_level(logging.INFO)
    assert main(["agents", "create", "1001", "--name", "张三", "--center", "北京",
                 "--skills", "ticket:5,refund_change:3", "--expert",
                 "--password", "given-pw-1"]) == 0
    out = capsys.readouterr().out
    assert "agent 1001 (张三, 北京) created" in out and "given-pw-1" not in out
    assert "PBX not running" in out
    conf = agents_file(env)
    assert "[agent-1001]" in conf and "username = 1001" in conf

    assert main(["agents", "create", "20002", "--name", "李四", "--center", "上海"]) == 0
    out = capsys.readouterr().out
    generated = out.split("password (shown once): ")[1].split()[0]
    stored = dump(env)
    assert generated not in stored and "given-pw-1" not in stored
    hashes = [line for line in stored.splitlines() if "scrypt$" in line]
    assert len(hashes) == 2 and any(generated not in h for h in hashes)
    assert all(pw not in caplog.text for pw in (generated, "given-pw-1"))
    ha1s = [ln.split("= ")[1] for ln in agents_file(env).splitlines() if "md5_cred" in ln]
    assert len(ha1s) == 2 and not any(h in out or h in caplog.text for h in ha1s)

    assert main(["agents", "list", "--json"]) == 0
    rows = {r["number"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["1001"]["skills"] == {"ticket": 5, "refund_change": 3}
    assert rows["1001"]["expert"] and rows["20002"]["center"] == "上海"
    assert rows["1001"]["state"] == "logged_out"

    assert main(["agents", "set-skills", "1001", "english:7"]) == 0
    assert "english:7" in capsys.readouterr().out
    assert main(["agents", "password", "1001", "--password", "newer-pw-2"]) == 0
    capsys.readouterr()
    con = sqlite3.connect(env / "hotline.db")
    [(pw_hash,)] = con.execute("select password_hash from users where name = '1001'")
    con.close()
    assert verify_password("newer-pw-2", pw_hash)
    assert main(["agents", "disable", "1001"]) == 0
    capsys.readouterr()
    conf = agents_file(env)
    assert "[agent-1001]" not in conf and "[agent-20002]" in conf
    assert main(["agents", "list"]) == 0
    assert "1001\t张三\t北京\tlogged_out\tenglish:7\texpert\tdisabled" in capsys.readouterr().out


@pytest.mark.parametrize("args, message", [
    (["12a", "--name", "x", "--center", "北京"], "工号 '12a' is not valid: use 4 to 6 digits"),
    (["1234567", "--name", "x", "--center", "北京"], "4 to 6 digits"),
    (["1001", "--name", "x", "--center", "广州"],
     "unknown center '广州'; known centers: 北京 (bj), 上海 (sh), 太原 (ty)"),
    (["1001", "--name", "x", "--center", "北京", "--skills", "cooking:3"],
     "unknown skill 'cooking'; known skills: ticket, refund_change"),
    (["1001", "--name", "x", "--center", "北京", "--skills", "ticket:0"],
     "level 0 is out of range; use 1 to 9"),
    (["1001", "--name", "x", "--center", "北京", "--password", "short"], "at least 8"),
])
def test_create_refuses_bad_input_clearly(env: Path, capsys: pytest.CaptureFixture[str],
                                          args: list[str], message: str) -> None:
    assert main(["agents", "create", *args]) == 2
    assert message in capsys.readouterr().err


def test_duplicates_and_unknown_agents(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["agents", "create", "1001", "--name", "x", "--center", "bj"]) == 0
    assert main(["agents", "create", "1001", "--name", "y", "--center", "bj"]) == 2
    assert "agent 1001 exists already" in capsys.readouterr().err
    for args in (["disable", "4242"], ["set-skills", "4242", "ticket:2"],
                 ["password", "4242"]):
        assert main(["agents", *args]) == 2
        assert "no agent 4242" in capsys.readouterr().err
