"""QA scoring through the API on both engines: evaluations of stored calls and their agents,
role checks, validation, averages over a period, calibration, acknowledgement."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from app.acd import agents as agent_svc
from app.api.main import create_app
from app.config import Settings
from app.db.models import AgentLeg, AgentLegResult, CallRecord
from app.db.session import Database
from app.qa.scorecard import SCORECARDS_DIR, ScorecardLibrary
from app.services.auth import issue_token
from tests.api.conftest import Api, Seeded, assert_error

CARD = ScorecardLibrary().get("standard")


async def make_agent(url: str, center: str) -> tuple[str, str]:
    """A new agent (工号) and its API token."""
    number = str(100000 + uuid.uuid4().int % 900000)
    db = Database(url)
    async with db.session() as session:
        await agent_svc.create_agent(session, number, name="质检测试", center=center,
                                     password="pass-1234")
        token = await issue_token(session, number)
        await session.commit()
    await db.dispose()
    return number, token


async def make_call(url: str, *agents: str, started: datetime | None = None) -> str:
    """A stored call that these agents talked on (in this order)."""
    call_id = "c-" + uuid.uuid4().hex[:10]
    started = started or datetime.now(UTC)
    db = Database(url)
    async with db.session() as session:
        session.add(CallRecord(id=call_id, caller="13800138000", called="12306",
                               started_at=started, ended_at=started + timedelta(minutes=5)))
        await session.flush()
        for i, number in enumerate(agents):
            agent = await agent_svc.get_agent(session, number)
            at = started + timedelta(seconds=30 + i)
            session.add(AgentLeg(call_id=call_id, agent_id=agent.id, ring_at=at, answer_at=at,
                                 result=AgentLegResult.ANSWERED))
        await session.commit()
    await db.dispose()
    return call_id


def full_answers(**points: float | None) -> list[dict[str, Any]]:
    """Full marks except the questions given (None: N/A); a critical item given as -1 is
    failed, the others passed."""
    out: list[dict[str, Any]] = []
    for q in CARD.questions():
        given = points.get(q.id, q.points)
        out.append({"question": q.id, "na": True} if given is None
                   else {"question": q.id, "points": given})
    for c in CARD.critical:
        out.append({"question": c.id, "failed": points.get(c.id) == -1})
    return out


async def evaluate(api: Api, call_id: str, role: str = "qa", **kw: Any) -> httpx.Response:
    answers = kw.pop("answers", None) or full_answers()
    return await api.post("/api/v1/evaluations", role=role,
                          json={"call_id": call_id, "answers": answers, **kw})


async def as_agent(api: Api, token: str, method: str, path: str, **kw: Any) -> httpx.Response:
    return await api.request(method, path, None,
                             headers={"Authorization": f"Bearer {token}"}, **kw)


async def test_evaluate_read_and_acknowledge_own_only(api: Api) -> None:
    mine, my_token = await make_agent(api.seeded.url, "北京")
    _, other_token = await make_agent(api.seeded.url, "上海")
    call = await make_call(api.seeded.url, mine)
    # accuracy (10 points, weight 2) at 5 in 业务能力 (35): (2×5 + 10 + 5 + 5) ÷ 40 = 0.75;
    # survey N/A leaves 结束语 at 5 ÷ 5: total 100 × (65 + 35 × 0.75) ÷ 100 = 91.25.
    resp = await evaluate(api, call, answers=full_answers(accuracy=5, survey=None),
                          comment="解答退票规则不完整")
    assert resp.status_code == 201, resp.text
    created = resp.json()
    assert created["agent"] == mine and created["center"] == "北京"  # inferred from the legs
    assert created["evaluator"] == "test-qa" and created["total_score"] == 91.25
    assert created["scorecard"] == {"name": "standard", "version": CARD.version,
                                    "sha256": CARD.sha256}
    assert created["acknowledged_at"] is None and not created["critical_failed"]
    assert datetime.fromisoformat(created["created_at"]).tzinfo is not None
    business = next(s for s in created["sections"] if s["id"] == "business")
    assert (business["earned"], business["maximum"], business["rate"]) == (30, 40, 0.75)
    survey = next(a for a in created["answers"] if a["question"] == "survey")
    assert (survey["na"], survey["points"], survey["section"]) == (True, None, "closing")
    ident = created["id"]

    one = await as_agent(api, my_token, "GET", f"/api/v1/evaluations/{ident}")
    assert one.status_code == 200 and one.json()["total_score"] == 91.25
    assert_error(await as_agent(api, other_token, "GET", f"/api/v1/evaluations/{ident}"),
                 403, "forbidden")
    listed = (await as_agent(api, my_token, "GET", "/api/v1/evaluations")).json()
    assert [e["id"] for e in listed["items"]] == [ident] and listed["total"] == 1
    assert listed["items"][0]["answers"] is None  # the list is a summary
    assert (await as_agent(api, other_token, "GET", "/api/v1/evaluations")).json()["total"] == 0
    assert_error(await as_agent(api, other_token, "GET", "/api/v1/evaluations",
                                params={"agent": mine}), 403, "forbidden")
    page = (await api.get("/api/v1/evaluations", role="supervisor",
                          params={"agent": mine})).json()
    assert [e["id"] for e in page["items"]] == [ident]

    path = f"/api/v1/evaluations/{ident}/acknowledge"
    assert_error(await as_agent(api, other_token, "POST", path), 403, "forbidden")
    assert_error(await api.post(path, role="qa"), 403, "forbidden")
    assert_error(await api.post(path, role="admin"), 403, "forbidden")
    done = await as_agent(api, my_token, "POST", path)
    assert done.status_code == 200, done.text
    assert datetime.fromisoformat(done.json()["acknowledged_at"]).tzinfo is not None
    assert_error(await as_agent(api, my_token, "POST", path), 409, "already_acknowledged")
    again = (await api.get(f"/api/v1/evaluations/{ident}", role="qa")).json()
    assert again["acknowledged_at"] == done.json()["acknowledged_at"]


async def test_bad_evaluations_get_clear_answers(api: Api) -> None:
    first, token = await make_agent(api.seeded.url, "北京")
    second, _ = await make_agent(api.seeded.url, "北京")
    call = await make_call(api.seeded.url, first, second)  # transferred: two agents
    bad = full_answers(greeting=7)
    bad.append({"question": "greting", "points": 1})
    err = assert_error(await evaluate(api, call, agent=first, answers=bad), 422,
                       "invalid_answers")
    assert "question 'greeting': 7 points is over the maximum of 5" in err["message"]
    assert "unknown question 'greting' in scorecard standard" in err["message"]
    assert {d["field"] for d in err["details"]} == {"answers.0.points", "answers.18.question"}
    missing = [a for a in full_answers() if a["question"] != "rude"]
    assert "missing: rude" in assert_error(
        await evaluate(api, call, agent=first, answers=missing), 422, "invalid_answers")["message"]
    na = assert_error(await evaluate(api, call, agent=first,
                                     answers=full_answers(greeting=None)), 422, "invalid_answers")
    assert "'greeting' does not allow N/A" in na["message"]
    assert_error(await evaluate(api, call, agent=first,
                                answers=full_answers(greeting=-1)), 422, "invalid_request")
    nan = json.dumps({"call_id": call, "agent": first,
                      "answers": full_answers(greeting=float("nan"))})  # JSON's NaN extension
    assert_error(await api.post("/api/v1/evaluations", role="qa", content=nan,
                                headers={"Content-Type": "application/json"}), 422,
                 "invalid_request")
    assert "agents " in assert_error(await evaluate(api, call), 422, "wrong_agent")["message"]
    stranger, _ = await make_agent(api.seeded.url, "太原")
    assert f"agent {stranger} did not talk on call {call}" in assert_error(
        await evaluate(api, call, agent=stranger), 422, "wrong_agent")["message"]
    assert "known: standard" in assert_error(
        await evaluate(api, call, agent=first, scorecard="nope"), 422,
        "unknown_scorecard")["message"]
    assert_error(await evaluate(api, "no-such-call", agent=first), 404, "call_not_found")
    assert_error(await as_agent(api, token, "POST", "/api/v1/evaluations",
                                json={"call_id": call, "answers": full_answers()}),
                 403, "forbidden")
    assert_error(await evaluate(api, call, role="engineer", agent=first), 403, "forbidden")
    assert (await evaluate(api, call, agent=first)).status_code == 201
    assert (await evaluate(api, call, agent=second)).status_code == 201
    assert "already" in assert_error(await evaluate(api, call, agent=first), 409,
                                     "already_evaluated")["message"]
    assert_error(await api.get("/api/v1/evaluations/999999", role="qa"), 404,
                 "evaluation_not_found")


async def test_call_without_agent_and_critical_item(api: Api) -> None:
    call = await make_call(api.seeded.url)  # the IVR alone served it
    resp = await evaluate(api, call, role="supervisor", answers=full_answers(rude=-1))
    assert resp.status_code == 201, resp.text
    body = resp.json()
    assert body["agent"] is None and body["center"] is None
    assert body["total_score"] == 0 and body["critical_failed"]
    rude = next(a for a in body["answers"] if a["question"] == "rude")
    assert rude["failed"] is True and rude["section"] is None and "辱骂" in rude["text"]


async def test_averages_per_agent_and_center_over_a_period(api: Api) -> None:
    a1, _ = await make_agent(api.seeded.url, "北京")
    a2, _ = await make_agent(api.seeded.url, "太原")
    # A month of its own, far from the other tests' calls (CST midnight = 16:00 UTC before).
    day = datetime(2031, 3, 10, 2, 0, tzinfo=UTC)  # 10:00 CST on 10 March
    calls = [await make_call(api.seeded.url, a1, started=day),
             await make_call(api.seeded.url, a1, started=day + timedelta(days=1)),
             await make_call(api.seeded.url, a2, started=day),
             await make_call(api.seeded.url, a1, started=day + timedelta(days=30))]
    scores = [dict(greeting=0), dict(rude=-1), dict(), dict()]  # 92.5, 0, 100, 100
    for call, given in zip(calls, scores, strict=True):
        resp = await evaluate(api, call, answers=full_answers(**given))
        assert resp.status_code == 201, resp.text
    march = {"from": "2031-03-10", "to": "2031-03-11"}  # days in CST, `to` included
    by_agent = (await api.get("/api/v1/evaluations/averages", role="supervisor",
                              params={"by": "agent", **march})).json()
    assert by_agent == [
        {"agent": a, "center": None, **v} for a, v in sorted({
            a1: {"evaluations": 2, "average": 46.25, "lowest": 0.0, "highest": 92.5,
                 "critical_failed": 1},
            a2: {"evaluations": 1, "average": 100.0, "lowest": 100.0, "highest": 100.0,
                 "critical_failed": 0}}.items())]
    by_center = (await api.get("/api/v1/evaluations/averages", role="qa",
                               params={"by": "center", **march})).json()
    assert [(c["center"], c["evaluations"], c["average"]) for c in by_center] == [
        ("北京", 2, 46.25), ("太原", 1, 100.0)]
    only_bj = (await api.get("/api/v1/evaluations/averages", role="qa",
                             params={"by": "center", "center": "ty", **march})).json()
    assert [c["center"] for c in only_bj] == ["太原"]
    # A date-time with its offset, `to` excluded: the 11 March call is left out.
    first_day = {"from": "2031-03-10T00:00:00+08:00", "to": "2031-03-11T00:00:00+08:00"}
    one_day = (await api.get("/api/v1/evaluations/averages", role="qa",
                             params={"by": "agent", **first_day})).json()
    assert [(a["agent"], a["evaluations"]) for a in one_day] == sorted([(a1, 1), (a2, 1)])
    # 17:30 UTC on 12 March is 01:30 on 13 March in CST: the day it counts in.
    a3, _ = await make_agent(api.seeded.url, "上海")
    late = await make_call(api.seeded.url, a3, started=datetime(2031, 3, 12, 17, 30, tzinfo=UTC))
    assert (await evaluate(api, late)).status_code == 201
    for day, expected in (("2031-03-12", []), ("2031-03-13", [a3])):
        got = (await api.get("/api/v1/evaluations/averages", role="qa",
                             params={"by": "agent", "from": day, "to": day})).json()
        assert [a["agent"] for a in got] == expected, day
    listed = (await api.get("/api/v1/evaluations", role="qa",
                            params={"agent": a1, "from": "2031-03-01", "to": "2031-03-31"})).json()
    assert listed["total"] == 2 and {e["call_id"] for e in listed["items"]} == set(calls[:2])
    by_evaluator = (await api.get("/api/v1/evaluations", role="qa", params={
        "evaluator": "test-qa", "center": "太原", **march})).json()
    assert [e["call_id"] for e in by_evaluator["items"]] == [calls[2]]
    naive = assert_error(await api.get("/api/v1/evaluations/averages", role="qa",
                                       params={"from": "2031-03-10T00:00:00"}), 422,
                         "invalid_request")  # not guessed to be a day or UTC
    assert "has no UTC offset" in naive["details"][0]["problem"]
    assert_error(await api.get("/api/v1/evaluations/averages", role="qa",
                               params={"by": "queue"}), 422, "invalid_request")
    assert_error(await api.get("/api/v1/evaluations/averages", role="agent"), 403, "forbidden")


async def test_calibration_of_two_evaluators(api: Api) -> None:
    agent, _ = await make_agent(api.seeded.url, "上海")
    call = await make_call(api.seeded.url, agent)
    first = await evaluate(api, call, role="qa", answers=full_answers(accuracy=6, survey=None))
    assert first.status_code == 201
    assert_error(await api.get("/api/v1/evaluations/calibration", role="qa",
                               params={"call_id": call}), 404, "not_enough_evaluations")
    second = await evaluate(api, call, role="supervisor",
                            answers=full_answers(accuracy=10, tone=3))
    assert second.status_code == 201
    report = (await api.get("/api/v1/evaluations/calibration", role="qa",
                            params={"call_id": call})).json()
    [group] = report["groups"]
    assert group["agent"] == agent and group["evaluators"] == ["test-qa", "test-supervisor"]
    assert group["evaluation_ids"] == [first.json()["id"], second.json()["id"]]
    assert group["totals"] == [first.json()["total_score"], second.json()["total_score"]]
    assert group["total_difference"] == round(abs(group["totals"][0] - group["totals"][1]), 2)
    items = {i["question"]: i for i in group["items"]}
    assert (items["accuracy"]["values"], items["accuracy"]["difference"]) == (["6", "10"], 4)
    assert (items["tone"]["values"], items["tone"]["difference"]) == (["5", "3"], 2)
    assert (items["survey"]["values"], items["survey"]["agree"]) == (["n/a", "5"], False)
    assert items["greeting"]["agree"] and items["rude"]["values"] == ["passed", "passed"]
    assert group["disagreements"] == 3
    assert_error(await api.get("/api/v1/evaluations/calibration", role="qa",
                               params={"call_id": "nope"}), 404, "call_not_found")
    assert_error(await api.get("/api/v1/evaluations/calibration", role="agent",
                               params={"call_id": call}), 403, "forbidden")


async def test_scorecards_are_listed(api: Api) -> None:
    cards = (await api.get("/api/v1/scorecards", role="agent")).json()
    assert [c["name"] for c in cards] == ["standard"]
    one = (await api.get("/api/v1/scorecards/standard", role="qa")).json()
    assert one["sha256"] == CARD.sha256 and len(one["critical"]) == len(CARD.critical)
    assert_error(await api.get("/api/v1/scorecards/nope", role="qa"), 404, "scorecard_not_found")


async def test_changed_scorecard_needs_a_new_version(seeded: Seeded, tmp_path: Path) -> None:
    folder = tmp_path / "cards"
    folder.mkdir()
    text = (SCORECARDS_DIR / "standard.yaml").read_text(encoding="utf-8")
    (folder / "standard.yaml").write_text(text.replace("version: 1", "version: 7"),
                                          encoding="utf-8")
    db = Database(seeded.url)
    app = create_app(Settings(scorecards_dir=folder), db)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        api = Api(client, seeded)
        agent, _ = await make_agent(seeded.url, "北京")
        calls = [await make_call(seeded.url, agent) for _ in range(3)]
        old = await evaluate(api, calls[0])
        assert old.status_code == 201 and old.json()["scorecard"]["version"] == 7
        edited = text.replace("version: 1", "version: 7").replace(
            "使用标准开场白", "使用新版开场白")
        (folder / "standard.yaml").write_text(edited, encoding="utf-8")
        err = assert_error(await evaluate(api, calls[1]), 409, "scorecard_changed")
        assert "raise its version" in err["message"]
        (folder / "standard.yaml").write_text(edited.replace("version: 7", "version: 8"),
                                              encoding="utf-8")
        new = await evaluate(api, calls[2])
        assert new.status_code == 201 and new.json()["scorecard"]["version"] == 8
        # An evaluation reads as it was made: the old question text stays with version 7.
        before = (await api.get(f"/api/v1/evaluations/{old.json()['id']}", role="qa")).json()
        greeting = next(a for a in before["answers"] if a["question"] == "greeting")
        assert "使用标准开场白" in greeting["text"]
        (folder / "standard.yaml").write_text("name: standard\nversion: [\n", encoding="utf-8")
        broken = assert_error(await evaluate(api, calls[1]), 500, "scorecard_invalid")
        assert "standard.yaml:3: not valid YAML" in broken["message"]
    await db.dispose()
