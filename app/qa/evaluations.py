"""Evaluations 质检评分 in the database: made against a stored call and, when an agent took it,
that agent; listed, averaged per agent or center over a period, compared for calibration and
acknowledged by the agent. The scoring rules are in app.qa.scoring.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from app.core.clock import as_utc, now, utc_bound
from app.db.models import (
    Agent,
    AgentLeg,
    CallRecord,
    Center,
    QaAnswer,
    QaEvaluation,
    QaScorecard,
    User,
)
from app.qa.scorecard import Scorecard
from app.qa.scoring import Answer, Calibration, Evaluated, Scored, calibrate, score
from app.services.auth import Principal


class EvaluationError(ValueError):
    """A request that cannot be done; the message says why and what to do."""


class CallNotFound(EvaluationError):
    pass


class WrongAgent(EvaluationError):
    """The agent named (or the lack of one) does not fit the call's agent legs."""


class AlreadyEvaluated(EvaluationError):
    pass


class ScorecardChanged(EvaluationError):
    pass


class AlreadyAcknowledged(EvaluationError):
    pass


async def stored_scorecard(session: AsyncSession, card: Scorecard) -> QaScorecard:
    """The row of this scorecard version, stored with its first evaluation. A file changed
    without a new version is refused: evaluations of one version must be comparable."""
    row = await session.scalar(select(QaScorecard).where(
        QaScorecard.name == card.name, QaScorecard.version == card.version))
    if row is None:
        row = QaScorecard(name=card.name, version=card.version, sha256=card.sha256,
                          title=card.title, definition=card.definition(), created_at=now())
        session.add(row)
        await session.flush()
    elif row.sha256 != card.sha256:
        raise ScorecardChanged(
            f"scorecard {card.name} version {card.version} in {card.source} differs from the "
            f"version {card.version} evaluations were made with (sha256 {row.sha256[:12]}…); "
            "raise its version (and run hotline qa check) before scoring with it")
    return row


def scorecard_of(row: QaScorecard) -> Scorecard:
    return Scorecard.model_validate({**row.definition, "sha256": row.sha256,
                                     "source": f"stored {row.name} v{row.version}"})


async def agents_on_call(session: AsyncSession, call_id: str) -> list[Agent]:
    """The agents who talked on the call (answered legs), first answer first."""
    rows = await session.scalars(
        select(Agent).join(AgentLeg, AgentLeg.agent_id == Agent.id)
        .where(AgentLeg.call_id == call_id, AgentLeg.answer_at.is_not(None))
        .order_by(AgentLeg.answer_at))
    seen: dict[int, Agent] = {}
    for agent in rows:
        seen.setdefault(agent.id, agent)
    return list(seen.values())


async def _evaluated_agent(session: AsyncSession, call_id: str, number: str | None
                           ) -> Agent | None:
    agents = await agents_on_call(session, call_id)
    numbers = ", ".join(a.number for a in agents)
    if number is None:
        if len(agents) > 1:
            raise WrongAgent(f"agents {numbers} talked on call {call_id}; say which one this "
                             "evaluation is for (agent)")
        return agents[0] if agents else None
    for agent in agents:
        if agent.number == number:
            return agent
    raise WrongAgent(f"agent {number} did not talk on call {call_id} " + (
        f"(agents who did: {numbers})" if agents else "(no agent took this call)"))


async def create_evaluation(
    session: AsyncSession,
    *,
    card: Scorecard,
    call_id: str,
    evaluator: Principal,
    answers: Sequence[Answer],
    agent_number: str | None = None,
    comment: str | None = None,
) -> QaEvaluation:
    """Score and store an evaluation (the caller commits). Raises AnswerError (bad answers)
    or an EvaluationError."""
    if await session.get(CallRecord, call_id) is None:
        raise CallNotFound(f"no call {call_id}")
    agent = await _evaluated_agent(session, call_id, agent_number)
    result = score(card, answers)
    earlier = await session.scalar(select(QaEvaluation.id).where(
        QaEvaluation.call_id == call_id, QaEvaluation.evaluator_id == evaluator.user_id,
        QaEvaluation.agent_id.is_(None) if agent is None
        else QaEvaluation.agent_id == agent.id))
    if earlier is not None:
        whom = f"agent {agent.number} on " if agent is not None else ""
        raise AlreadyEvaluated(f"{evaluator.name} has evaluated {whom}call {call_id} already "
                               f"(evaluation {earlier})")
    row = await stored_scorecard(session, card)
    evaluation = QaEvaluation(
        call_id=call_id, agent_id=agent.id if agent else None,
        center_id=agent.center_id if agent else None, scorecard_id=row.id,
        evaluator_id=evaluator.user_id, total_score=result.total,
        critical_failed=bool(result.critical_failed), comment=comment, created_at=now(),
        answers=[QaAnswer(question=a.question, points=a.points, na=a.na, failed=a.failed,
                          comment=a.comment) for a in answers],
    )
    session.add(evaluation)
    await session.flush()
    return evaluation


def answers_of(evaluation: QaEvaluation) -> list[Answer]:
    return [Answer(a.question, a.points, a.na, a.failed, a.comment) for a in evaluation.answers]


def _with_everything(query: Select[QaEvaluation]) -> Select[QaEvaluation]:
    return query.options(
        selectinload(QaEvaluation.answers), selectinload(QaEvaluation.scorecard),
        selectinload(QaEvaluation.evaluator), selectinload(QaEvaluation.agent),
        selectinload(QaEvaluation.center), selectinload(QaEvaluation.call))


async def get_evaluation(session: AsyncSession, ident: int) -> QaEvaluation | None:
    return await session.scalar(_with_everything(
        select(QaEvaluation).where(QaEvaluation.id == ident)))


@dataclass(frozen=True)
class EvaluationFilter:
    agent: str | None = None  # 工号
    center: str | None = None  # name or code
    evaluator: str | None = None  # user name
    call_id: str | None = None
    scorecard: str | None = None
    call_from: datetime | None = None  # calls started at or after (aware)
    call_to: datetime | None = None  # calls started before (aware)


def _conditions(flt: EvaluationFilter) -> list[Any]:
    conditions: list[Any] = []
    if flt.agent is not None:
        conditions.append(QaEvaluation.agent_id.in_(
            select(Agent.id).where(Agent.number == flt.agent)))
    if flt.center is not None:
        conditions.append(QaEvaluation.center_id.in_(
            select(Center.id).where((Center.name == flt.center) | (Center.code == flt.center))))
    if flt.evaluator is not None:
        conditions.append(QaEvaluation.evaluator_id.in_(
            select(User.id).where(User.name == flt.evaluator)))
    if flt.call_id is not None:
        conditions.append(QaEvaluation.call_id == flt.call_id)
    if flt.scorecard is not None:
        conditions.append(QaEvaluation.scorecard_id.in_(
            select(QaScorecard.id).where(QaScorecard.name == flt.scorecard)))
    if flt.call_from is not None or flt.call_to is not None:
        # In UTC: SQLite compares the stored UTC text, and a bound in +08:00 would shift by 8 h.
        calls = select(CallRecord.id)
        if flt.call_from is not None:
            calls = calls.where(CallRecord.started_at >= utc_bound(flt.call_from))
        if flt.call_to is not None:
            calls = calls.where(CallRecord.started_at < utc_bound(flt.call_to))
        conditions.append(QaEvaluation.call_id.in_(calls))
    return conditions


async def list_evaluations(session: AsyncSession, flt: EvaluationFilter, offset: int,
                           limit: int) -> tuple[list[QaEvaluation], int]:
    """Newest first."""
    query = select(QaEvaluation).where(*_conditions(flt))
    total = await session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = await session.scalars(_with_everything(
        query.order_by(QaEvaluation.created_at.desc(), QaEvaluation.id.desc())
        .offset(offset).limit(limit)))
    return list(rows), total


async def scored(session: AsyncSession, by: Literal["agent", "center"],
                 flt: EvaluationFilter) -> list[Scored]:
    """Every evaluation of the filter with an agent, keyed by its agent's 工号 or its center's
    name, for app.qa.scoring.averages."""
    if by == "agent":
        query = select(Agent.number, QaEvaluation.total_score, QaEvaluation.critical_failed) \
            .join(Agent, Agent.id == QaEvaluation.agent_id)
    else:
        query = select(Center.name, QaEvaluation.total_score, QaEvaluation.critical_failed) \
            .join(Center, Center.id == QaEvaluation.center_id)
    rows = await session.execute(query.where(*_conditions(flt)))
    return [Scored(key, total, failed) for key, total, failed in rows]


@dataclass(frozen=True)
class CalibrationGroup:
    scorecard: QaScorecard
    agent: Agent | None
    evaluations: list[QaEvaluation]
    calibration: Calibration


async def calibration(session: AsyncSession, call_id: str) -> list[CalibrationGroup]:
    """The evaluations of a call compared per scorecard version and agent (groups of two or
    more; oldest evaluation first)."""
    rows = await session.scalars(_with_everything(
        select(QaEvaluation).where(QaEvaluation.call_id == call_id)
        .order_by(QaEvaluation.created_at, QaEvaluation.id)))
    groups: dict[tuple[int, int | None], list[QaEvaluation]] = {}
    for evaluation in rows:
        groups.setdefault((evaluation.scorecard_id, evaluation.agent_id), []).append(evaluation)
    out = []
    for evaluations in groups.values():
        if len(evaluations) < 2:
            continue
        first = evaluations[0]
        compared = calibrate(scorecard_of(first.scorecard), [
            Evaluated(e.evaluator.name, e.total_score, {a.question: a for a in answers_of(e)})
            for e in evaluations])
        out.append(CalibrationGroup(first.scorecard, first.agent, evaluations, compared))
    return out


async def acknowledge(session: AsyncSession, evaluation: QaEvaluation) -> None:
    if evaluation.acknowledged_at is not None:
        raise AlreadyAcknowledged(f"evaluation {evaluation.id} was acknowledged already "
                                  f"({as_utc(evaluation.acknowledged_at).isoformat()})")
    evaluation.acknowledged_at = now()
    await session.flush()
