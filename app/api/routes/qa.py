"""Quality assurance 质检: scorecards, evaluations of calls and agents, averages, calibration,
and the agent's acknowledgement of their own evaluations."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel, Field, PlainValidator, WithJsonSchema

from app.api.deps import Session, require, roles_doc
from app.api.errors import ApiError
from app.core.clock import CST, as_utc
from app.db.models import CallRecord, QaEvaluation, Role
from app.qa import evaluations as svc
from app.qa.scorecard import Scorecard, ScorecardError, ScorecardLibrary, UnknownScorecard
from app.qa.scoring import Answer, AnswerError, averages, score
from app.services.auth import Principal

router = APIRouter(prefix="/api/v1", tags=["quality assurance"])
# Ids are database integers: anything beyond is not found, not an error.
EvaluationId = Annotated[int, Path(ge=1, le=2_147_483_647)]
EVALUATE = (Role.QA, Role.SUPERVISOR)
READ = (Role.QA, Role.SUPERVISOR, Role.AGENT)
Evaluator = Annotated[Principal, Depends(require(*EVALUATE))]
Reader = Annotated[Principal, Depends(require(*READ))]
AgentUser = Annotated[Principal, Depends(require(Role.AGENT))]


def _moment(value: object) -> datetime | date:
    """A day (YYYY-MM-DD, in China Standard Time) or a date-time with its UTC offset; a naive
    date-time is refused rather than guessed."""
    if isinstance(value, datetime | date):
        return value
    text = str(value)
    offset = "a date-time with its UTC offset (2026-11-30T08:00:00+08:00; in a URL + is %2B)"
    try:
        if len(text) == 10:
            return date.fromisoformat(text)
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"'{text}' is neither a day (YYYY-MM-DD) nor {offset}") from None
    if moment.tzinfo is None:
        raise ValueError(f"'{text}' has no UTC offset: give a day (YYYY-MM-DD) or {offset}")
    return moment


Moment = Annotated[datetime | date, PlainValidator(_moment), WithJsonSchema(
    {"anyOf": [{"type": "string", "format": "date"}, {"type": "string", "format": "date-time"}]})]


class AnswerIn(BaseModel):
    question: str = Field(max_length=40, description="question or critical item id")
    points: float | None = Field(None, ge=0, description="questions: 0 to the question's points")
    na: bool = Field(False, description="questions that allow it: not applicable to this call")
    failed: bool | None = Field(None, description="critical items 否决项: whether the call "
                                "failed it (a failed one makes the total 0)")
    comment: str | None = Field(None, max_length=2000)


class EvaluationIn(BaseModel):
    call_id: str = Field(max_length=64)
    agent: str | None = Field(None, max_length=6, description="工号 of the evaluated agent; "
                              "may be left out when one agent talked on the call")
    scorecard: str = Field("standard", max_length=40)
    answers: list[AnswerIn] = Field(max_length=200, description="every question and critical "
                                    "item of the scorecard, once")
    comment: str | None = Field(None, max_length=4000)


class ScorecardRef(BaseModel):
    name: str
    version: int
    sha256: str


class AnswerOut(BaseModel):
    question: str
    section: str | None = Field(description="null: a critical item")
    text: str
    max_points: int | None
    points: float | None
    na: bool
    failed: bool | None
    comment: str | None


class SectionOut(BaseModel):
    id: str
    title: str
    weight: float
    earned: float
    maximum: float
    rate: float | None = Field(description="earned ÷ maximum; null when all were N/A")


class EvaluationOut(BaseModel):
    id: int
    call_id: str
    call_started_at: datetime
    agent: str | None = Field(description="工号")
    agent_name: str | None
    center: str | None
    scorecard: ScorecardRef
    evaluator: str
    total_score: float = Field(description="0-100; 0 when a critical item failed")
    critical_failed: bool
    comment: str | None
    created_at: datetime
    acknowledged_at: datetime | None
    sections: list[SectionOut] | None = None
    answers: list[AnswerOut] | None = None


class EvaluationPage(BaseModel):
    items: list[EvaluationOut]
    total: int
    offset: int
    limit: int


class AverageOut(BaseModel):
    agent: str | None = Field(None, description="工号 (by=agent)")
    center: str | None = Field(None, description="center name (by=center)")
    evaluations: int
    average: float
    lowest: float
    highest: float
    critical_failed: int = Field(description="evaluations zeroed by a critical item")


class ItemOut(BaseModel):
    question: str
    section: str | None = Field(description="null: a critical item")
    text: str
    max_points: int | None
    values: list[str] = Field(description="per evaluator (order of `evaluators`): points, "
                              "n/a, failed or passed")
    difference: float | None = Field(description="highest minus lowest points given")
    agree: bool


class CalibrationOut(BaseModel):
    scorecard: ScorecardRef
    agent: str | None
    evaluation_ids: list[int]
    evaluators: list[str]
    totals: list[float]
    total_difference: float
    disagreements: int
    items: list[ItemOut]


class CalibrationReport(BaseModel):
    call_id: str
    groups: list[CalibrationOut]


class QuestionOut(BaseModel):
    id: str
    text: str
    points: int
    weight: float
    na: bool


class ScorecardSectionOut(BaseModel):
    id: str
    title: str
    weight: float
    questions: list[QuestionOut]


class CriticalOut(BaseModel):
    id: str
    text: str


class ScorecardOut(BaseModel):
    name: str
    version: int
    sha256: str
    title: str
    description: str | None
    sections: list[ScorecardSectionOut]
    critical: list[CriticalOut]


def _library(request: Request) -> ScorecardLibrary:
    library: ScorecardLibrary = request.app.state.scorecards
    return library


def _scorecard(request: Request, name: str) -> Scorecard:
    try:
        return _library(request).get(name)
    except UnknownScorecard as exc:
        raise ApiError(422, "unknown_scorecard", str(exc),
                       [{"field": "scorecard", "problem": str(exc)}]) from None
    except ScorecardError as exc:
        raise ApiError(500, "scorecard_invalid", f"the scorecard file is not valid "
                       f"(hotline qa check): {exc}") from None


def _ref(evaluation: QaEvaluation) -> ScorecardRef:
    card = evaluation.scorecard
    return ScorecardRef(name=card.name, version=card.version, sha256=card.sha256)


def evaluation_out(e: QaEvaluation, full: bool = True) -> EvaluationOut:
    out = EvaluationOut(
        id=e.id, call_id=e.call_id, call_started_at=as_utc(e.call.started_at),
        agent=e.agent.number if e.agent else None, agent_name=e.agent.name if e.agent else None,
        center=e.center.name if e.center else None, scorecard=_ref(e),
        evaluator=e.evaluator.name, total_score=e.total_score, critical_failed=e.critical_failed,
        comment=e.comment, created_at=as_utc(e.created_at),
        acknowledged_at=as_utc(e.acknowledged_at) if e.acknowledged_at else None,
    )
    if full:
        card = svc.scorecard_of(e.scorecard)
        result = score(card, svc.answers_of(e))
        out.sections = [SectionOut(id=s.id, title=s.title, weight=s.weight, earned=s.earned,
                                   maximum=s.maximum, rate=s.rate) for s in result.sections]
        out.answers = []
        for a in e.answers:
            question, section = card.question(a.question), card.section_of(a.question)
            critical = card.critical_item(a.question)
            out.answers.append(AnswerOut(
                question=a.question, section=section.id if section else None,
                text=question.text if question else critical.text if critical else "",
                max_points=question.points if question else None, points=a.points, na=a.na,
                failed=a.failed, comment=a.comment))
    return out


def _only_own(user: Principal, evaluation: QaEvaluation) -> None:
    """An agent reads only evaluations of itself."""
    if user.role == Role.AGENT and (evaluation.agent is None
                                    or evaluation.agent.number != user.name):
        raise ApiError(403, "forbidden",
                       f"agent {user.name} may read only its own evaluations")


def _start(moment: Moment | None) -> datetime | None:
    if moment is None or isinstance(moment, datetime):
        return moment
    return datetime.combine(moment, time(), CST)


def _end(moment: Moment | None) -> datetime | None:
    """A day as the end of a period includes that day."""
    if moment is None or isinstance(moment, datetime):
        return moment
    return datetime.combine(moment + timedelta(days=1), time(), CST)


PERIOD_DOC = ("`from`/`to` select by the call's start: a day (YYYY-MM-DD, in China Standard "
              "Time; `to` includes that day) or a date-time with its UTC offset (`to` "
              "excluded).")
From = Annotated[Moment | None, Query(alias="from", description="calls started from")]
To = Annotated[Moment | None, Query(alias="to", description="calls started before / on")]


async def _get(session: Session, ident: int) -> QaEvaluation:
    evaluation = await svc.get_evaluation(session, ident)
    if evaluation is None:
        raise ApiError(404, "evaluation_not_found", f"no evaluation {ident}")
    return evaluation


@router.get("/scorecards", response_model=list[ScorecardOut], summary="The scorecards",
            description=roles_doc(*READ))
async def list_scorecards(request: Request, user: Reader) -> list[ScorecardOut]:
    library = _library(request)
    return [ScorecardOut.model_validate(_scorecard(request, n).model_dump())
            for n in library.names()]


@router.get("/scorecards/{name}", response_model=ScorecardOut,
            summary="One scorecard: sections, questions, points, weights, critical items",
            description=roles_doc(*READ), responses={404: {"description": "no such scorecard"}})
async def one_scorecard(name: str, request: Request, user: Reader) -> ScorecardOut:
    if name not in _library(request).names():
        raise ApiError(404, "scorecard_not_found", f"no scorecard {name} (known: "
                       f"{', '.join(_library(request).names())})")
    return ScorecardOut.model_validate(_scorecard(request, name).model_dump())


@router.post(
    "/evaluations", response_model=EvaluationOut, status_code=201,
    summary="Score a call (and its agent) with a scorecard",
    description="The total is computed from the answers (weights; N/A questions leave the "
    "maximum; a failed critical item makes it 0). Every question and critical item is "
    "answered once. " + roles_doc(*EVALUATE),
    responses={
        404: {"description": "no such call"},
        409: {"description": "this evaluator has scored this call (and agent) already, or "
              "the scorecard file changed without a new version"},
        422: {"description": "bad answers (unknown question, points over the maximum, N/A "
              "not allowed, missing answers), unknown scorecard, or an agent who did not "
              "talk on the call"},
    },
)
async def create_evaluation(body: EvaluationIn, request: Request, session: Session,
                            user: Evaluator) -> EvaluationOut:
    if await session.get(CallRecord, body.call_id) is None:  # what is scored comes first
        raise ApiError(404, "call_not_found", f"no call {body.call_id}")
    card = _scorecard(request, body.scorecard)
    answers = [Answer(a.question, a.points, a.na, a.failed, a.comment) for a in body.answers]
    try:
        evaluation = await svc.create_evaluation(
            session, card=card, call_id=body.call_id, evaluator=user, answers=answers,
            agent_number=body.agent, comment=body.comment)
    except AnswerError as exc:
        raise ApiError(422, "invalid_answers", str(exc),
                       [{"field": p.field, "problem": p.message} for p in exc.problems]) from None
    except svc.CallNotFound as exc:
        raise ApiError(404, "call_not_found", str(exc)) from None
    except svc.WrongAgent as exc:
        raise ApiError(422, "wrong_agent", str(exc),
                       [{"field": "agent", "problem": str(exc)}]) from None
    except (svc.AlreadyEvaluated, svc.ScorecardChanged) as exc:
        code = "already_evaluated" if isinstance(exc, svc.AlreadyEvaluated) else \
            "scorecard_changed"
        raise ApiError(409, code, str(exc)) from None
    await session.commit()
    return evaluation_out(await _get(session, evaluation.id))


@router.get(
    "/evaluations", response_model=EvaluationPage, summary="Evaluations, newest first",
    description=PERIOD_DOC + " An agent lists only its own evaluations. " + roles_doc(*READ),
)
async def list_evaluations(
    session: Session,
    user: Reader,
    agent: Annotated[str | None, Query(max_length=6, description="工号")] = None,
    center: Annotated[str | None, Query(max_length=40, description="name or code")] = None,
    evaluator: Annotated[str | None, Query(max_length=60)] = None,
    call_id: Annotated[str | None, Query(max_length=64)] = None,
    scorecard: Annotated[str | None, Query(max_length=40)] = None,
    period_from: From = None,
    period_to: To = None,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> EvaluationPage:
    if user.role == Role.AGENT:
        if agent is not None and agent != user.name:
            raise ApiError(403, "forbidden",
                           f"agent {user.name} may list only its own evaluations")
        agent = user.name
    flt = svc.EvaluationFilter(agent=agent, center=center, evaluator=evaluator,
                               call_id=call_id, scorecard=scorecard,
                               call_from=_start(period_from), call_to=_end(period_to))
    rows, total = await svc.list_evaluations(session, flt, offset, limit)
    return EvaluationPage(items=[evaluation_out(e, full=False) for e in rows], total=total,
                          offset=offset, limit=limit)


@router.get(
    "/evaluations/averages", response_model=list[AverageOut],
    summary="Average scores per agent or per center (team) over a period",
    description="Evaluations of calls an agent took, grouped by the agent or by the agent's "
    "center when evaluated; zeroed evaluations count. " + PERIOD_DOC + " " + roles_doc(*EVALUATE),
)
async def evaluation_averages(
    session: Session,
    user: Evaluator,
    by: Literal["agent", "center"] = "agent",
    period_from: From = None,
    period_to: To = None,
    center: Annotated[str | None, Query(max_length=40, description="name or code")] = None,
    scorecard: Annotated[str | None, Query(max_length=40)] = None,
) -> list[AverageOut]:
    flt = svc.EvaluationFilter(center=center, scorecard=scorecard,
                               call_from=_start(period_from), call_to=_end(period_to))
    rows = averages(await svc.scored(session, by, flt))
    return [AverageOut(**{by: a.key}, evaluations=a.evaluations, average=a.average,
                       lowest=a.lowest, highest=a.highest, critical_failed=a.critical_failed)
            for a in rows]


@router.get(
    "/evaluations/calibration", response_model=CalibrationReport,
    summary="Calibration: evaluations of one call by different evaluators, item by item",
    description="Groups the call's evaluations by scorecard version and agent; each group of "
    "two or more shows every evaluator's answer per question, the spread of points and the "
    "totals. " + roles_doc(*EVALUATE),
    responses={404: {"description": "no such call, or fewer than two evaluations of it with "
                     "the same scorecard version"}},
)
async def evaluation_calibration(
    session: Session, user: Evaluator, call_id: Annotated[str, Query(max_length=64)]
) -> CalibrationReport:
    if await session.get(CallRecord, call_id) is None:
        raise ApiError(404, "call_not_found", f"no call {call_id}")
    groups = await svc.calibration(session, call_id)
    if not groups:
        raise ApiError(404, "not_enough_evaluations",
                       f"call {call_id} has no two evaluations with the same scorecard version "
                       "and agent; calibration needs a second evaluator")
    return CalibrationReport(call_id=call_id, groups=[
        CalibrationOut(
            scorecard=ScorecardRef(name=g.scorecard.name, version=g.scorecard.version,
                                   sha256=g.scorecard.sha256),
            agent=g.agent.number if g.agent else None,
            evaluation_ids=[e.id for e in g.evaluations],
            evaluators=g.calibration.evaluators, totals=g.calibration.totals,
            total_difference=g.calibration.total_difference,
            disagreements=len(g.calibration.disagreements),
            items=[ItemOut(question=i.question, section=i.section, text=i.text,
                           max_points=i.max_points, values=i.values, difference=i.difference,
                           agree=i.agree) for i in g.calibration.items],
        ) for g in groups])


@router.get(
    "/evaluations/{evaluation_id}", response_model=EvaluationOut,
    summary="One evaluation with its sections and answers",
    description="An agent reads only its own evaluations. " + roles_doc(*READ),
    responses={404: {"description": "no such evaluation"}},
)
async def one_evaluation(evaluation_id: EvaluationId, session: Session,
                         user: Reader) -> EvaluationOut:
    evaluation = await _get(session, evaluation_id)
    _only_own(user, evaluation)
    return evaluation_out(evaluation)


@router.post(
    "/evaluations/{evaluation_id}/acknowledge", response_model=EvaluationOut,
    summary="The evaluated agent acknowledges its evaluation",
    description="Admitted roles: agent, and only the evaluated one (the API user named by "
    "its 工号).",
    responses={
        403: {"description": "not the evaluated agent"},
        404: {"description": "no such evaluation"},
        409: {"description": "acknowledged already"},
    },
)
async def acknowledge(evaluation_id: EvaluationId, session: Session,
                      user: AgentUser) -> EvaluationOut:
    evaluation = await _get(session, evaluation_id)
    if user.role != Role.AGENT or evaluation.agent is None \
            or evaluation.agent.number != user.name:
        whose = f"agent {evaluation.agent.number}" if evaluation.agent else "no agent"
        raise ApiError(403, "forbidden", f"evaluation {evaluation_id} is of {whose}; only the "
                       "evaluated agent acknowledges it")
    try:
        await svc.acknowledge(session, evaluation)
    except svc.AlreadyAcknowledged as exc:
        raise ApiError(409, "already_acknowledged", str(exc)) from None
    await session.commit()
    return evaluation_out(await _get(session, evaluation_id))
