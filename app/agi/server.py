"""The FastAGI server `hotline serve` runs for the dialplan (panoramisk's fast_agi).

Asterisk times out only the connect to an AGI server; once connected it waits for answers
without limit. So every route answers within `budget` seconds whatever happens inside it:
its work runs as a task, and when that task is late or fails, the route's defaults are sent
(HOTLINE_AGI=default) and the task is left to finish or fail on its own.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from datetime import datetime
from typing import Any

from panoramisk.fast_agi import Application, Request

from app.agi import answers
from app.agi import tables as dialplan_tables
from app.core.clock import now as utc_now
from app.db.session import Database
from app.services.masking import mask_phone

log = logging.getLogger(__name__)

REFRESH_SECONDS = 1.0  # engineers' edits made in another process reach calls within this
HEADER_TIMEOUT = 2.0  # Asterisk sends its agi_* lines at once; a silent peer is dropped
SEND_TIMEOUT = 1.0  # per command; Asterisk answers each at once unless the channel is gone

Route = Callable[[Request], Coroutine[Any, Any, dict[str, str]]]


class AgiServer(Application):  # type: ignore[misc]
    def __init__(self, db: Database, host: str, port: int, budget: float = 0.5,
                 clock: Callable[[], datetime] = utc_now) -> None:
        super().__init__()
        self.db, self.host, self.port, self.budget, self.clock = db, host, port, budget, clock
        self.server: asyncio.Server | None = None
        self.tables: dialplan_tables.DialplanTables | None = None
        self._refresher: asyncio.Task[None] | None = None
        self.late: set[asyncio.Task[dict[str, str]]] = set()  # still running after the answer
        self.answered = 0  # requests answered (with data or defaults), for health
        self.defaulted = 0  # of those, answered with defaults
        for name, work in (("caller_profile", self._caller_profile),
                           ("business_hours", self._business_hours), ("route", self._called_route)):
            self.add_route(name, self._answering(name, work))

    async def start(self) -> None:
        self.server = await asyncio.start_server(self.handler, self.host, self.port)
        self._refresher = asyncio.create_task(self._refresh_tables(), name="agi-tables")
        log.info("FastAGI server on %s:%d", self.host, self.port)

    async def reload_tables(self) -> dialplan_tables.DialplanTables:
        """Read the tables now: after an edit in this process, and every REFRESH_SECONDS."""
        async with self.db.session() as session:
            tables = await dialplan_tables.load(session)
        self.tables = tables
        return tables

    async def _refresh_tables(self) -> None:
        while True:
            try:
                await self.reload_tables()
            except Exception as exc:  # the last snapshot stays; routes default without one
                log.warning("dialplan tables not reloaded: %r", exc)
            await asyncio.sleep(REFRESH_SECONDS)

    async def _current_tables(self) -> dialplan_tables.DialplanTables:
        # None only before the first load has ended
        return self.tables if self.tables is not None else await self.reload_tables()

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()
            self.server = None
        if self._refresher is not None:
            self._refresher.cancel()
            self._refresher = None
        for task in list(self.late):
            task.cancel()

    async def handler(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """panoramisk's handler, except that a peer which closes or stalls before its headers
        end is dropped (panoramisk's loops on a closed socket)."""
        try:
            raw = await asyncio.wait_for(reader.readuntil(b"\n\n"), HEADER_TIMEOUT)
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError,
                ConnectionError):
            writer.close()
            return
        lines = raw[:-2].decode(self.default_encoding, errors="replace").split("\n")
        headers = dict(line.split(": ", 1) for line in lines if ": " in line)
        script = headers.get("agi_network_script", "")
        route = self._route.get(script)
        if route is None:
            log.error("AGI request for unknown route %r (known: %s)", script,
                      ", ".join(self._route))
        else:
            await route(Request(self, headers, reader, writer, self.default_encoding))
        writer.close()

    def _answering(self, name: str, work: Route) -> Callable[[Request], Awaitable[None]]:
        async def answer(request: Request) -> None:
            channel = request.headers.get("agi_uniqueid", "?")
            quick = self._quick_answer(name, request)
            if quick is not None:  # from the tables in memory: no task, no waiting
                await self._send(request, name, channel, quick)
                return
            task = asyncio.create_task(work(request), name=f"agi-{name}-{channel}")
            done, _ = await asyncio.wait({task}, timeout=self.budget)
            status = "ok"
            if task in done and task.exception() is None:
                values = task.result()
            else:
                status = "default"
                values = dict(answers.DEFAULTS[name])
                if task in done:
                    log.warning("AGI %s for channel %s failed, defaults sent: %r", name, channel,
                                task.exception())
                else:
                    log.warning("AGI %s for channel %s took over %.1f s, defaults sent", name,
                                channel, self.budget)
                    self.late.add(task)
                    task.add_done_callback(self._forget)
                self.defaulted += 1
            values["HOTLINE_AGI"] = status
            await self._send(request, name, channel, values)

        return answer

    def _quick_answer(self, name: str, request: Request) -> dict[str, str] | None:
        """The answer of a route that needs only the tables, when they are loaded (None: go
        the way of the database); a failure answers the defaults."""
        if self.tables is None or name not in ("business_hours", "route"):
            return None
        try:
            if name == "route":
                values = answers.route(self.tables, _called(request))
            else:
                values = answers.business_hours(self.tables, self.clock())
            status = "ok"
        except Exception as exc:
            log.warning("AGI %s for channel %s failed, defaults sent: %r", name,
                        request.headers.get("agi_uniqueid", "?"), exc)
            values, status = dict(answers.DEFAULTS[name]), "default"
            self.defaulted += 1
        return {**values, "HOTLINE_AGI": status}

    async def _send(self, request: Request, name: str, channel: str,
                    values: dict[str, str]) -> None:
        try:
            async with asyncio.timeout(SEND_TIMEOUT):
                for command in _set_commands(values):
                    await request.send_command(command)
        except (TimeoutError, ConnectionError) as exc:
            log.info("AGI %s for channel %s: channel gone before the answer (%r)", name,
                     channel, exc)
        self.answered += 1

    def _forget(self, task: asyncio.Task[dict[str, str]]) -> None:
        self.late.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.info("late AGI work ended with %r", task.exception())

    async def _caller_profile(self, request: Request) -> dict[str, str]:
        caller = _arg(request, 1) or request.headers.get("agi_callerid", "")
        tables = await self._current_tables()
        async with self.db.session() as session:
            values = await answers.caller_profile(session, caller, self.clock(), tables=tables)
        if values["HOTLINE_BLOCKED"] == "1":
            log.info("blocked caller %s refused", mask_phone(caller))
        return values

    async def _business_hours(self, request: Request) -> dict[str, str]:
        return answers.business_hours(await self._current_tables(), self.clock())

    async def _called_route(self, request: Request) -> dict[str, str]:
        return answers.route(await self._current_tables(), _called(request))


def _called(request: Request) -> str:
    return _arg(request, 1) or str(request.headers.get("agi_dnid", ""))


def _arg(request: Request, n: int) -> str:
    return str(request.headers.get(f"agi_arg_{n}", "")).strip()


def _set_commands(values: dict[str, str]) -> list[str]:
    """One MSet for all the variables (one round trip to the PBX instead of one each), unless a
    value holds a character MSet would split on; then one SET VARIABLE each."""
    if all(not set(v) & set(',"\\ $') for v in values.values()):
        return ['EXEC MSet "' + ",".join(f"{k}={v}" for k, v in values.items()) + '"']
    return [f'SET VARIABLE {key} "{_quoted(value)}"' for key, value in values.items()]


def _quoted(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')
