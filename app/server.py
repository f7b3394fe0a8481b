"""`hotline serve`: Stasis app, AMI link and HTTP API in one asyncio process."""

from __future__ import annotations

import asyncio
import logging

import uvicorn

from app.api.main import create_app
from app.config import Settings
from app.logs import setup_logging
from app.pbx import sandbox
from app.pbx.secrets import load_credentials
from app.platform import Platform

log = logging.getLogger(__name__)


def banner(settings: Settings) -> str:
    api = f"http://{settings.api_host}:{settings.api_port}"
    return (
        "\n  Hotline is up.\n"
        f"  Call it:   .venv/bin/hotline call --to {settings.hotline_number} "
        "--dtmf 1,2,3 --hold 2\n"
        f"  API docs:  {api}/docs    health: {api}/healthz\n"
        "  Stop:      Ctrl-C\n"
    )


def serve(settings: Settings, start_pbx: bool = False) -> int:
    setup_logging()
    if start_pbx:
        sandbox.start(settings)
    try:
        creds = load_credentials(settings)
        platform = Platform(settings, creds)
        config = uvicorn.Config(
            create_app(platform), host=settings.api_host, port=settings.api_port,
            log_config=None, access_log=False, lifespan="on",
        )
        server = uvicorn.Server(config)

        async def run() -> None:
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
