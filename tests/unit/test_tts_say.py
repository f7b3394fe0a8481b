"""Numbers, times, dates and codes as callers hear them (app.tts.say)."""

from __future__ import annotations

from datetime import date, datetime, time
from decimal import Decimal

import pytest

from app.tts import say


@pytest.mark.parametrize(
    ("n", "plain", "counting"),
    [
        (0, "零", "零"),
        (1, "一", "一"),
        (2, "二", "两"),
        (10, "十", "十"),
        (12, "十二", "十二"),
        (20, "二十", "二十"),
        (22, "二十二", "二十二"),
        (101, "一百零一", "一百零一"),
        (110, "一百一十", "一百一十"),
        (200, "二百", "两百"),
        (1010, "一千零一十", "一千零一十"),
        (1200, "一千二百", "一千两百"),
        (2000, "两千", "两千"),
        (2002, "两千零二", "两千零二"),
        (10010, "一万零一十", "一万零一十"),
        (20000, "两万", "两万"),
        (22000, "两万两千", "两万两千"),
        (100001, "十万零一", "十万零一"),
        (120000, "十二万", "十二万"),
        (1000001, "一百万零一", "一百万零一"),
        (100010000, "一亿零一万", "一亿零一万"),
        (-5, "负五", "负五"),
    ],
)
def test_zh_number(n: int, plain: str, counting: str) -> None:
    assert say.zh_number(n) == plain
    assert say.zh_number(n, counting=True) == counting


def test_zh_count_uses_liang_before_measure_words() -> None:
    assert say.zh_count(2, "个小时") == "两个小时"
    assert say.zh_count(2, "张") == "两张"
    assert say.zh_count(12, "张") == "十二张"


def test_digit_strings_use_yao_for_one() -> None:
    assert say.zh_digits("E123456789") == "E幺二三四五六七八九"
    assert say.zh_digits("e 1230-1") == "E幺二三零幺"
    assert say.zh_digits("E123456789", group=3) == "E，幺二三，四五六，七八九"
    assert say.zh_digits("12306") == "幺二三零六"


@pytest.mark.parametrize(
    ("number", "zh", "en"),
    [
        ("G101", "G幺零幺", "G one zero one"),
        ("k1234", "K幺二三四", "K one two three four"),
        ("D7", "D七", "D seven"),
        ("1461", "幺四六幺", "one four six one"),
    ],
)
def test_train_numbers(number: str, zh: str, en: str) -> None:
    assert say.zh_train(number) == zh
    assert say.en_train(number) == en
    assert say.train(number, "zh") == zh


@pytest.mark.parametrize("bad", ["", "GG101", "G", "G123456", "高铁"])
def test_bad_train_numbers_are_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="train number"):
        say.zh_train(bad)


@pytest.mark.parametrize(
    ("value", "zh", "en"),
    [
        ("08:15", "八点十五分", "eight fifteen"),
        ("08:00", "八点整", "eight o'clock"),
        ("12:05", "十二点零五分", "twelve oh five"),
        ("02:30", "两点三十分", "two thirty"),
        ("00:10", "零点十分", "zero ten"),
        ("20:30", "二十点三十分", "twenty thirty"),
        ("20:00", "二十点整", "twenty hundred"),
        ("22:22", "二十二点二十二分", "twenty-two twenty-two"),
        (time(9, 41), "九点四十一分", "nine forty-one"),
        (datetime(2026, 1, 1, 17, 1), "十七点零一分", "seventeen oh one"),
    ],
)
def test_times(value: str | time | datetime, zh: str, en: str) -> None:
    assert say.zh_time(value) == zh
    assert say.en_time(value) == en


@pytest.mark.parametrize("bad", ["24:00", "8:60", "815", "noon"])
def test_bad_times_are_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="HH:MM"):
        say.clock(bad, "zh")


def test_dates() -> None:
    assert say.zh_date("2026-12-05") == "十二月五日"
    assert say.zh_date(date(2026, 10, 21)) == "十月二十一日"
    assert say.zh_date("2026-12-05", with_year=True) == "二零二六年十二月五日"
    assert say.en_date("2026-12-05") == "December fifth"
    assert say.en_date("2026-03-22") == "March twenty-second"
    assert say.en_date("2026-12-21", with_year=True) == "December twenty-first, twenty twenty-six"
    with pytest.raises(ValueError, match="YYYY-MM-DD"):
        say.day("05/12/2026", "zh")


@pytest.mark.parametrize(
    ("minutes", "zh", "en"),
    [
        (0, "零分钟", "zero minutes"),
        (1, "一分钟", "one minute"),
        (2, "两分钟", "two minutes"),
        (12, "十二分钟", "twelve minutes"),
        (60, "一小时", "one hour"),
        (75, "一小时十五分钟", "one hour fifteen minutes"),
        (120, "两小时", "two hours"),
        (150, "两小时三十分钟", "two hours thirty minutes"),
    ],
)
def test_durations(minutes: int, zh: str, en: str) -> None:
    assert say.zh_duration(minutes) == zh
    assert say.en_duration(minutes) == en
    assert say.duration(minutes, "en") == en


@pytest.mark.parametrize(
    ("amount", "zh", "en"),
    [
        (553.5, "五百五十三元五角", "five hundred and fifty-three point five yuan"),
        ("553.05", "五百五十三元零五分", "five hundred and fifty-three point zero five yuan"),
        (Decimal("1.55"), "一元五角五分", "one point five five yuan"),
        (0.5, "五角", "zero point five yuan"),
        (0, "零元", "zero yuan"),
        (2, "两元", "two yuan"),
        (200, "两百元", "two hundred yuan"),
        (102, "一百零二元", "one hundred and two yuan"),
        ("12.22", "十二元二角二分", "twelve point two two yuan"),
        (0.125, "一角三分", "zero point one three yuan"),  # rounded to the fen
    ],
)
def test_prices(amount: float | str | Decimal, zh: str, en: str) -> None:
    assert say.zh_price(amount) == zh
    assert say.en_price(amount) == en


def test_bad_prices_are_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        say.zh_price(-1)
    with pytest.raises(ValueError, match="not a number"):
        say.price("abc", "zh")


def test_coach_and_seat() -> None:
    assert say.zh_seat("05", "12A") == "五车十二A号"
    assert say.zh_seat(3, "012下铺") == "三车十二号下铺"
    assert say.zh_seat("10", "2F号") == "十车二F号"
    assert say.en_seat("05", "12A") == "coach five, seat twelve A"
    assert say.parse_seat("05车12A号") == ("05", "12A")
    assert say.parse_seat("03车012号下铺") == ("03", "012下铺")
    assert say.zh_seat(*say.parse_seat("05车12A号")) == "五车十二A号"


def test_percent_and_decimal() -> None:
    assert say.zh_percent(5) == "百分之五"
    assert say.zh_percent("12.5") == "百分之十二点五"
    assert say.en_percent(20) == "twenty percent"
    assert say.zh_decimal("0.05") == "零点零五"


@pytest.mark.parametrize(
    ("n", "words"),
    [
        (0, "zero"),
        (13, "thirteen"),
        (45, "forty-five"),
        (101, "one hundred and one"),
        (1100, "one thousand one hundred"),
        (2026, "two thousand and twenty-six"),
        (120000, "one hundred and twenty thousand"),
        (1000005, "one million and five"),
    ],
)
def test_en_number(n: int, words: str) -> None:
    assert say.en_number(n) == words


def test_en_ordinals_and_years() -> None:
    assert [say.en_ordinal(n) for n in (1, 2, 3, 5, 12, 20, 21, 100)] == [
        "first", "second", "third", "fifth", "twelfth", "twentieth", "twenty-first",
        "one hundredth",
    ]  # fmt: skip
    assert say.en_year(2026) == "twenty twenty-six"
    assert say.en_year(2005) == "two thousand and five"
    assert say.en_year(1905) == "nineteen oh five"
    assert say.en_year(1900) == "nineteen hundred"


def test_en_digits() -> None:
    assert say.en_digits("E123") == "E, one two three"
    assert say.en_digits("E123456", group=3) == "E, one two three, four five six"
    assert say.digits("12306", "en") == "one two three zero six"


def test_unknown_language_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown language"):
        say.number(1, "fr")
