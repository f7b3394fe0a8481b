"""The running platform: the Stasis app's ARI client and the AMI link, started together."""

from __future__ import annotations

import logging

from app.ami.link import AmiLink
from app.ari_handlers.client import AriClient
from app.ari_handlers.dispatch import CallHandler
from app.config import Settings
from app.pbx.secrets import Credentials

log = logging.getLogger(__name__)


class Platform:
    def __init__(self, settings: Settings, creds: Credentials, handler: CallHandler) -> None:
        self.settings = settings
        self.ari = AriClient(
            settings.ari_base_url, settings.ari_app, settings.ari_user, creds.ari_password,
            handler, backoff_initial=settings.reconnect_initial,
            backoff_max=settings.reconnect_max,
        )
        self.ami = AmiLink(settings.ami_host, settings.ami_port, settings.ami_user,
                           creds.ami_secret, reconnect=settings.reconnect_initial)

    async def start(self) -> None:
        self.ari.start()
        self.ami.start()
        log.info(
            "Stasis app %r connecting to %s", self.settings.ari_app, self.settings.ari_base_url
        )

    async def stop(self) -> None:
        await self.ari.stop()
        await self.ami.stop()
        log.info("platform stopped")
