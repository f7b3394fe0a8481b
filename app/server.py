"""`hotline serve`: Stasis app, AMI link and HTTP API in one asyncio process."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING

import uvicorn
from fastapi import FastAPI
from sqlalchemy.exc import SQLAlchemyError

from app.admin.demo_data import seed_centers, seed_demo
from app.api.main import create_app
from app.ari_handlers.dispatch import CallHandler
from app.ari_handlers.stasis_app import echo_digits, route_by_argument
from app.config import Settings, get_settings
from app.core import event_loop
from app.db import migrate
from app.db.session import Database
from app.events import EventFeed
from app.logs import setup_logging
from app.pbx import sandbox
from app.pbx.secrets import load_credentials
from app.platform import Platform
from app.services.auth import ensure_local_token
from app.services.throttle import LookupThrottle

if TYPE_CHECKING:
    from app.acd.waiting import Acd
    from app.ari_handlers.call import Call
    from app.ari_handlers.rest import AriRest
    from app.asr.live import SpeechService
    from app.ivr.library import FlowLibrary
    from app.ivr.model import Flow

log = logging.getLogger(__name__)


def banner(settings: Settings) -> str:
    api = f"http://{settings.api_host}:{settings.api_port}"
    return (
        "\n  Hotline is up.\n"
        f"  Call it:   .venv/bin/hotline call --to {settings.hotline_number} "
        "--dtmf 1,2,3 --hold 2\n"
        f"  API docs:  {api}/docs    health: {api}/healthz\n"
        f"  API token: {settings.local_token_file} (role engineer; "
        "`hotline users create NAME --role agent --token` for others)\n"
        "  Stop:      Ctrl-C\n"
    )


async def prepare_database(settings: Settings, db: Database, demo_data: bool) -> None:
    """Schema at head, the local engineer's token, and on first start the demo data."""
    url = settings.db_url
    if url.startswith("sqlite:///"):
        Path(url[len("sqlite:///") :]).parent.mkdir(parents=True, exist_ok=True)
    # Alembic's env runs its own event loop: keep it off this one.
    await asyncio.to_thread(migrate.upgrade, url)
    async with db.session() as session:
        await ensure_local_token(session, settings.local_token_file)
        if demo_data:
            from sqlalchemy import func, select

            from app.db.models import Station

            if not await session.scalar(select(func.count()).select_from(Station)):
                await seed_demo(session, orders=200, progress=log.info)
            else:
                await seed_centers(session)  # demo data seeded before centers existed
        await session.commit()


async def provision_agents(settings: Settings, db: Database) -> None:
    """The PBX's agent SIP accounts from this database (it may have rendered another one's)."""
    from app.acd.provisioning import ProvisioningError, apply_agents

    if not settings.pbx_etc.is_dir():
        return  # the PBX runs elsewhere and renders its own config
    try:
        reloaded = await apply_agents(settings, db)
    except (OSError, ProvisioningError) as exc:
        log.warning("agent SIP accounts not applied: %s", exc)
        return
    log.info("agent SIP accounts written%s", " and reloaded" if reloaded else "")


async def follow_agents(settings: Settings, db: Database, every: float = 3.0) -> None:
    """A cluster node: agents created or changed through another node (or the command line)
    reach this PBX within `every` seconds; one small query per turn, a reload only on change."""
    from app.acd.provisioning import ProvisioningError, apply_agents, load_accounts

    applied: list[tuple[str, str]] | None = None
    while True:
        await asyncio.sleep(every)
        try:
            accounts = await load_accounts(db)
            if accounts != applied and await apply_agents(settings, db):
                applied = accounts
        except (OSError, ProvisioningError, SQLAlchemyError) as exc:
            log.warning("agent SIP accounts not followed: %s", exc)


def recovery_hook(platform: Platform, db: Database) -> Callable[[], Awaitable[None]]:
    """After each (re)connect, once leftover calls are adopted: close the records of calls
    that ended while this process was not there; right after start also free stuck agents."""
    from app.acd.recovery import close_left_behind
    from app.recordings.recovery import finalise_left_behind

    first = True

    async def recover() -> None:
        nonlocal first
        live = set(platform.ari.dispatcher.calls)
        node = platform.settings.instance
        await close_left_behind(db, live, agents=first, node=node)
        recorder = platform.acd.recorder if platform.acd is not None else None
        await finalise_left_behind(platform.settings, db, live.__contains__, recorder, node)
        first = False
        if platform.acd is not None:
            platform.acd.distributor.kick()

    return recover


def recordings_sweep(platform: Platform, db: Database) -> Callable[[], Awaitable[None]]:
    """Now and then: finalise a recording whose call ended without its task finalising it
    (an adopted call that hung up before the new task took the recording over)."""
    from app.recordings.recovery import finalise_left_behind

    async def sweep() -> None:
        recorder = platform.acd.recorder if platform.acd is not None else None
        if recorder is not None:
            await finalise_left_behind(platform.settings, db,
                                       platform.ari.dispatcher.calls.__contains__, recorder,
                                       platform.settings.instance)

    return sweep


def call_handler(db: Database, platform: Callable[[], Platform | None],
                 events: EventFeed, acd: Callable[[], Acd | None] = lambda: None,
                 callback_dial: str = "", throttle: LookupThrottle | None = None,
                 flows: FlowLibrary | None = None, node: str | None = None) -> CallHandler:
    """12306 runs the hotline flow; the echo test line (Stasis argument `echo`) says keys back;
    agents' feature codes (`feature,<code>`) change their state."""
    # Telephony-only imports: the API-only node (`hotline api`) needs no voice.
    from app.acd.callbacks import callback_handler
    from app.acd.features import feature_handler
    from app.ivr.app import ivr_handler
    from app.ivr.listening import CallerSpeech
    from app.ivr.voice import TtsVoice

    if flows is None:
        from app.ivr.loader import FLOWS_DIR

        flows = flow_library(FLOWS_DIR)
    def speech() -> CallerSpeech | None:
        current = platform()
        if current is None or current.speech is None:
            return None
        return CallerSpeech(current.speech, current.taps)

    async def monitor(call: Call) -> None:  # a supervisor's phone answered: listen in
        current = platform()
        if current is not None and current.monitors is not None:
            await current.monitors.run(call)

    handlers = {"echo": echo_digits, "feature": feature_handler(db, events),
                "monitor": monitor}
    if (ours := acd()) is not None:
        handlers["callback"] = callback_handler(ours, callback_dial)
    return route_by_argument(handlers,
                             ivr_handler(flows, db, TtsVoice(), speech, events, acd, throttle,
                                         node))


def flow_library(folder: Path) -> FlowLibrary:
    """Every flow of the folder, checked against the prompts and actions; reloadable."""
    from app.ivr.actions import ACTIONS
    from app.ivr.cli import known_prompts
    from app.ivr.library import FlowLibrary, load_flows

    def load() -> dict[str, Flow]:
        return load_flows(folder, known_prompts(), set(ACTIONS))

    return FlowLibrary(load(), loader=load)


def make_acd(settings: Settings, db: Database, events: EventFeed,
             rest: Callable[[], AriRest]) -> Acd:
    """Agents for queued callers: the routing file, the distributor, the queue runtime."""
    from app.acd.distributor import Distributor
    from app.acd.routing import load_routing
    from app.acd.waiting import Acd

    rules = load_routing(settings.routing_file)
    acd = Acd(db, rules, Distributor(db, rules, events), events, settings.ari_app, rest)
    acd.shared_agents = bool(settings.sip_proxy)
    acd.serve_callbacks()
    return acd


async def start_speech(settings: Settings, db: Database) -> SpeechService | None:
    """Live recognition, its grammars knowing the station names and train numbers."""
    from sqlalchemy import select

    from app.asr.live import speech_service
    from app.db.models import Station, Train

    async with db.session() as session:
        stations = tuple(await session.scalars(select(Station.name)))
        trains = frozenset(await session.scalars(select(Train.number)))
    recordings = settings.pbx_spool / "recording"
    return await speech_service(recordings, stations, trains,
                                answer_within=settings.asr_answer_within,
                                prefill=settings.asr_prefill)


def _stop_requested(signum: int, frame: object) -> None:
    """SIGTERM outside the HTTP server's own handling (before it starts, or re-raised by it
    once its graceful shutdown, the drain included, is over): a clean stop, exit status 0."""
    raise SystemExit(0)


def serve(settings: Settings, start_pbx: bool = False, demo_data: bool = False) -> int:
    setup_logging()
    signal.signal(signal.SIGTERM, _stop_requested)
    if start_pbx:
        sandbox.start(settings)
    try:
        creds = load_credentials(settings)
        db = Database(settings.db_url, settings.db_slow_write_seconds)
        holder: list[Platform] = []  # calls find the platform's speech service through it
        events = EventFeed()
        acd = make_acd(settings, db, events, lambda: holder[0].ari.rest)
        flows = flow_library(settings.flows_dir)
        handler = call_handler(db, lambda: holder[0] if holder else None, events, lambda: acd,
                               settings.callback_dial, LookupThrottle(settings.lookup_policy),
                               flows, settings.instance)
        from app.agi.server import AgiServer

        agi = AgiServer(db, settings.agi_host, settings.agi_port, settings.agi_budget)
        platform = Platform(settings, creds, handler,
                            start_speech=lambda: start_speech(settings, db), events=events,
                            acd=acd, agi=agi)
        platform.flows = flows  # `hotline flows reload` and the API swap them
        holder.append(platform)
        if settings.recording:
            from app.recordings.recorder import Recorder

            acd.recorder = Recorder(settings, db, platform.ami)
            acd.recording_notice = settings.recording_notice
            if settings.recording_analytics:
                from app.recordings.analysis import RecordingAnalytics

                acd.recorder.analytics = RecordingAnalytics(settings, db)
        # A restarted PBX rendered its agents from whatever database it was given: this
        # platform's database is the source of truth, applied on every ARI (re)connect.
        platform.ari.connect_hooks.append(recovery_hook(platform, db))
        platform.ari.connect_hooks.append(lambda: provision_agents(settings, db))
        platform.ari.sweep_hooks.append(recordings_sweep(platform, db))
        config = uvicorn.Config(
            create_app(settings, db, platform),
            host=settings.api_host,
            port=settings.api_port,
            log_config=None,
            access_log=False,
            lifespan="on",
        )
        server = uvicorn.Server(config)

        async def run() -> None:
            await prepare_database(settings, db, demo_data)
            chores: list[asyncio.Task[None]] = []  # referenced for as long as serve runs
            if settings.sip_proxy:
                from app.cluster.heartbeat import keep_watch

                chores.append(asyncio.create_task(follow_agents(settings, db), name="agents"))
                chores.append(asyncio.create_task(keep_watch(
                    db, settings.instance, lambda: platform.health()[0],
                    acd.distributor.kick, silent_after=settings.cluster_silent_after),
                    name="heartbeat"))
            task = asyncio.create_task(server.serve())
            while not server.started and not task.done():
                await asyncio.sleep(0.1)
            if server.started:
                print(banner(settings), flush=True)
            await task

        try:
            asyncio.run(run())
        except KeyboardInterrupt:
            # uvicorn shut down gracefully, then re-raised Ctrl-C: that is a clean stop.
            log.info("stopped by Ctrl-C")
    finally:
        if start_pbx:
            sandbox.stop(settings)
    return 0


def serve_api(settings: Settings) -> int:
    """The data API alone, without the Stasis app (an API-only node, benchmarks), in
    settings.api_workers processes sharing one listening socket."""
    setup_logging()
    db = Database(settings.db_url, settings.db_slow_write_seconds)
    if settings.api_workers > 1 and db.dialect != "postgresql":
        log.error("%d API processes need PostgreSQL: on SQLite the look-up throttle's turn "
                  "on an order is per process (set HOTLINE_API_WORKERS=1, or use PostgreSQL)",
                  settings.api_workers)
        return 2

    async def run() -> None:
        await prepare_database(settings, db, demo_data=False)
        if settings.api_workers > 1:
            await db.dispose()
            return
        config = uvicorn.Config(
            create_app(settings, db), host=settings.api_host, port=settings.api_port,
            log_config=None, access_log=False, lifespan="on",
        )
        await uvicorn.Server(config).serve()

    try:
        event_loop.run(run(), settings.api_event_loop)
        if settings.api_workers > 1:
            # Each process builds its app from the same settings (the environment).
            uvicorn.run("app.server:api_app", factory=True, workers=settings.api_workers,
                        host=settings.api_host, port=settings.api_port,
                        loop=event_loop.loop_factory(settings.api_event_loop)[0],
                        log_config=None, access_log=False, lifespan="on")
    except KeyboardInterrupt:
        log.info("stopped by Ctrl-C")
    return 0


def api_app() -> FastAPI:
    """One process's API app (`hotline api` with several workers)."""
    setup_logging()
    settings = get_settings()
    return create_app(settings, Database(settings.db_url, settings.db_slow_write_seconds))
