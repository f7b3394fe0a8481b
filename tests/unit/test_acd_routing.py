"""The routing file: validation with FILE:LINE problems, skills, centers, and the check command."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.acd.cli_routing import check_routing
from app.acd.routing import ROUTING_FILE, RoutingError, load_routing, parse_routing
from app.cli import main

GOOD = """\
queues:
  general:
    skill_from:
      default: ticket
      map: {refund: refund_change, order_query: ticket}
  assistance:
    skill: assistance
    priority: true
    overflow: {after: 20, to: [上海], experts: true}
centers:
  names: [北京, 上海, 太原]
  default: 北京
  by_called: {"035112306": 太原}
  by_caller_prefix: {"010": 北京, "0351": 太原, "035": 上海, "1390351": 太原}
"""


def problems_of(text: str, **kwargs: object) -> list[str]:
    with pytest.raises(RoutingError) as info:
        parse_routing(text, "r.yaml", **kwargs)  # type: ignore[arg-type]
    return [str(p) for p in info.value.problems]


def test_defaults_and_fixed_values() -> None:
    rules = parse_routing(GOOD)
    general = rules.queue("general")
    assert (general.ring_timeout, general.wrap_up, general.max_wait, general.announce_every) == (
        15, 15, 180, 30)
    assert general.overflow.after == 30 and general.overflow.to == "any"
    assert not general.overflow.experts and not general.priority
    assistance = rules.queue("assistance")
    assert assistance.priority and assistance.overflow.to == ["上海"]


def test_skill_from_last_known_hint_else_default() -> None:
    rules = parse_routing(GOOD)
    assert rules.skill_for("general", ["order_query", "refund"]) == "refund_change"
    assert rules.skill_for("general", ["refund", "order_query", "agent"]) == "ticket"
    assert rules.skill_for("general", ["agent"]) == "ticket"
    assert rules.skill_for("general") == "ticket"
    assert rules.skill_for("assistance", ["refund"]) == "assistance"


def test_unknown_queue_names_the_known_ones() -> None:
    with pytest.raises(KeyError, match="known: assistance, general"):
        parse_routing(GOOD).queue("nope")


def test_center_called_number_first_then_longest_prefix_then_default() -> None:
    rules = parse_routing(GOOD)
    assert rules.center_for("035112306", "01012345678") == "太原"  # called number wins
    assert rules.center_for("12306", "03517654321") == "太原"  # 0351 beats 035
    assert rules.center_for("12306", "03521234567") == "上海"  # only 035 matches
    assert rules.center_for("12306", "+86 139 0351 1234") == "太原"  # mobile, country code
    assert rules.center_for("12306", "013903511234") == "太原"  # mobile with a trunk 0
    assert rules.center_for("12306", "07551234567") == "北京"  # default
    assert rules.center_for(None, None) == "北京"


def test_overflow_centers_any_and_listed_exclude_origin() -> None:
    rules = parse_routing(GOOD)
    assert rules.overflow_centers("general", "上海") == ["北京", "太原"]
    assert rules.overflow_centers("assistance", "北京") == ["上海"]
    assert rules.overflow_centers("assistance", "上海") == []


def test_unknown_skill_is_reported_at_its_line_with_the_known_skills() -> None:
    bad = GOOD.replace("skill: assistance", "skill: wheelchair")
    [problem] = problems_of(bad)
    assert problem.startswith("r.yaml:7: queues.assistance.skill: ")
    assert "known skills: ticket, refund_change" in problem


def test_skill_map_value_and_unknown_key_reported_at_their_lines() -> None:
    bad = GOOD.replace("refund: refund_change", "refund: refunds")
    assert problems_of(bad)[0].startswith("r.yaml:5: queues.general.skill_from.map.refund")
    problems = problems_of(GOOD, known_hints={"refund"})
    assert problems == ["r.yaml:5: queue general: 'order_query' is neither a menu branch of "
                        "the flows nor a recognised intent"]


def test_reference_problems_name_their_lines() -> None:
    bad = (GOOD.replace("to: [上海]", "to: [广州]")
           .replace("default: 北京", "default: 南京")
           .replace('"0351": 太原', '"0351": 西安')
           .replace('"035112306"', '"0351-12306"'))
    assert problems_of(bad) == [
        "r.yaml:9: queue assistance: overflow to unknown center '广州' (known: 北京, 上海, 太原)",
        "r.yaml:12: default center '南京' is not a center (known: 北京, 上海, 太原)",
        "r.yaml:13: '0351-12306' is not a number (digits only)",
        "r.yaml:14: '西安' is not a center (known: 北京, 上海, 太原)",
    ]


def test_structure_problems_name_their_lines() -> None:
    assert problems_of(GOOD.replace("    priority: true\n", "    priority: maybe\n"))[0] \
        .startswith("r.yaml:8: queues.assistance.priority: ")
    assert problems_of(GOOD.replace("    priority: true\n", "    priorty: true\n"))[0] \
        .startswith("r.yaml:8: queues.assistance.priorty: Extra inputs")
    both = GOOD.replace("    skill: assistance\n", "    skill: assistance\n    skill_from: "
                        "{default: ticket}\n")
    assert problems_of(both) == [
        "r.yaml:6: queues.assistance: Value error, a queue needs exactly one of skill or "
        "skill_from"]
    assert problems_of(GOOD.replace("after: 20", "after: -1"))[0].startswith(
        "r.yaml:9: queues.assistance.overflow.after: ")
    assert problems_of(GOOD.replace("  general:", "  General:"))[0].startswith(
        "r.yaml:2: queues.General")


def test_general_queue_is_required_and_duplicates_are_caught() -> None:
    no_general = GOOD.replace("  general:", "  other:")
    assert problems_of(no_general) == [
        "r.yaml:1: queue 'general' is required (the IVR's fallback)"]
    twice = GOOD.replace("  assistance:\n", "  general:\n    skill: ticket\n  assistance:\n")
    assert problems_of(twice) == ["r.yaml:6: 'general' is defined twice (first on line 2)"]


def test_yaml_syntax_and_missing_sections() -> None:
    assert problems_of("queues: [\n  :")[0].startswith("r.yaml:")
    assert problems_of("queues: {}\n") == ["r.yaml:1: centers: Field required"]


def test_shipped_routing_file_and_flows_check_clean() -> None:
    result = check_routing()
    assert result.problems == []
    assert result.rules is not None and result.flows
    rules = result.rules
    expected = {"general", "assistance", "ticket", "refund_change", "train_status",
                "lost_found", "complaint", "english", "expert"}
    assert expected <= set(rules.queues)
    assert rules.queue("assistance").priority
    assert set(rules.centers.names) == {"北京", "上海", "太原"}
    # every main-menu branch chooses its skill
    for branch, skill in [("order_query", "ticket"), ("refund_change", "refund_change"),
                          ("train_status", "train_status"), ("lost_found", "lost_found"),
                          ("complaint", "complaint"), ("assistance", "assistance"),
                          ("english", "english")]:
        assert rules.skill_for("general", [branch]) == skill


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


FLOW = """\
flow: f
start: main
nodes:
  main:
    - enqueue: {queue: general, reason: r}
  order_query:
    - enqueue: {queue: lost, reason: r}
"""


def test_check_reports_flow_enqueue_of_unknown_queue(tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    routing = write(tmp_path, "r.yaml", GOOD)
    flow = write(tmp_path, "f.yaml", FLOW)
    result = check_routing(routing, [flow])
    assert [str(p) for p in result.problems] == [
        f"{flow}:7: enqueue: queue 'lost' is not in the routing file {routing} "
        "(known: assistance, general)"]
    assert main(["routing", "check", str(routing), "--flows", str(flow)]) == 1
    assert f"{flow}:7: enqueue: queue 'lost'" in capsys.readouterr().err
    fixed = write(tmp_path, "g.yaml", FLOW.replace("queue: lost", "queue: assistance"))
    assert main(["routing", "check", str(routing), "--flows", str(fixed)]) == 0
    assert "ok (2 queues, 3 centers, 1 flows checked)" in capsys.readouterr().out


def test_check_command_prints_routing_problems(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    routing = write(tmp_path, "r.yaml", GOOD.replace("skill: assistance", "skill: x"))
    flow = write(tmp_path, "f.yaml", FLOW.replace("queue: lost", "queue: general"))
    assert main(["routing", "check", str(routing), "--flows", str(flow)]) == 1
    assert capsys.readouterr().err.startswith(f"{routing}:7: queues.assistance.skill")
    assert main(["routing", "check", str(tmp_path / "missing.yaml"), "--flows", str(flow)]) == 1
    assert "missing.yaml:0: cannot read" in capsys.readouterr().err


def test_check_without_a_file_checks_the_platforms_routing_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    from app.config import get_settings

    routing = write(tmp_path, "r.yaml", GOOD.replace("skill: assistance", "skill: x"))
    flow = write(tmp_path, "f.yaml", FLOW.replace("queue: lost", "queue: general"))
    monkeypatch.setenv("HOTLINE_ROUTING_FILE", str(routing))
    get_settings.cache_clear()
    try:
        assert main(["routing", "check", "--flows", str(flow)]) == 1
    finally:
        get_settings.cache_clear()
    assert capsys.readouterr().err.startswith(f"{routing}:7: queues.assistance.skill")


def test_shipped_file_loads() -> None:
    assert load_routing(ROUTING_FILE).centers.default == "北京"


def test_a_yaml_syntax_error_names_file_and_line() -> None:
    with pytest.raises(RoutingError, match=r"r.yaml:3: not valid YAML"):
        parse_routing("queues:\n  general: [\n", "r.yaml")


def test_retention_days_per_queue_and_none_by_default() -> None:
    rules = parse_routing(GOOD.replace("    priority: true\n",
                                       "    priority: true\n    retention_days: 365\n"))
    assert rules.queue("assistance").retention_days == 365
    assert rules.queue("general").retention_days is None


@pytest.mark.parametrize("value", ["0", "-3", '"30"', "yes", ".inf", "[30]"])
def test_a_retention_that_is_not_a_positive_number_names_file_line_and_queue(
        value: str) -> None:
    bad = GOOD.replace("    priority: true\n", f"    priority: true\n    retention_days: {value}\n")
    [problem] = problems_of(bad)
    assert problem.startswith("r.yaml:9: queue assistance: retention_days must be a number of "
                              "days above 0 (got ")
