"""Entity extraction and spoken numbers on transcripts (no audio)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import pytest

from app.asr.entities import extract, extract_best
from app.asr.numbers import find_runs, parse_numeral

TODAY = date(2025, 11, 23)  # a Sunday
STATIONS = ["北京南", "北京西", "上海虹桥", "广州南", "武汉", "南京南", "郑州东"]


def found(text: str, known_trains: Sequence[str] = (), expect: str | None = None
          ) -> list[tuple[str, str]]:
    return [(e.kind, e.value) for e in extract(text, today=TODAY, stations=STATIONS,
                                               known_trains=known_trains, expect=expect)]


@pytest.mark.parametrize(("text", "value"), [
    ("G一零一次", "G101"),
    ("G幺零幺", "G101"),
    ("G一百零一次", "G101"),
    ("鸡幺零幺次", "G101"),  # the letter as Chinese speakers say it
    ("高铁一百零一次", "G101"),
    ("D三零一", "D301"),
    ("动车三零一", "D301"),
    ("K一二三四次列车", "K1234"),
    ("K一千二百三十四次", "K1234"),
    ("Z十九次", "Z19"),
    ("T一百零九次", "T109"),
    ("G两零五次", "G205"),
    ("我坐的是G幺幺零次", "G110"),
    ("G洞幺洞", "G010"),
])
def test_train_numbers(text: str, value: str) -> None:
    assert ("train_no", value) in found(text)


def test_train_number_without_letter() -> None:
    assert found("一零一次") == [("train_no", "101")]
    assert found("一零一次", known_trains=["G101", "D102"]) == [("train_no", "G101")]
    # Two known trains fit: the letter stays open.
    assert found("一零一次", known_trains=["G101", "D101"]) == [("train_no", "101")]
    assert found("三零一") == [("digits", "301")]
    assert found("三零一", expect="train_no") == [("train_no", "301")]
    assert found("列车八") == []  # a lone digit is no train number without its letter


@pytest.mark.parametrize(("text", "value"), [
    ("订单号是E一二三四五六七八九", "E123456789"),
    ("订单号是一一二三四五六七八九", "E123456789"),  # E spoken "yi" like 一
    ("订单号衣一二三四五六七八九", "E123456789"),
    ("订单号是一二三四五六七八九", "E123456789"),  # E not heard at all
    ("我的订单后酒吧七六五次三二一", "E987654321"),  # 九→酒, 八→吧, 四→次
    ("一九八七六五四三二一", "E987654321"),
])
def test_order_numbers(text: str, value: str) -> None:
    assert ("order_no", value) in found(text)


def test_nine_digits_are_an_order_number_only_in_context() -> None:
    assert found("一二三四五六七八九") == [("digits", "123456789")]
    assert found("一二三四五六七八九", expect="order_no") == [("order_no", "E123456789")]


@pytest.mark.parametrize(("text", "value"), [
    ("今天", "2025-11-23"),
    ("明天的票", "2025-11-24"),
    ("后天", "2025-11-25"),
    ("大后天", "2025-11-26"),
    ("昨天丢的", "2025-11-22"),
    ("十二月五号", "2025-12-05"),
    ("十二月五日", "2025-12-05"),
    ("12月5号", "2025-12-05"),
    ("一月二号", "2026-01-02"),  # the coming January, not last one
    ("十一月二十号丢的", "2025-11-20"),
    ("二十五号", "2025-11-25"),
    ("下周三", "2025-11-26"),
    ("下个礼拜天", "2025-11-30"),
    ("星期二", "2025-11-25"),
])
def test_dates(text: str, value: str) -> None:
    assert ("date", value) in found(text)


def test_impossible_dates_and_car_numbers_are_not_dates() -> None:
    assert not [k for k, _ in found("二月三十号") if k == "date"]
    assert found("我在三号车厢") == []


@pytest.mark.parametrize(("text", "value"), [
    ("六六八八", "6688"),
    ("幺零二四", "1024"),
    ("身份证后四位是六六八八", "6688"),
    ("尾号幺三五七", "1357"),
    ("六六粑粑", "6688"),  # 八 written as a sound-alike
    ("电话是幺三八零零一二三四五六", "13800123456"),
])
def test_digit_strings(text: str, value: str) -> None:
    assert ("digits", value) in found(text)


def test_words_that_sound_like_digits_are_not_digits() -> None:
    assert found("我要查一下") == []
    assert found("我要三张票") == []
    assert found("好吧") == []


def test_stations_by_name_and_by_sound() -> None:
    assert found("从北京南到上海虹桥") == [("station", "北京南"), ("station", "上海虹桥")]
    assert found("我在武汉站") == [("station", "武汉")]
    assert found("到南经南") == [("station", "南京南")]  # 京 written 经
    assert found("我在杭州") == []


def test_mixed_utterance() -> None:
    assert found("我要改签到十二月五号的G一零一次") == [
        ("date", "2025-12-05"), ("train_no", "G101")]


def test_best_over_hypotheses() -> None:
    hyps = [("订单号是一二三四五六七八九", 0.5), ("订单好事一二三四五六七八九", 0.3),
            ("订单号是一二三次五六七", 0.2)]
    assert [(e.kind, e.value) for e in extract_best(hyps, today=TODAY)] == [
        ("order_no", "E123456789")]


@pytest.mark.parametrize(("text", "value"), [
    ("一百零一", 101), ("十二", 12), ("二十", 20), ("两千零二十五", 2025), ("一百一", 110),
    ("一千二百三十四", 1234), ("三十八", 38), ("一零一", None), ("十", 10),
])
def test_numerals(text: str, value: int | None) -> None:
    assert parse_numeral(text) == value


def test_digit_runs_trim_unsure_edges() -> None:
    # 次 between digits is a 四 heard as ci; at the end it is the train-number suffix.
    assert [r.digits for r in find_runs("五次三")] == ["543"]
    assert [r.digits for r in find_runs("一零一次")] == ["101"]
