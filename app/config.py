"""Settings from HOTLINE_* environment variables, with working defaults for the local sandbox."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path, PurePosixPath
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from app.services.throttle import ThrottlePolicy

REPO_ROOT = Path(__file__).resolve().parent.parent
# Inside the PBX root, each Asterisk instance keeps its own config, sockets, logs, spool and
# astdb here; binaries, modules, music and prompt audio are shared by all instances.
INSTANCES_IN_ROOT = PurePosixPath("/srv/hotline")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HOTLINE_", extra="ignore")

    # Where the PBX sandbox root, secrets and logs live (outside the repository).
    state_dir: Path = Path("/var/lib/hotline")
    pbx_root: Path | None = None
    # The PBX user's uid and gid when the PBX runs elsewhere and pbx_root here only shares its
    # config and sounds (docker/: a volume of the asterisk container, whose account has fixed
    # ids); unset, they are read from the root's own passwd file.
    pbx_uid: int | None = Field(None, ge=0)
    pbx_gid: int | None = Field(None, ge=0)
    # Several instances (e.g. `make run` and the tests) share one PBX root and run side by side
    # with their own state dir and ports.
    instance: str = Field("main", pattern=r"^[a-z0-9][a-z0-9-]{0,30}$")
    debian_mirror: str | None = None
    dialplans_dir: Path = REPO_ROOT / "dialplans"

    # Loopback by default; 0.0.0.0 (or a LAN address) lets softphones on the LAN register.
    sip_bind: str = "127.0.0.1"
    sip_port: int = 5060
    # The address the PBX sends and receives RTP on (callers' and agents'): loopback here; a
    # node serving phones on a network gives its own address there.
    media_address: str = Field("127.0.0.1", pattern=r"^[0-9.]{7,15}$|^[0-9A-Fa-f:]{2,39}$")
    # host:port of the SIP proxy in front of a cluster's nodes (`hotline cluster`): agents
    # register there, and this node rings them through it. Empty: a node of its own.
    sip_proxy: str = Field("", pattern=r"^([A-Za-z0-9.-]{1,253}:[0-9]{1,5})?$")
    # A cluster node whose heartbeat (PBX and app up) stops this many seconds has its calls
    # closed and its agents freed by another node (app/cluster/heartbeat.py).
    cluster_silent_after: float = Field(30.0, ge=5)
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

    # FastAGI server of `hotline serve`, which the dialplan asks before a call reaches Stasis
    # (app/agi); each route answers within agi_budget seconds, with defaults if it must.
    agi_host: str = "127.0.0.1"
    agi_port: int = 4573
    agi_budget: float = Field(0.5, gt=0, le=1.0)

    # SQLite file under state_dir when unset; postgresql://user:pass@host/db for production.
    database_url: str | None = None
    # SQLite: a write transaction holding the database's write lock this many seconds or more
    # is logged (warning) with the code that took the lock; every other writer waits that
    # long. 0: not watched.
    db_slow_write_seconds: float = Field(1.0, ge=0, allow_inf_nan=False)
    # Order look-ups (IVR and API): this many failed verifications within the window lock the
    # order number (and the caller, and the API user) until the oldest failure ages out.
    lookup_max_failures: int = Field(5, ge=1)  # per order number
    lookup_caller_max_failures: int = Field(10, ge=1)  # per calling number
    lookup_user_max_failures: int = Field(50, ge=1)  # per API user (an agent, a remote IVR)
    lookup_failure_window: float = Field(600.0, gt=0)

    # API tokens: lifetime of a new token, and how long a token's owner is remembered between
    # database checks (a revocation takes effect within this time; at most 5 s).
    token_days: float = Field(90.0, gt=0)
    token_cache_seconds: float = Field(2.0, ge=0, le=5)

    # An API-only node's event loop (app.core.event_loop): uvloop, or asyncio's own.
    api_event_loop: Literal["uvloop", "asyncio"] = "uvloop"
    # Processes of an API-only node (`hotline api`); more than one needs PostgreSQL, whose
    # locks make the look-up throttle hold across processes (SQLite's turn is per process).
    api_workers: int = Field(1, ge=1, le=32)
    # Web pages: a login lasts this long (an agent's shift and some), then asks again.
    session_hours: float = Field(12.0, gt=0)

    hotline_number: str = "12306"
    # The engineers' test numbers (echo 12300, plain-dialplan bench menu 12399) exist in the
    # dialplan only when this is on while the PBX config is rendered; `make run`, the tests and
    # the benchmarks turn it on. Off, callers of those numbers hear "not in service".
    dev_lines: bool = False
    # How callbacks reach passengers: a dialplan context engineers point at the trunk.
    callback_dial: str = "Local/{number}@callback-out/n"
    # The sandbox has no trunk: its callback-out context rings test passengers' phones here.
    passenger_port: int = 5080
    # The IVR flows (menu variants): every NAME.yaml here; `hotline flows check` checks them.
    flows_dir: Path = REPO_ROOT / "app" / "ivr" / "flows"
    # Statistics (docs/statistics.md): report dates are whole days in this time zone, and a
    # caller who hangs up within this many seconds of entering a queue is a short abandon
    # (reported apart, neither offered nor abandoned) in the statistics and on the wallboard.
    timezone: str = "Asia/Shanghai"
    short_abandon_seconds: float = Field(5.0, ge=0)
    # Queues, skills, centers and overflow rules (`hotline routing check` validates it).
    routing_file: Path = REPO_ROOT / "app" / "acd" / "routing.yaml"
    # Conversations with agents are recorded (stereo: caller left, agent right); callers
    # waiting for an agent first hear that the call may be recorded.
    recording: bool = True
    recording_notice: bool = True
    # Speech analytics of every finalised recording, in low-priority background threads.
    recording_analytics: bool = True
    # Days a recording is kept when its queue sets no retention_days in the routing file, and
    # for calls that never reached a queue (`hotline recordings purge` deletes older ones).
    recording_retention_days: float = Field(180.0, gt=0, allow_inf_nan=False)
    # QA scorecards 质检评分表: NAME.yaml per scorecard (`hotline qa check` validates them).
    scorecards_dir: Path = REPO_ROOT / "app" / "qa" / "scorecards"
    # A stop (SIGTERM, Ctrl-C) lets calls in progress finish for this long, then ends them.
    drain_seconds: float = Field(30.0, ge=0)
    # End of a caller's speech -> its answer at the latest: what was understood, or "not
    # heard" when the decoders are behind (a burst of callers), so no caller waits on.
    asr_answer_within: float = Field(1.5, gt=0, le=30)
    # Recognisers per mode made in the background after start (8 are made before the first
    # call); each free-speech one costs about a second of CPU. More callers speaking at once
    # than there are made get them made on demand, up to 24.
    asr_prefill: int = Field(24, ge=8, le=24)
    # On: the menu listens only while the caller talks: the PBX's talk detector (TALK_DETECT)
    # on the caller's channel opens the audio tap when it hears the caller, so a silent caller
    # costs neither the PBX nor the platform a stream. The tap opens some 100 ms into the
    # speech, and that start is lost (the first syllable of some utterances), so it is off
    # by default: the tap is then open the whole time the menu listens, with 300 ms kept
    # before the speech. The detector's level is the mean sample magnitude (Asterisk's DSP
    # energy; below our endpointer's speech level, so the tap opens before speech counts).
    listen_on_talk: bool = False
    talk_level: int = Field(128, ge=16, le=2000)
    # Backoff for ARI/AMI reconnects, in seconds.
    reconnect_initial: float = 0.5
    reconnect_max: float = 5.0
    # Speech analytics of recorded calls (app/qa): the keywords spotted in every call, worker
    # threads, and the share of calls also transcribed in full in the background.
    qa_keywords_file: Path = REPO_ROOT / "app" / "qa" / "keywords.yaml"
    qa_analytics_workers: int = Field(1, ge=1)
    qa_transcribe_sample: float = Field(0.0, ge=0.0, le=1.0)

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
    def lookup_policy(self) -> ThrottlePolicy:
        return ThrottlePolicy(self.lookup_max_failures, self.lookup_caller_max_failures,
                              self.lookup_user_max_failures, self.lookup_failure_window)

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
