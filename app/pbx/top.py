"""`hotline pbx top`: the running PBX in the terminal, refreshed every second.

It reads the platform's API (`/api/v1/pbx/channels`, `/bridges`, `/queues`) rather than ARI:
the API masks passengers' numbers, checks the engineer's role and works from any machine that
reaches the API, with the same token as the other commands (HOTLINE_API_TOKEN, else the local
engineer token `hotline serve` writes).
"""

from __future__ import annotations

import argparse
import curses
import os
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx

from app.config import Settings

HELP = """\
Shows every channel on the PBX (its state, caller, the application it runs, where it is in
the dialplan, how long it has lasted and its bridge), every bridge (type, technology, its
channels, age) and the callers waiting in each queue with their waits. Refreshed every
second from the platform's API; q or Ctrl-C quits and gives the terminal back.

The data comes from the running `hotline serve` (GET /api/v1/pbx/channels, /bridges and
/queues), with the token in HOTLINE_API_TOKEN or else the local engineer token `hotline serve`
writes; the token's user needs the engineer (or admin) role. Passengers' numbers are masked.
--once prints one view and exits (no terminal needed), e.g. for a ticket or a script."""


class TopError(RuntimeError):
    """The view cannot go on (the token is refused): the message says what to do."""


@dataclass
class View:
    """One reading of the API."""

    channels: list[dict[str, Any]] = field(default_factory=list)
    bridges: list[dict[str, Any]] = field(default_factory=list)
    queues: list[dict[str, Any]] = field(default_factory=list)
    at: datetime | None = None
    problem: str | None = None  # why this reading is empty (the API does not answer, ...)


def duration(seconds: int | float) -> str:
    """12 -> 0:12, 754 -> 12:34, 3723 -> 1:02:03."""
    total = max(0, int(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def application(channel: dict[str, Any]) -> str:
    """Stasis(hotline) for a channel the platform has, Dial(PJSIP/...) for a dialplan app."""
    app = str(channel.get("app") or "")
    if not app:
        return "-"
    data = str(channel.get("app_data") or "")
    if app == "Stasis":  # the app name only: its arguments are the platform's business
        data = data.split(",", 1)[0]
    return f"{app}({data})" if data else app


def _cell(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(0, width - 1)] + "…"


def _row(cells: list[tuple[str, int]]) -> str:
    return " ".join(_cell(text, width).ljust(width) for text, width in cells).rstrip()


CHANNEL_COLUMNS = (("CHANNEL", 30), ("STATE", 8), ("CALLER", 13), ("APPLICATION", 22),
                   ("CONTEXT/EXTEN", 22), ("TIME", 8), ("BRIDGE", 8))
BRIDGE_COLUMNS = (("BRIDGE", 8), ("TYPE", 8), ("TECHNOLOGY", 14), ("AGE", 8),
                  ("CHANNELS", 60))


def render(view: View, width: int = 120, live: bool = True) -> list[str]:
    """The screen's lines, each at most `width` characters (live: with the key to quit)."""
    clock = view.at.astimezone().strftime("%H:%M:%S") if view.at else "--:--:--"
    waiting = sum(int(q.get("waiting", 0)) for q in view.queues)
    lines = [f"hotline pbx top  {clock}  {len(view.channels)} channels  "
             f"{len(view.bridges)} bridges  {waiting} waiting" + ("   (q quits)" if live else "")]
    if view.problem:
        lines.append(f"!! {view.problem}")
    lines += ["", _row([(title, w) for title, w in CHANNEL_COLUMNS])]
    names = {c["id"]: c.get("name", c["id"]) for c in view.channels}
    for c in view.channels:
        place = f"{c.get('context') or '-'}/{c.get('exten') or '-'}"
        values = [c.get("name") or c["id"], c.get("state") or "-", c.get("caller") or "-",
                  application(c), place, duration(c.get("duration_seconds", 0)),
                  (c.get("bridge_id") or "-")[:8]]
        lines.append(_row(list(zip(values, (w for _, w in CHANNEL_COLUMNS), strict=True))))
    if not view.channels:
        lines.append("(no channels)")
    lines += ["", _row([(title, w) for title, w in BRIDGE_COLUMNS])]
    for b in view.bridges:
        members = ", ".join(names.get(ch, ch) for ch in b.get("channels", [])) or "(empty)"
        values = [b["id"][:8], b.get("type") or "-", b.get("technology") or "-",
                  duration(b.get("age_seconds", 0)), members]
        lines.append(_row(list(zip(values, (w for _, w in BRIDGE_COLUMNS), strict=True))))
    if not view.bridges:
        lines.append("(no bridges)")
    lines += ["", _row([("QUEUE", 16), ("WAITING", 8), ("LONGEST", 8), ("CALLERS", 60)])]
    for q in view.queues:
        callers = ", ".join(
            f"{c.get('caller') or '-'}{' (priority)' if c.get('priority') else ''} "
            f"{duration(c.get('wait_seconds', 0))}" for c in q.get("callers", []))
        lines.append(_row([(str(q["queue"]), 16), (str(q["waiting"]), 8),
                           (duration(q.get("longest_wait_seconds", 0)), 8), (callers, 60)]))
    if not view.queues:
        lines.append("(nobody waiting)")
    return [line[:width] for line in lines]


def read_view(client: httpx.Client, at: datetime) -> View:
    """The three lists; a problem the engineer can wait out is shown, a refused token ends."""
    view = View(at=at)
    try:
        for part in ("channels", "bridges", "queues"):
            resp = client.get(f"/api/v1/pbx/{part}")
            if resp.status_code in (401, 403):
                raise TopError(f"the API refused the token ({resp.status_code}: "
                               f"{_message(resp)}); set HOTLINE_API_TOKEN to an engineer's token")
            if resp.status_code != 200:
                return View(at=at, problem=f"{part}: {resp.status_code} {_message(resp)}")
            setattr(view, part, resp.json())
    except httpx.HTTPError as exc:
        why = str(exc) or type(exc).__name__
        return View(at=at, problem=f"{client.base_url} does not answer ({why}); "
                    "is `hotline serve` running?")
    return view


def _message(resp: httpx.Response) -> str:
    try:
        return str(resp.json()["error"]["message"])
    except (ValueError, KeyError, TypeError):
        return resp.text[:200]


def _draw(screen: Any, lines: list[str]) -> None:
    height, width = screen.getmaxyx()
    screen.erase()
    for y, line in enumerate(lines[: height]):
        try:  # the bottom-right cell cannot be written without an error
            screen.addstr(y, 0, line[: max(0, width - 1)])
        except curses.error:
            pass
    screen.refresh()


def _loop(screen: Any, client: httpx.Client, interval: float) -> None:
    try:
        curses.curs_set(0)
    except curses.error:  # a terminal that cannot hide the cursor
        pass
    screen.timeout(100)  # keys are read every 0.1 s between refreshes
    view = View()
    due = 0.0
    while True:
        if time.monotonic() >= due:
            view = read_view(client, datetime.now().astimezone())
            due = time.monotonic() + interval
            _draw(screen, render(view, screen.getmaxyx()[1]))
        key = screen.getch()
        if key in (ord("q"), ord("Q")):
            return
        if key == curses.KEY_RESIZE:
            _draw(screen, render(view, screen.getmaxyx()[1]))


def add_top_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--api", metavar="URL",
                        help="the platform's URL (default: HOTLINE_API_HOST/PORT)")
    parser.add_argument("--interval", type=float, default=1.0, metavar="SECONDS",
                        help="seconds between refreshes (default 1)")
    parser.add_argument("--once", action="store_true",
                        help="print the view once and exit (no terminal needed)")


def run(args: argparse.Namespace, settings: Settings) -> int:
    from app.callgen.runner import api_token

    if not 0.2 <= args.interval <= 60:
        print("hotline pbx top: --interval is between 0.2 and 60 seconds", file=sys.stderr)
        return 2
    api = args.api or f"http://{settings.api_host}:{settings.api_port}"
    token = api_token(settings)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    with httpx.Client(base_url=api, headers=headers, timeout=3) as client:
        try:
            if args.once:
                view = read_view(client, datetime.now().astimezone())
                try:
                    print("\n".join(render(view, 200, live=False)), flush=True)
                except BrokenPipeError:  # `| head`: the reader has all it wanted
                    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
                return 1 if view.problem else 0
            if not sys.stdout.isatty():
                print("hotline pbx top: needs a terminal (use --once to print one view)",
                      file=sys.stderr)
                return 2
            curses.wrapper(_loop, client, args.interval)
        except TopError as exc:  # the terminal is back (curses.wrapper restored it)
            print(f"hotline pbx top: {exc}", file=sys.stderr)
            return 2
        except KeyboardInterrupt:  # Ctrl-C quits as q does
            return 0
    return 0
