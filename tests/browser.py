"""Real-browser fixtures (a pytest plugin, loaded by tests/conftest.py).

- `browser`: one headless Chromium for the whole run (Debian's /usr/bin/chromium driven by
  Playwright's sync API);
- `page`: a fresh browser context per test; the test fails on any console error or uncaught
  page error; a screenshot is kept in test-artifacts/<test>.png;
- `web_app`: the data API and pages alone (no PBX), `hotline api` on a free port, over a
  migrated SQLite database with demo data; `web_app.user(role)` makes someone to log in as.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
import threading
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, TypeVar

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, Playwright, sync_playwright

from app.admin.demo_data import seed_demo
from app.db import migrate
from app.db.models import Role
from app.db.session import Database
from app.services.auth import create_user, set_password
from tests.api_node import api_node

T = TypeVar("T")
CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"


BROWSER_FIXTURES = {"browser", "page", "playwright_driver"}


def uses_browser(item: pytest.Item) -> bool:
    return bool(BROWSER_FIXTURES & set(getattr(item, "fixturenames", ())))


@pytest.fixture(scope="session")
def playwright_driver() -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="session")
def browser(playwright_driver: Playwright) -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium")
    chromium = playwright_driver.chromium.launch(
        executable_path=CHROMIUM, headless=True,
        # Fake media devices: pages may ask for audio without a sound card.
        args=["--no-sandbox", "--use-fake-device-for-media-stream",
              "--autoplay-policy=no-user-gesture-required"])
    yield chromium
    chromium.close()


@dataclass
class PageErrors:
    messages: list[str] = field(default_factory=list)
    # Expected failures a test provokes (a 401 on a wrong password shows in the console).
    allowed: list[str] = field(default_factory=list)

    def console(self, msg: ConsoleMessage) -> None:
        if msg.type == "error":
            self.messages.append(f"console: {msg.text} @ {msg.location.get('url', '')}")

    def unexpected(self) -> list[str]:
        return [m for m in self.messages if not any(a in m for a in self.allowed)]


@pytest.fixture
def page_errors() -> PageErrors:
    return PageErrors()


@pytest.fixture
def page(browser: Browser, request: pytest.FixtureRequest,
         page_errors: PageErrors) -> Iterator[Page]:
    context = browser.new_context(locale="zh-CN", timezone_id="Asia/Shanghai",
                                  viewport={"width": 1366, "height": 900})
    context.set_default_timeout(15_000)
    tab = context.new_page()
    tab.on("console", page_errors.console)
    tab.on("pageerror", lambda exc: page_errors.messages.append(f"page error: {exc}"))
    yield tab
    ARTIFACTS.mkdir(exist_ok=True)
    try:
        tab.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"), full_page=True)
    finally:
        context.close()
    assert not page_errors.unexpected(), page_errors.messages


def in_thread(work: Callable[[], Coroutine[Any, Any, T]] | Callable[[], T]) -> T:
    """Run database work from a test that drives the browser (Playwright's sync API holds an
    event loop in this thread, so asyncio.run must happen in another)."""
    box: list[Any] = []

    def run() -> None:
        result = work()
        box.append(asyncio.run(result) if asyncio.iscoroutine(result) else result)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    if not box:
        raise RuntimeError("the database work failed (its error is printed above)")
    return box[0]  # type: ignore[no-any-return]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class WebApp:
    url: str
    db_url: str
    state_dir: Path  # the app's Settings.state_dir (recordings live under it)

    def user(self, role: str, name: str | None = None,
             password: str | None = None) -> tuple[str, str]:
        """A new user with a login password: (name, password)."""
        name = name or f"{role}-{secrets.token_hex(3)}"
        password = password or secrets.token_urlsafe(10)

        async def make() -> None:
            db = Database(self.db_url)
            async with db.session() as session:
                await create_user(session, name, Role(role))
                await set_password(session, name, password)
                await session.commit()
            await db.dispose()

        in_thread(make)
        return name, password

    def login(self, page: Page, name: str, password: str) -> None:
        """Fill the login form the page shows."""
        page.fill("form.login input[name=username]", name)
        page.fill("form.login input[name=password]", password)
        page.click("form.login button[type=submit]")


def _seed(url: str) -> None:
    in_thread(lambda: migrate.upgrade(url))

    async def seed() -> None:
        db = Database(url)
        async with db.session() as session:
            await seed_demo(session, orders=50, seed=11, today=date.today(),
                            progress=lambda _: None)
            await session.commit()
        await db.dispose()

    in_thread(seed)


@pytest.fixture(scope="session")
def web_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebApp]:
    """`hotline api` in its own process, as an API-only node runs."""
    state = tmp_path_factory.mktemp("web")
    url = f"sqlite:///{state / 'web.db'}"
    _seed(url)
    port = free_port()
    env = {**os.environ, "HOTLINE_DATABASE_URL": url, "HOTLINE_STATE_DIR": str(state),
           "HOTLINE_API_PORT": str(port), "HOTLINE_API_HOST": "127.0.0.1"}
    with api_node(env, state / "api.log") as (base, _):
        yield WebApp(base, url, state)


def cut_off_internet(page: Page) -> list[str]:
    """Refuse every request that leaves this machine; returns the refused URLs."""
    refused: list[str] = []

    def route(r: Any) -> None:
        host = r.request.url.split("/")[2].split(":")[0]
        if host in ("127.0.0.1", "localhost"):
            r.continue_()
        else:
            refused.append(r.request.url)
            r.abort("internetdisconnected")

    page.route("**/*", route)
    return refused
