"""The pages' login over HTTP: an HttpOnly cookie that every role-checked route accepts, and a
logout that ends it at once."""

from __future__ import annotations

import os
import subprocess
import sys

import httpx

from tests.browser import WebApp, in_thread


def test_the_session_cookie_is_httponly_and_opens_role_checked_routes(web_app: WebApp) -> None:
    name, password = web_app.user("supervisor")
    with httpx.Client(base_url=web_app.url) as client:
        assert client.get("/api/v1/agents").status_code == 401
        assert client.get("/api/v1/session").json()["username"] is None
        resp = client.post("/api/v1/session", json={"username": name, "password": password})
        assert resp.status_code == 200, resp.text
        assert resp.json() == {"username": name, "role": "supervisor", "agent": None,
                               "agent_name": None}
        cookie = resp.headers["set-cookie"].lower()
        assert "hotline_session=" in cookie and "httponly" in cookie
        assert "samesite=strict" in cookie
        assert client.get("/api/v1/agents").status_code == 200
        assert client.get("/api/v1/session").json()["username"] == name
        token = client.cookies["hotline_session"]
        assert client.delete("/api/v1/session").status_code == 204
    # The token behind the cookie is revoked, not only forgotten by the browser.
    gone = httpx.get(f"{web_app.url}/api/v1/agents", cookies={"hotline_session": token})
    assert gone.status_code == 401


def test_a_wrong_password_an_unknown_name_and_a_malformed_login_are_refused_alike(
        web_app: WebApp) -> None:
    name, password = web_app.user("qa")
    wrong = httpx.post(f"{web_app.url}/api/v1/session",
                       json={"username": name, "password": password + "x"})
    unknown = httpx.post(f"{web_app.url}/api/v1/session",
                         json={"username": "nobody-here", "password": password})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()
    assert "set-cookie" not in wrong.headers
    malformed = httpx.post(f"{web_app.url}/api/v1/session", json={"username": name})
    assert malformed.status_code == 422


def test_a_user_without_a_password_cannot_log_in(web_app: WebApp) -> None:
    from app.db.models import Role
    from app.db.session import Database
    from app.services.auth import create_user

    async def make() -> None:
        db = Database(web_app.db_url)
        async with db.session() as session:
            await create_user(session, "token-only", Role.ENGINEER)
            await session.commit()
        await db.dispose()

    in_thread(make)
    resp = httpx.post(f"{web_app.url}/api/v1/session",
                      json={"username": "token-only", "password": ""})
    assert resp.status_code == 422
    resp = httpx.post(f"{web_app.url}/api/v1/session",
                      json={"username": "token-only", "password": "anything-at-all"})
    assert resp.status_code == 401



def _hotline(db_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HOTLINE_DATABASE_URL": db_url}
    return subprocess.run([sys.executable, "-m", "app.cli", *args], env=env,
                          capture_output=True, text=True, timeout=60)


def test_users_get_a_login_password_from_the_command_line(web_app: WebApp) -> None:
    made = _hotline(web_app.db_url, "users", "create", "qa-cli", "--role", "qa", "--login")
    assert made.returncode == 0, made.stderr
    shown = made.stdout.split("(shown once): ")[1].strip()
    login = {"username": "qa-cli", "password": shown}
    assert httpx.post(f"{web_app.url}/api/v1/session", json=login).status_code == 200
    short = _hotline(web_app.db_url, "users", "password", "qa-cli", "--password", "short")
    assert short.returncode == 2 and "too short" in short.stderr
    changed = _hotline(web_app.db_url, "users", "password", "qa-cli", "--password",
                       "a-new-password")
    assert changed.returncode == 0, changed.stderr
    assert httpx.post(f"{web_app.url}/api/v1/session", json=login).status_code == 401
    login["password"] = "a-new-password"
    assert httpx.post(f"{web_app.url}/api/v1/session", json=login).status_code == 200
