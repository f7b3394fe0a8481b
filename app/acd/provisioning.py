"""Agents' SIP accounts in the PBX without a restart.

Every enabled agent becomes a pjsip endpoint, auth and aor named agent-NO in the instance's
`pjsip_agents.conf` (pjsip.conf has `#tryinclude pjsip_agents.conf`). The file is written when
the PBX config is rendered and after every agent change, followed by a live reload of
res_pjsip through ARI.

A cluster node (HOTLINE_SIP_PROXY set) does not register or challenge agents: the SIP proxy in
front of the nodes does, from the same HA1s (the `sip_subscribers` view). The node's agent-NO
endpoint then reaches the phone through the proxy (a static contact sip:NO@proxy, which the
proxy resolves from its registrations), and a request the proxy authenticated as agent NO
carries `X-Hotline-Agent: NO`, which names the endpoint.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import threading
from collections.abc import Coroutine, Iterable
from pathlib import Path
from typing import Any, TypeVar

import httpx
from sqlalchemy import inspect

from app.acd.identity import NUMBER, SIP_REALM, endpoint_name
from app.config import Settings
from app.db.session import Database
from app.pbx.secrets import SecretsError, load_credentials

log = logging.getLogger(__name__)

FILE_NAME = "pjsip_agents.conf"
HA1 = re.compile(r"^[0-9a-f]{32}$")
T = TypeVar("T")

# Same media as the anonymous `caller` endpoint in dialplans/pjsip.conf.
ENDPOINT_TEMPLATE = """\
[{name}]
type = endpoint
context = from-agents
disallow = all
allow = ulaw,alaw
dtmf_mode = rfc4733
direct_media = no
rtp_symmetric = yes
rewrite_contact = yes
media_address = {media}
bind_rtp_to_media_address = yes
auth = {name}
aors = {name}
callerid = "{number}" <{number}>

[{name}]
type = auth
auth_type = md5
username = {number}
realm = {realm}
md5_cred = {ha1}

[{name}]
type = aor
max_contacts = 1
remove_existing = yes
qualify_frequency = 0
"""

PROXIED_TEMPLATE = """\
[{name}]
type = endpoint
context = from-agents
disallow = all
allow = ulaw,alaw
dtmf_mode = rfc4733
direct_media = no
rtp_symmetric = yes
rewrite_contact = yes
media_address = {media}
bind_rtp_to_media_address = yes
aors = {name}
callerid = "{number}" <{number}>

[{name}]
type = aor
contact = sip:{name}@{proxy}
qualify_frequency = 0

[{name}]
type = identify
endpoint = {name}
match_header = {header}: {number}
"""
AGENT_HEADER = "X-Hotline-Agent"  # set by the proxy on requests it authenticated
PROXY = re.compile(r"^[A-Za-z0-9.-]{1,253}:[0-9]{1,5}$")
MEDIA = re.compile(r"^[0-9.]{7,15}$|^[0-9A-Fa-f:]{2,39}$")


class ProvisioningError(RuntimeError):
    pass


def render_agents(accounts: Iterable[tuple[str, str]], proxy: str = "",
                  media: str = "127.0.0.1") -> str:
    """The pjsip objects of these (工号, HA1) pairs; both are checked (no config injection).
    `proxy` (host:port): the agents register with that SIP proxy, not with this PBX. `media`:
    the address the PBX sends and receives their RTP on."""
    if proxy and not PROXY.match(proxy):
        raise ProvisioningError(f"HOTLINE_SIP_PROXY {proxy!r} is not host:port")
    if not MEDIA.match(media):
        raise ProvisioningError(f"HOTLINE_MEDIA_ADDRESS {media!r} is not an IP address")
    parts = ["; Agents' SIP accounts, written from the database by the platform: do not edit.\n"
             "; Change agents with `hotline agents ...`.\n"]
    for number, ha1 in accounts:
        if not NUMBER.match(number) or not HA1.match(ha1):
            raise ProvisioningError(f"agent {number!r} has a malformed 工号 or SIP credential")
        if proxy:
            parts.append(PROXIED_TEMPLATE.format(name=endpoint_name(number), number=number,
                                                 proxy=proxy, header=AGENT_HEADER, media=media))
        else:
            parts.append(ENDPOINT_TEMPLATE.format(name=endpoint_name(number), number=number,
                                                  realm=SIP_REALM, ha1=ha1, media=media))
    return "\n".join(parts)


def write_agents_file(target_dir: Path, accounts: Iterable[tuple[str, str]],
                      proxy: str = "", media: str = "127.0.0.1") -> Path:
    """Write the file atomically (a reload never reads half of it); it holds HA1s, so only root
    and the PBX's group (the config dir's, see sandbox.share_config) read it."""
    text = render_agents(accounts, proxy, media)
    target_dir.mkdir(parents=True, exist_ok=True)
    path = target_dir / FILE_NAME
    tmp = path.with_suffix(".tmp")
    tmp.unlink(missing_ok=True)
    # Created with its final mode: the HA1s are never readable by others, not even briefly.
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o640)
    os.fchmod(fd, 0o640)  # whatever the umask took away
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    tmp.replace(path)
    return path


async def load_accounts(db: Database) -> list[tuple[str, str]]:
    """Enabled agents' (工号, HA1); none when the database has no agents table yet."""
    from app.acd.agents import sip_accounts

    async with db.engine.connect() as conn:
        has_table = await conn.run_sync(lambda c: inspect(c).has_table("agents"))
    if not has_table:
        return []
    async with db.session() as session:
        return await sip_accounts(session)


def _run(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine from sync code, also when called inside a running event loop. Always in
    a thread of its own: asyncio.run here would leave this thread without an event loop, which
    code that later asks for the current loop (panoramisk's FastAGI server) cannot take."""
    result: list[T] = []
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            result.append(asyncio.run(coro))
        except BaseException as exc:  # handed back to the caller below
            errors.append(exc)

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join()
    if errors:
        raise errors[0]
    return result[0]


def _database_exists(url: str) -> bool:
    # Rendering must not create an empty SQLite file where no database is yet.
    if url.startswith("sqlite:///"):
        return Path(url[len("sqlite:///"):]).exists()
    return True


def render_agents_file(settings: Settings) -> Path:
    """pjsip_agents.conf from the database into the instance's config dir (sync, for render)."""
    url = settings.db_url
    accounts: list[tuple[str, str]] = []
    if _database_exists(url):
        async def load() -> list[tuple[str, str]]:
            db = Database(url)
            try:
                return await load_accounts(db)
            finally:
                await db.dispose()

        accounts = _run(load())
    return write_agents_file(settings.pbx_etc, accounts, settings.sip_proxy,
                             settings.media_address)


async def reload_pjsip(settings: Settings) -> bool:
    """Reload res_pjsip in the running PBX (ARI); False when the PBX is not reachable."""
    try:
        creds = load_credentials(settings)
    except SecretsError as exc:  # no secrets yet: the PBX never started here
        log.info("PBX credentials not available (%s); SIP accounts apply at next start", exc)
        return False
    url = f"{settings.ari_base_url}/asterisk/modules/res_pjsip.so"
    try:
        async with httpx.AsyncClient(timeout=10) as client:
            resp = await client.put(url, auth=(settings.ari_user, creds.ari_password))
    except httpx.HTTPError as exc:
        log.info("PBX not reachable (%s); SIP accounts apply at next start", exc)
        return False
    if resp.status_code != 204:
        raise ProvisioningError(
            f"the PBX refused to reload res_pjsip ({resp.status_code} {resp.text.strip()}); "
            "see `hotline pbx logs`"
        )
    return True


async def apply_agents(settings: Settings, db: Database) -> bool:
    """Write the agents' SIP accounts from db and reload the PBX; True when it reloaded."""
    accounts = await load_accounts(db)
    await asyncio.to_thread(write_agents_file, settings.pbx_etc, accounts, settings.sip_proxy,
                            settings.media_address)
    return await reload_pjsip(settings)
