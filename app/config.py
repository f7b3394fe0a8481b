"""Settings from HOTLINE_* environment variables, with working defaults for the local sandbox."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path, PurePosixPath

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent
# Inside the PBX root, each Asterisk instance keeps its own config, sockets, logs, spool and
# astdb here; binaries, modules, music and prompt audio are shared by all instances.
INSTANCES_IN_ROOT = PurePosixPath("/srv/hotline")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HOTLINE_", extra="ignore")

    # Where the PBX sandbox root, secrets and logs live (outside the repository).
    state_dir: Path = Path("/var/lib/hotline")
    pbx_root: Path | None = None
    # Several instances (e.g. `make run` and the tests) share one PBX root and run side by side
    # with their own state dir and ports.
    instance: str = Field("main", pattern=r"^[a-z0-9][a-z0-9-]{0,30}$")
    debian_mirror: str | None = None
    dialplans_dir: Path = REPO_ROOT / "dialplans"

    # Loopback by default; 0.0.0.0 (or a LAN address) lets softphones on the LAN register.
    sip_bind: str = "127.0.0.1"
    sip_port: int = 5060
    rtp_start: int = 10000
    rtp_end: int = 20000
    # The PBX hangs up a caller whose RTP has stopped for this many seconds (a phone sends
    # media all call long, silence included), and after rtp_timeout_hold while the caller's
    # phone has the call on hold (it may send nothing then); 0 turns the check off.
    rtp_timeout: int = Field(30, ge=0)
    rtp_timeout_hold: int = Field(300, ge=0)
    ari_host: str = "127.0.0.1"
    ari_port: int = 8088
    ari_user: str = "hotline"
    ari_password: str | None = None  # generated on first run when unset
    ari_app: str = "hotline"
    ami_host: str = "127.0.0.1"
    ami_port: int = 5038
    ami_user: str = "hotline"
    ami_secret: str | None = None  # generated on first run when unset

    api_host: str = "127.0.0.1"
    api_port: int = 8000

    # SQLite file under state_dir when unset; postgresql://user:pass@host/db for production.
    database_url: str | None = None
    # Ticket lookups: this many failed verifications per client within the window -> 429.
    lookup_max_failures: int = 5
    lookup_failure_window: float = 600.0

    hotline_number: str = "12306"
    # How callbacks reach passengers: a dialplan context engineers point at the trunk.
    callback_dial: str = "Local/{number}@callback-out/n"
    # The sandbox has no trunk: its callback-out context rings test passengers' phones here.
    passenger_port: int = 5080
    # Queues, skills, centers and overflow rules (`hotline routing check` validates it).
    routing_file: Path = REPO_ROOT / "app" / "acd" / "routing.yaml"
    # Backoff for ARI/AMI reconnects, in seconds.
    reconnect_initial: float = 0.5
    reconnect_max: float = 5.0

    @property
    def root(self) -> Path:
        return self.pbx_root or self.state_dir / "pbx-root"

    @property
    def pbx_dir(self) -> PurePosixPath:
        """This instance's directory as Asterisk sees it (inside the chroot)."""
        return INSTANCES_IN_ROOT / self.instance

    def in_root(self, path: PurePosixPath) -> Path:
        """The host path of a path inside the PBX root."""
        return self.root / path.relative_to("/")

    @property
    def pbx_etc(self) -> Path:
        return self.in_root(self.pbx_dir / "etc")

    @property
    def pbx_spool(self) -> Path:
        return self.in_root(self.pbx_dir / "spool")

    @property
    def secrets_file(self) -> Path:
        return self.state_dir / "secrets.json"

    @property
    def db_url(self) -> str:
        return self.database_url or f"sqlite:///{self.state_dir / 'hotline.db'}"

    @property
    def local_token_file(self) -> Path:
        """The local engineer's API token (`hotline call` uses it to find its call)."""
        return self.state_dir / "local-engineer.token"

    @property
    def ari_base_url(self) -> str:
        return f"http://{self.ari_host}:{self.ari_port}/ari"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
