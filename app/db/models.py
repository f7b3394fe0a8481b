"""The railway's data: stations, trains, runs, orders and tickets, lost-and-found, work orders."""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from app.core.calltrace import EndedBy
from app.core.trains import TrainType


class Base(DeclarativeBase):
    pass


def _enum(cls: type[enum.Enum]) -> Enum:
    # Stored as plain strings so SQLite and PostgreSQL share one schema and migration.
    return Enum(
        cls,
        native_enum=False,
        length=20,
        values_callable=lambda e: [m.value for m in e],
        validate_strings=True,
    )


class RunStatus(enum.StrEnum):
    ON_TIME = "on_time"
    DELAYED = "delayed"
    CANCELLED = "cancelled"


class TicketStatus(enum.StrEnum):
    PAID = "paid"
    CHANGED = "changed"
    REFUNDED = "refunded"
    USED = "used"
    WAITLISTED = "waitlisted"


class ItemStatus(enum.StrEnum):
    HELD = "held"
    CLAIMED = "claimed"
    SHIPPED = "shipped"
    DISPOSED = "disposed"


class WorkOrderType(enum.StrEnum):
    CONSULTATION = "consultation"
    COMPLAINT = "complaint"
    HELP = "help"
    LOST_ITEM = "lost_item"
    PRAISE = "praise"
    SUGGESTION = "suggestion"


class Channel(enum.StrEnum):
    VOICE = "voice"
    WEB = "web"
    SMS = "sms"


class WorkOrderStatus(enum.StrEnum):
    NEW = "new"
    ASSIGNED = "assigned"
    IN_PROGRESS = "in_progress"
    RESOLVED = "resolved"
    CLOSED = "closed"
    REOPENED = "reopened"


class Role(enum.StrEnum):
    IVR = "ivr"
    AGENT = "agent"
    QA = "qa"
    SUPERVISOR = "supervisor"
    ENGINEER = "engineer"
    ADMIN = "admin"


class Station(Base):
    __tablename__ = "stations"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(40), unique=True)
    code: Mapped[str] = mapped_column(String(8), unique=True)
    city: Mapped[str] = mapped_column(String(40))


class Train(Base):
    __tablename__ = "trains"
    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(10), unique=True)
    type: Mapped[TrainType] = mapped_column(_enum(TrainType))
    stops: Mapped[list[TrainStop]] = relationship(
        back_populates="train", order_by="TrainStop.seq", cascade="all, delete-orphan"
    )


class TrainStop(Base):
    __tablename__ = "train_stops"
    __table_args__ = (
        UniqueConstraint("train_id", "seq"),
        Index("ix_train_stops_station", "station_id"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    train_id: Mapped[int] = mapped_column(ForeignKey("trains.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)
    station_id: Mapped[int] = mapped_column(ForeignKey("stations.id"))
    # Minutes after midnight of the run's departure day; may exceed 1440 on overnight trains.
    arrive_min: Mapped[int | None] = mapped_column(Integer)
    depart_min: Mapped[int | None] = mapped_column(Integer)
    train: Mapped[Train] = relationship(back_populates="stops")
    station: Mapped[Station] = relationship()


class TrainRun(Base):
    __tablename__ = "train_runs"
    __table_args__ = (UniqueConstraint("train_id", "run_date"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    train_id: Mapped[int] = mapped_column(ForeignKey("trains.id"))
    run_date: Mapped[date] = mapped_column(Date, index=True)
    status: Mapped[RunStatus] = mapped_column(_enum(RunStatus), default=RunStatus.ON_TIME)
    delay_minutes: Mapped[int] = mapped_column(Integer, default=0)
    last_station_id: Mapped[int | None] = mapped_column(ForeignKey("stations.id"))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    train: Mapped[Train] = relationship()
    last_station: Mapped[Station | None] = relationship()


class Order(Base):
    __tablename__ = "orders"
    id: Mapped[int] = mapped_column(primary_key=True)
    order_no: Mapped[str] = mapped_column(String(10), unique=True)  # E + 9 digits
    passenger_name: Mapped[str] = mapped_column(String(40))
    # Kept whole for verification; every response and log line shows them masked.
    id_number: Mapped[str] = mapped_column(String(18))
    phone: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    tickets: Mapped[list[Ticket]] = relationship(back_populates="order", order_by="Ticket.id")


class Ticket(Base):
    __tablename__ = "tickets"
    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("train_runs.id"), index=True)
    from_station_id: Mapped[int] = mapped_column(ForeignKey("stations.id"))
    to_station_id: Mapped[int] = mapped_column(ForeignKey("stations.id"))
    coach: Mapped[str] = mapped_column(String(4))
    seat: Mapped[str] = mapped_column(String(6))
    seat_class: Mapped[str] = mapped_column(String(10))
    price_cents: Mapped[int] = mapped_column(Integer)
    status: Mapped[TicketStatus] = mapped_column(_enum(TicketStatus))
    order: Mapped[Order] = relationship(back_populates="tickets")
    run: Mapped[TrainRun] = relationship()
    from_station: Mapped[Station] = relationship(foreign_keys=[from_station_id])
    to_station: Mapped[Station] = relationship(foreign_keys=[to_station_id])


class FoundItem(Base):
    __tablename__ = "found_items"
    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("train_runs.id"), index=True)
    coach: Mapped[str | None] = mapped_column(String(4))
    description: Mapped[str] = mapped_column(Text)
    category: Mapped[str] = mapped_column(String(20))
    kept_at_station_id: Mapped[int] = mapped_column(ForeignKey("stations.id"))
    status: Mapped[ItemStatus] = mapped_column(_enum(ItemStatus), default=ItemStatus.HELD)
    found_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    run: Mapped[TrainRun | None] = relationship()
    kept_at: Mapped[Station] = relationship()


class LostReport(Base):
    __tablename__ = "lost_reports"
    id: Mapped[int] = mapped_column(primary_key=True)
    description: Mapped[str] = mapped_column(Text)
    contact_phone: Mapped[str] = mapped_column(String(20))
    train_number: Mapped[str | None] = mapped_column(String(10))
    travel_date: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    work_order_id: Mapped[int | None] = mapped_column(ForeignKey("work_orders.id"))


class WorkOrder(Base):
    __tablename__ = "work_orders"
    __table_args__ = (Index("ix_work_orders_status_created", "status", "created_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(20), unique=True)
    type: Mapped[WorkOrderType] = mapped_column(_enum(WorkOrderType))
    channel: Mapped[Channel] = mapped_column(_enum(Channel))
    caller_number: Mapped[str | None] = mapped_column(String(20))
    content: Mapped[str] = mapped_column(Text)
    call_id: Mapped[str | None] = mapped_column(String(64), index=True)
    recording: Mapped[str | None] = mapped_column(String(255))
    priority: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[WorkOrderStatus] = mapped_column(_enum(WorkOrderStatus))
    assigned_unit: Mapped[str | None] = mapped_column(String(60))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    events: Mapped[list[WorkOrderEvent]] = relationship(
        back_populates="work_order", order_by="WorkOrderEvent.id"
    )


class WorkOrderEvent(Base):
    __tablename__ = "work_order_events"
    id: Mapped[int] = mapped_column(primary_key=True)
    work_order_id: Mapped[int] = mapped_column(ForeignKey("work_orders.id"), index=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    actor: Mapped[str] = mapped_column(String(60))
    action: Mapped[str] = mapped_column(String(20))  # created, transition, comment
    from_status: Mapped[str | None] = mapped_column(String(20))
    to_status: Mapped[str | None] = mapped_column(String(20))
    note: Mapped[str | None] = mapped_column(Text)
    data: Mapped[dict[str, object] | None] = mapped_column(JSON)
    work_order: Mapped[WorkOrder] = relationship(back_populates="events")


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(60), unique=True)
    role: Mapped[Role] = mapped_column(_enum(Role))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # Salted scrypt (app.services.auth.hash_password); only users who log in with one have it.
    password_hash: Mapped[str | None] = mapped_column(String(200))


class ApiToken(Base):
    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    # Only a hash is stored; the token is shown once when created.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(12))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # After this the token is refused (hotline users token --days; HOTLINE_TOKEN_DAYS).
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)
    user: Mapped[User] = relationship()


class CallOutcome(enum.StrEnum):
    SELF_SERVICE = "self_service"  # the caller got what they called for without an agent
    TRANSFERRED = "transferred"  # handed to an agent queue (reason in outcome_reason)
    ABANDONED = "abandoned"  # hung up while waiting for an agent
    HUNG_UP_IN_MENU = "hung_up_in_menu"  # left before finishing anything
    ERROR = "error"
    # Ended by the platform or the network before the caller was served (see EndedBy):
    PLATFORM_SHUTDOWN = "platform_shutdown"
    PLATFORM_RESTART = "platform_restart"
    PBX_RESTART = "pbx_restart"
    MEDIA_TIMEOUT = "media_timeout"


class CallRecord(Base):
    __tablename__ = "calls"
    __table_args__ = (Index("ix_calls_started", "started_at"),)
    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # the PBX channel id
    caller: Mapped[str] = mapped_column(String(40), index=True)
    called: Mapped[str] = mapped_column(String(40))
    sip_call_id: Mapped[str | None] = mapped_column(String(255), index=True)
    language: Mapped[str] = mapped_column(String(5), default="zh")
    priority: Mapped[bool] = mapped_column(Boolean, default=False)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    answered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    outcome: Mapped[CallOutcome | None] = mapped_column(_enum(CallOutcome))
    outcome_reason: Mapped[str | None] = mapped_column(String(200))
    ended_by: Mapped[EndedBy | None] = mapped_column(_enum(EndedBy))
    # The platform node (HOTLINE_INSTANCE) whose PBX carries the call: in a cluster each node
    # recovers only its own calls. None: a record from before nodes were kept (anyone's).
    node: Mapped[str | None] = mapped_column(String(31), index=True)
    steps: Mapped[list[CallStep]] = relationship(
        back_populates="call", order_by="CallStep.seq", cascade="all, delete-orphan"
    )


class PlatformNode(Base):
    """A node of a cluster (HOTLINE_INSTANCE), as long as its PBX and app are up: a node
    silent for long has its calls closed by another (app.cluster.heartbeat)."""

    __tablename__ = "platform_nodes"
    name: Mapped[str] = mapped_column(String(31), primary_key=True)
    seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # When another node closed what this one left open after it fell silent; None once it is
    # back (or never silent).
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    closed_by: Mapped[str | None] = mapped_column(String(31))


class CallStep(Base):
    __tablename__ = "call_steps"
    __table_args__ = (UniqueConstraint("call_id", "seq"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[str] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    kind: Mapped[str] = mapped_column(String(20))
    detail: Mapped[dict[str, object]] = mapped_column(JSON)
    call: Mapped[CallRecord] = relationship(back_populates="steps")


class QueueResult(enum.StrEnum):
    CONNECTED = "connected"  # an agent answered
    ABANDONED = "abandoned"  # the caller hung up while waiting
    CALLBACK = "callback"  # the caller chose to be called back
    MESSAGE = "message"  # the caller left a message instead of waiting
    NO_AGENTS = "no_agents"  # nobody could take it (no agent logged in, or wait exceeded)
    ENDED_BY_PLATFORM = "ended_by_platform"  # the platform ended the wait (shutdown, error)
    PLATFORM_RESTART = "platform_restart"  # the call ended while the platform was down
    PBX_RESTART = "pbx_restart"  # the PBX went away under the waiting caller
    MEDIA_TIMEOUT = "media_timeout"  # the caller's audio stopped
    # A callback attempt (kind callback) that did not connect:
    AGENT_MISSED = "agent_missed"  # the agent rung for it did not answer
    UNREACHED = "unreached"  # the agent answered, the passenger was not reached


class OfferKind(enum.StrEnum):
    LIVE = "live"  # a caller waiting on the line
    CALLBACK = "callback"  # one callback attempt ringing an agent (docs/statistics.md)


class QueueEntry(Base):
    __tablename__ = "queue_entries"
    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[str] = mapped_column(ForeignKey("calls.id"), index=True)
    queue: Mapped[str] = mapped_column(String(40))
    priority: Mapped[bool] = mapped_column(Boolean, default=False)
    reason: Mapped[str] = mapped_column(String(200))
    entered_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    left_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    result: Mapped[QueueResult | None] = mapped_column(_enum(QueueResult))
    skill: Mapped[str | None] = mapped_column(String(20))
    center_id: Mapped[int | None] = mapped_column(
        ForeignKey("centers.id", name="fk_queue_entries_center_id")
    )  # origin center
    overflow_from_center_id: Mapped[int | None] = mapped_column(
        ForeignKey("centers.id", name="fk_queue_entries_overflow_from_center_id")
    )
    overflow_to_center_id: Mapped[int | None] = mapped_column(
        ForeignKey("centers.id", name="fk_queue_entries_overflow_to_center_id")
    )
    wait_seconds: Mapped[float | None] = mapped_column(Float)  # null while waiting
    answered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Statistics count each entry as one offer: a live wait, or a callback attempt.
    kind: Mapped[OfferKind] = mapped_column(_enum(OfferKind), default=OfferKind.LIVE,
                                            server_default=OfferKind.LIVE.value)
    callback_id: Mapped[int | None] = mapped_column(
        ForeignKey("callbacks.id", name="fk_queue_entries_callback_id"), index=True)
    # Set when an agent transferred the caller into this queue (blind transfer): the agent leg
    # that handed the caller on. Statistics tell transfers from callers' own entries by it.
    transferred_from_leg_id: Mapped[int | None] = mapped_column(
        ForeignKey("agent_legs.id", name="fk_queue_entries_transferred_from_leg_id",
                   use_alter=True)
    )


class Center(Base):
    """A regional contact center (北京, 上海, 太原): agents belong to one; overflow moves calls."""

    __tablename__ = "centers"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(40), unique=True)
    code: Mapped[str] = mapped_column(String(8), unique=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    # IANA zone name; shift times and the center's days are read in it.
    timezone: Mapped[str] = mapped_column(String(40), default="Asia/Shanghai",
                                          server_default="Asia/Shanghai")


class Agent(Base):
    __tablename__ = "agents"
    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(6), unique=True)  # 工号, 4-6 digits
    name: Mapped[str] = mapped_column(String(60))
    center_id: Mapped[int] = mapped_column(ForeignKey("centers.id"), index=True)
    expert: Mapped[bool] = mapped_column(Boolean, default=False)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    # md5("NO:hotline:password") for SIP digest auth; the password itself is never stored.
    sip_ha1: Mapped[str] = mapped_column(String(32))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    center: Mapped[Center] = relationship()
    skills: Mapped[list[AgentSkill]] = relationship(
        order_by="AgentSkill.skill", cascade="all, delete-orphan"
    )
    user: Mapped[User | None] = relationship()


class AgentSkill(Base):
    __tablename__ = "agent_skills"
    __table_args__ = (UniqueConstraint("agent_id", "skill"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"), index=True)
    skill: Mapped[str] = mapped_column(String(20))
    level: Mapped[int] = mapped_column(Integer)  # 1-9


class AgentStateName(enum.StrEnum):
    LOGGED_OUT = "logged_out"
    READY = "ready"
    RINGING = "ringing"
    ON_CALL = "on_call"
    WRAP_UP = "wrap_up"
    PAUSED = "paused"


class AgentState(Base):
    """Each agent's current state (one row per agent), kept for routing and the wallboard."""

    __tablename__ = "agent_states"
    id: Mapped[int] = mapped_column(primary_key=True)
    agent_id: Mapped[int] = mapped_column(
        ForeignKey("agents.id", ondelete="CASCADE"), unique=True
    )
    state: Mapped[AgentStateName] = mapped_column(_enum(AgentStateName))
    reason: Mapped[str | None] = mapped_column(String(40))
    since: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # Longest-idle routing picks the ready agent whose last call ended first.
    last_call_end_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    missed_in_row: Mapped[int] = mapped_column(Integer, default=0)


class AgentStateEvent(Base):
    __tablename__ = "agent_state_events"
    __table_args__ = (Index("ix_agent_state_events_agent_at", "agent_id", "at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"))
    state: Mapped[AgentStateName] = mapped_column(_enum(AgentStateName))
    reason: Mapped[str | None] = mapped_column(String(40))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    by: Mapped[str] = mapped_column(String(20))  # self, supervisor, feature_code, system


class AgentLegResult(enum.StrEnum):
    ANSWERED = "answered"
    NO_ANSWER = "no_answer"
    REJECTED = "rejected"
    FAILED = "failed"


class AgentLegKind(enum.StrEnum):
    QUEUE = "queue"  # the distributor offered the waiting caller to this agent
    TRANSFER = "transfer"  # an agent transferred the caller to this agent (blind)
    CONSULT = "consult"  # an agent consulted this agent while the caller held


class TransferKind(enum.StrEnum):
    BLIND = "blind"
    CONSULT = "consult"


class AgentLeg(Base):
    """One attempt to reach an agent for a queued call, and the talk that followed.

    talk_seconds excludes the time the caller spent on hold (hold_seconds, hold_count), so
    handling time is talk + hold + wrap-up. A leg that handed the caller on names the
    transfer (kind and target); the leg it went to points back with from_leg_id.
    """

    __tablename__ = "agent_legs"
    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[str] = mapped_column(ForeignKey("calls.id"), index=True)
    queue_entry_id: Mapped[int | None] = mapped_column(ForeignKey("queue_entries.id"), index=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id"), index=True)
    channel_id: Mapped[str | None] = mapped_column(String(64))
    ring_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    answer_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    end_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    result: Mapped[AgentLegResult | None] = mapped_column(_enum(AgentLegResult))
    talk_seconds: Mapped[float | None] = mapped_column(Float)
    hold_seconds: Mapped[float | None] = mapped_column(Float)
    wrap_up_seconds: Mapped[float | None] = mapped_column(Float)
    kind: Mapped[AgentLegKind] = mapped_column(_enum(AgentLegKind), default=AgentLegKind.QUEUE)
    hold_count: Mapped[int] = mapped_column(Integer, default=0)
    from_leg_id: Mapped[int | None] = mapped_column(
        ForeignKey("agent_legs.id", name="fk_agent_legs_from_leg_id"))
    transfer_kind: Mapped[TransferKind | None] = mapped_column(_enum(TransferKind))
    transfer_queue: Mapped[str | None] = mapped_column(String(40))
    transfer_agent_id: Mapped[int | None] = mapped_column(
        ForeignKey("agents.id", name="fk_agent_legs_transfer_agent_id"))


class CallbackStatus(enum.StrEnum):
    PENDING = "pending"
    IN_PROGRESS = "in_progress"
    DONE = "done"
    FAILED = "failed"


class Callback(Base):
    __tablename__ = "callbacks"
    __table_args__ = (Index("ix_callbacks_status_next", "status", "next_attempt_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[str | None] = mapped_column(ForeignKey("calls.id"), index=True)
    number: Mapped[str] = mapped_column(String(40))
    queue: Mapped[str] = mapped_column(String(40))
    skill: Mapped[str | None] = mapped_column(String(20))
    center_id: Mapped[int | None] = mapped_column(ForeignKey("centers.id"))
    context: Mapped[dict[str, object] | None] = mapped_column(JSON)
    requested_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    status: Mapped[CallbackStatus] = mapped_column(_enum(CallbackStatus))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_result: Mapped[str | None] = mapped_column(String(40))
    done_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class RecordingStatus(enum.StrEnum):
    RECORDING = "recording"  # the PBX is writing it
    READY = "ready"  # finalised: a verified WAV with its checksum
    PARTIAL = "partial"  # finalised from what was written before a crash
    MISSING = "missing"  # the PBX wrote nothing (or the file is gone)
    PURGED = "purged"  # deleted under the retention rules (the row is the audit trail)


class Recording(Base):
    """One call's conversation with agents: stereo WAV, caller left, agent right."""

    __tablename__ = "recordings"
    __table_args__ = (Index("ix_recordings_started", "started_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[str] = mapped_column(ForeignKey("calls.id"), unique=True)
    queue: Mapped[str | None] = mapped_column(String(40))
    center_id: Mapped[int | None] = mapped_column(ForeignKey("centers.id"))
    status: Mapped[RecordingStatus] = mapped_column(_enum(RecordingStatus))
    raw_path: Mapped[str] = mapped_column(String(300))  # what the PBX writes (host path)
    path: Mapped[str | None] = mapped_column(String(300))  # the WAV, under the recordings dir
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    duration_seconds: Mapped[float | None] = mapped_column(Float)
    size_bytes: Mapped[int | None] = mapped_column(Integer)
    sha256: Mapped[str | None] = mapped_column(String(64))
    channels: Mapped[int | None] = mapped_column(Integer)
    sample_rate: Mapped[int | None] = mapped_column(Integer)
    # Paused spans, seconds from the start: [[from, to], ...] (silence in the file).
    pauses: Mapped[list[list[float]]] = mapped_column(JSON, default=list)
    purged_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    segments: Mapped[list[RecordingSegment]] = relationship(
        back_populates="recording", order_by="RecordingSegment.start_offset",
        cascade="all, delete-orphan")


class RecordingSegment(Base):
    """The part of a recording one agent leg talked in (seconds from the recording's start)."""

    __tablename__ = "recording_segments"
    id: Mapped[int] = mapped_column(primary_key=True)
    recording_id: Mapped[int] = mapped_column(
        ForeignKey("recordings.id", ondelete="CASCADE"), index=True)
    leg_id: Mapped[int] = mapped_column(ForeignKey("agent_legs.id"))
    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id"), index=True)
    start_offset: Mapped[float] = mapped_column(Float)
    end_offset: Mapped[float | None] = mapped_column(Float)
    recording: Mapped[Recording] = relationship(back_populates="segments")


class RecordingAccess(Base):
    """Who listened to, downloaded, exported, paused or deleted which recording, and when."""

    __tablename__ = "recording_access"
    __table_args__ = (Index("ix_recording_access_at", "at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    recording_id: Mapped[int] = mapped_column(ForeignKey("recordings.id"), index=True)
    actor: Mapped[str] = mapped_column(String(60))  # a user name, or "system"/"cli"
    action: Mapped[str] = mapped_column(String(20))  # listen, download, export, pause, purge...
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    detail: Mapped[str | None] = mapped_column(String(200))
# --- quality assurance 质检: scorecards and evaluations (app/qa) ---------------------------


class QaScorecard(Base):
    """A scorecard as evaluations were made with it: its file's definition is kept, so an
    evaluation reads the same after the file changes (a change gets a new version)."""

    __tablename__ = "qa_scorecards"
    __table_args__ = (UniqueConstraint("name", "version"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(40))
    version: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))  # of the file's text
    title: Mapped[str] = mapped_column(String(200))
    definition: Mapped[dict[str, object]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class QaEvaluation(Base):
    """One evaluator's scoring of a call (and of its agent, when an agent took it)."""

    __tablename__ = "qa_evaluations"
    __table_args__ = (Index("ix_qa_evaluations_agent_created", "agent_id", "created_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[str] = mapped_column(ForeignKey("calls.id"), index=True)
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id"))
    # The agent's center when evaluated: team averages keep their history if the agent moves.
    center_id: Mapped[int | None] = mapped_column(ForeignKey("centers.id"), index=True)
    scorecard_id: Mapped[int] = mapped_column(ForeignKey("qa_scorecards.id"))
    evaluator_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    total_score: Mapped[float] = mapped_column(Float)  # 0-100, computed by app.qa.scoring
    critical_failed: Mapped[bool] = mapped_column(Boolean, default=False)
    comment: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    acknowledged_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    answers: Mapped[list[QaAnswer]] = relationship(
        order_by="QaAnswer.id", cascade="all, delete-orphan"
    )
    scorecard: Mapped[QaScorecard] = relationship()
    evaluator: Mapped[User] = relationship()
    agent: Mapped[Agent | None] = relationship()
    center: Mapped[Center | None] = relationship()
    call: Mapped[CallRecord] = relationship()


class QaAnswer(Base):
    __tablename__ = "qa_answers"
    __table_args__ = (UniqueConstraint("evaluation_id", "question"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    evaluation_id: Mapped[int] = mapped_column(
        ForeignKey("qa_evaluations.id", ondelete="CASCADE"), index=True
    )
    question: Mapped[str] = mapped_column(String(40))  # question or critical item id
    points: Mapped[float | None] = mapped_column(Float)  # null: N/A, or a critical item
    na: Mapped[bool] = mapped_column(Boolean, default=False)
    failed: Mapped[bool | None] = mapped_column(Boolean)  # critical items only
    comment: Mapped[str | None] = mapped_column(Text)


class RecordingAnalysis(Base):
    """Speech analytics of one recording: tier `quick` (voice activity, keywords) for every
    call, `full` (timed transcript) on demand or sampled."""

    __tablename__ = "recording_analyses"
    __table_args__ = (UniqueConstraint("recording_id", "tier"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    recording_id: Mapped[int] = mapped_column(
        ForeignKey("recordings.id", ondelete="CASCADE"), index=True)
    tier: Mapped[str] = mapped_column(String(10))
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # Keywords heard (space-separated) and the transcript's text: searchable with LIKE.
    keywords: Mapped[str] = mapped_column(String(400), default="")
    text: Mapped[str] = mapped_column(Text, default="")
    error: Mapped[str | None] = mapped_column(String(300))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
class LookupFailure(Base):
    """One failed order verification, kept for the throttle's window (app.services.throttle).

    Only failures are written, so a correct look-up stays a read. `key` names what is throttled:
    `order:E123456789`, `caller:<hash>` or `user:<id>` (no phone number in clear).
    """

    __tablename__ = "lookup_failures"
    __table_args__ = (Index("ix_lookup_failures_key_at", "key", "at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(80))
    # Unix seconds: compared as numbers on both engines, no time zone to lose in SQLite.
    at: Mapped[float] = mapped_column(Float, index=True)


class Shift(Base):
    """A scheduled shift 班次 of one agent at one center; times stored in UTC."""

    __tablename__ = "shifts"
    __table_args__ = (
        Index("ix_shifts_center_start", "center_id", "starts_at"),
        Index("ix_shifts_agent_start", "agent_id", "starts_at"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    center_id: Mapped[int] = mapped_column(ForeignKey("centers.id"))
    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"))
    starts_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ends_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    note: Mapped[str | None] = mapped_column(String(200))
    created_by: Mapped[str] = mapped_column(String(60))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    center: Mapped[Center] = relationship()
    agent: Mapped[Agent] = relationship()


# The dialplan services' tables live with their feature; imported here so the schema is whole.
from app.agi import models as _agi_models  # noqa: E402,F401
