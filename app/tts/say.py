"""Numbers, times, dates and codes as a caller should hear them, in Mandarin and English.

Pure functions returning text for the synthesiser. Mandarin follows telephone and railway
custom: digit strings (order and train numbers) are read one digit at a time with 幺 for 1,
the 24-hour clock is used (二十点三十分), and 两 replaces 二 where people say it (两千, 两万,
两小时, 两个). English follows British railway usage to match the en-GB voice ("twenty
fifteen", "one hundred and one").
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime, time
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import TypeVar

Number = int | float | Decimal | str
TimeLike = str | time | datetime
DateLike = str | date
T = TypeVar("T")

ZH_DIGITS = "零一二三四五六七八九"
ZH_CODE_DIGITS = "零幺二三四五六七八九"  # 幺 for 1: "yi" is too easily misheard as "qi" (7)
_ZH_SECTIONS = ["", "万", "亿", "万亿"]
_ZH_PLACES = [(1000, "千"), (100, "百"), (10, "十")]

EN_ONES = [
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
    "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen",
    "nineteen",
]  # fmt: skip
EN_TENS = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
EN_SCALES = [(10**12, "trillion"), (10**9, "billion"), (10**6, "million"), (1000, "thousand")]
EN_ORDINAL_IRREGULAR = {
    "one": "first", "two": "second", "three": "third", "five": "fifth", "eight": "eighth",
    "nine": "ninth", "twelve": "twelfth",
}  # fmt: skip
EN_MONTHS = [
    "January", "February", "March", "April", "May", "June", "July", "August", "September",
    "October", "November", "December",
]  # fmt: skip

_CODE = re.compile(r"^([A-Z]*)(\d*)$")
_TRAIN = re.compile(r"^([A-Z]?)(\d{1,5})$")
_SEAT = re.compile(r"^0*(\d+)([A-Z]?)(.*)$")
_SEAT_LABEL = re.compile(r"^\s*(\d+)\s*车\s*(\d+[A-Za-z]?)\s*号?\s*(.*)$")


# --- Mandarin --------------------------------------------------------------------------------


def _zh_section(n: int, *, alone: bool, counting: bool) -> str:
    """0 < n < 10000; `alone`: the section leads the number (so 10-19 read 十X, not 一十X)."""
    out, gap = "", False
    for value, name in _ZH_PLACES:
        d, n = divmod(n, value)
        if d:
            out += "零" if gap else ""
            if value == 10 and d == 1 and alone and not out:
                digit = ""
            elif d == 2 and (value == 1000 or (value == 100 and counting)):
                digit = "两"
            else:
                digit = ZH_DIGITS[d]
            out += digit + name
            gap = False
        elif out:
            gap = True
    if n:
        out += ("零" if gap else "") + ZH_DIGITS[n]
    return out


def zh_number(n: int, *, counting: bool = False) -> str:
    """An integer in Mandarin: 101 → 一百零一, 110 → 一百一十, 2000 → 两千, 20000 → 两万.

    counting=True when a measure word follows (两个, 两张, 两百元): a bare 2 becomes 两,
    and so does a 2 in the hundreds.
    """
    if n < 0:
        return "负" + zh_number(-n, counting=counting)
    if n == 0:
        return ZH_DIGITS[0]
    if n == 2:
        return "两" if counting else "二"
    sections: list[int] = []
    while n:
        n, rest = divmod(n, 10000)
        sections.append(rest)
    if len(sections) > len(_ZH_SECTIONS):
        raise ValueError("number too large to read out")
    out, gap = "", False
    for index in range(len(sections) - 1, -1, -1):
        section = sections[index]
        if not section:
            gap = bool(out)
            continue
        # A section below 1000 after a higher one starts with 零: 一万零一, 一亿零五百.
        if out and (gap or section < 1000):
            out += "零"
        if section == 2 and index > 0:
            text = "两"  # 两万, 两亿
        else:
            text = _zh_section(section, alone=not out, counting=counting)
        out += text + _ZH_SECTIONS[index]
        gap = False
    return out


def zh_count(n: int, measure: str) -> str:
    """A quantity with its measure word: (2, "个小时") → 两个小时, (3, "张") → 三张."""
    return zh_number(n, counting=True) + measure


def zh_digits(code: str, *, group: int = 0) -> str:
    """A code digit by digit, letters kept: E123456789 → E幺二三四五六七八九.

    group=3 puts a pause (，) between groups of digits: E，幺二三，四五六，七八九.
    """
    letters, digits = _split_code(code)
    spoken = [ZH_CODE_DIGITS[int(c)] for c in digits]
    if group > 0 and len(spoken) > group:
        chunks = ["".join(spoken[i : i + group]) for i in range(0, len(spoken), group)]
        return "，".join(([letters] if letters else []) + chunks)
    return letters + "".join(spoken)


def zh_train(number: str) -> str:
    """A train number as said on the phone: G101 → G幺零幺, K1234 → K幺二三四."""
    letter, digits = _split_train(number)
    return letter + "".join(ZH_CODE_DIGITS[int(c)] for c in digits)


def zh_decimal(value: Number) -> str:
    """553.5 → 五百五十三点五; digits after the point one by one."""
    amount = _decimal(value)
    sign = "负" if amount < 0 else ""
    whole, _, frac = format(abs(amount), "f").partition(".")
    text = sign + zh_number(int(whole))
    frac = frac.rstrip("0")
    return text + ("点" + "".join(ZH_DIGITS[int(c)] for c in frac) if frac else "")


def zh_percent(value: Number) -> str:
    """5 → 百分之五, 12.5 → 百分之十二点五."""
    return "百分之" + zh_decimal(value)


def zh_time(value: TimeLike) -> str:
    """24-hour clock time: 08:15 → 八点十五分, 08:00 → 八点整, 12:05 → 十二点零五分."""
    hour, minute = _hour_minute(value)
    spoken_hour = "两" if hour == 2 else zh_number(hour)
    if minute == 0:
        return f"{spoken_hour}点整"
    return f"{spoken_hour}点{'零' if minute < 10 else ''}{zh_number(minute)}分"


def zh_date(value: DateLike, *, with_year: bool = False) -> str:
    """2026-12-05 → 十二月五日 (with_year: 二零二六年十二月五日, the year digit by digit)."""
    day = _date(value)
    text = f"{zh_number(day.month)}月{zh_number(day.day)}日"
    if with_year:
        text = "".join(ZH_DIGITS[int(c)] for c in str(day.year)) + "年" + text
    return text


def zh_duration(minutes: int) -> str:
    """A span in minutes: 75 → 一小时十五分钟, 120 → 两小时, 2 → 两分钟."""
    if minutes < 0:
        raise ValueError("a duration cannot be negative")
    hours, rest = divmod(minutes, 60)
    text = zh_count(hours, "小时") if hours else ""
    if rest or not hours:
        text += zh_count(rest, "分钟")
    return text


def zh_price(value: Number) -> str:
    """An amount in yuan: 553.5 → 五百五十三元五角, 0.05 → 五分, 200 → 两百元."""
    yuan, jiao, fen = _money(value)
    text = zh_count(yuan, "元") if yuan or not (jiao or fen) else ""
    if jiao:
        text += ZH_DIGITS[jiao] + "角"  # 二角, as prices are read out
    elif fen and yuan:
        text += "零"
    if fen:
        text += ZH_DIGITS[fen] + "分"
    return text


def zh_seat(coach: str | int, seat: str) -> str:
    """Coach and seat: ("05", "12A") → 五车十二A号; ("3", "012下铺") → 三车十二号下铺."""
    number, letter, rest = _split_seat(seat)
    return f"{zh_number(int(coach))}车{zh_number(number)}{letter}号{rest}"


def parse_seat(label: str) -> tuple[str, str]:
    """"05车12A号" → ("05", "12A"); "03车012号下铺" → ("03", "012下铺")."""
    match = _SEAT_LABEL.match(label)
    if not match:
        raise ValueError(f"not a coach and seat label: {label!r}")
    coach, seat, rest = match.groups()
    return coach, seat + rest


# --- English ---------------------------------------------------------------------------------


def _en_below_1000(n: int) -> str:
    hundreds, rest = divmod(n, 100)
    parts = [f"{EN_ONES[hundreds]} hundred"] if hundreds else []
    if rest:
        if rest < 20:
            words = EN_ONES[rest]
        else:
            tens, ones = divmod(rest, 10)
            words = EN_TENS[tens] + (f"-{EN_ONES[ones]}" if ones else "")
        parts.append(("and " if hundreds else "") + words)
    return " ".join(parts)


def en_number(n: int) -> str:
    """An integer in British English: 101 → one hundred and one, 2026 → two thousand and
    twenty-six."""
    if n < 0:
        return "minus " + en_number(-n)
    if n == 0:
        return EN_ONES[0]
    parts: list[str] = []
    for value, name in EN_SCALES:
        count, n = divmod(n, value)
        if count:
            parts.append(f"{en_number(count)} {name}")
    if n:
        # "two thousand and five": a last group below 100 is joined with "and".
        parts.append(("and " if parts and n < 100 else "") + _en_below_1000(n))
    return " ".join(parts)


def en_ordinal(n: int) -> str:
    """5 → fifth, 21 → twenty-first, 100 → one hundredth."""
    words = en_number(n)
    head, sep, last = words.rpartition(" ")
    stem_head, dash, stem = last.rpartition("-")
    if stem in EN_ORDINAL_IRREGULAR:
        stem = EN_ORDINAL_IRREGULAR[stem]
    elif stem.endswith("y"):
        stem = stem[:-1] + "ieth"
    else:
        stem += "th"
    return head + sep + stem_head + dash + stem


def en_digits(code: str, *, group: int = 0) -> str:
    """A code digit by digit: E123 → E, one two three."""
    letters, digits = _split_code(code)
    spoken = [EN_ONES[int(c)] for c in digits]
    chunks = [" ".join(spoken)]
    if group > 0:
        chunks = [" ".join(spoken[i : i + group]) for i in range(0, len(spoken), group)]
    parts = ([" ".join(letters)] if letters else []) + [c for c in chunks if c]
    return ", ".join(parts)


def en_train(number: str) -> str:
    """G101 → G one zero one."""
    letter, digits = _split_train(number)
    return " ".join(([letter] if letter else []) + [EN_ONES[int(c)] for c in digits])


def en_decimal(value: Number) -> str:
    """553.5 → five hundred and fifty-three point five."""
    amount = _decimal(value)
    sign = "minus " if amount < 0 else ""
    whole, _, frac = format(abs(amount), "f").partition(".")
    frac = frac.rstrip("0")
    text = sign + en_number(int(whole))
    return text + (" point " + " ".join(EN_ONES[int(c)] for c in frac) if frac else "")


def en_percent(value: Number) -> str:
    return en_decimal(value) + " percent"


def en_time(value: TimeLike) -> str:
    """24-hour clock as British timetables say it: 08:15 → eight fifteen, 08:00 → eight
    o'clock, 12:05 → twelve oh five, 20:30 → twenty thirty, 20:00 → twenty hundred."""
    hour, minute = _hour_minute(value)
    spoken_hour = en_number(hour)
    if minute == 0:
        return f"{spoken_hour} o'clock" if 1 <= hour <= 12 else f"{spoken_hour} hundred"
    return f"{spoken_hour} {'oh ' if minute < 10 else ''}{en_number(minute)}"


def en_year(year: int) -> str:
    """2026 → twenty twenty-six, 2005 → two thousand and five, 1905 → nineteen oh five."""
    high, low = divmod(year, 100)
    if 2000 <= year < 2010 or (low == 0 and high % 10 == 0):
        return en_number(year)
    if low == 0:
        return f"{en_number(high)} hundred"
    return f"{en_number(high)} {'oh ' if low < 10 else ''}{en_number(low)}"


def en_date(value: DateLike, *, with_year: bool = False) -> str:
    """2026-12-05 → December fifth (with_year: December fifth, twenty twenty-six)."""
    day = _date(value)
    text = f"{EN_MONTHS[day.month - 1]} {en_ordinal(day.day)}"
    return f"{text}, {en_year(day.year)}" if with_year else text


def en_duration(minutes: int) -> str:
    """75 → one hour fifteen minutes, 1 → one minute, 120 → two hours."""
    if minutes < 0:
        raise ValueError("a duration cannot be negative")
    hours, rest = divmod(minutes, 60)
    parts = [_en_plural(hours, "hour")] if hours else []
    if rest or not hours:
        parts.append(_en_plural(rest, "minute"))
    return " ".join(parts)


def en_price(value: Number) -> str:
    """553.5 → five hundred and fifty-three point five yuan; 1 → one yuan."""
    yuan, jiao, fen = _money(value)
    return en_decimal(Decimal(yuan) + Decimal(jiao) / 10 + Decimal(fen) / 100) + " yuan"


def en_seat(coach: str | int, seat: str) -> str:
    """("05", "12A") → coach five, seat twelve A."""
    number, letter, rest = _split_seat(seat)
    text = f"coach {en_number(int(coach))}, seat {en_number(number)}"
    return text + (f" {letter}" if letter else "") + (f" {rest}" if rest else "")


def _en_plural(n: int, noun: str) -> str:
    return f"{en_number(n)} {noun}{'' if n == 1 else 's'}"


# --- by language -----------------------------------------------------------------------------


def _pick(lang: str, zh: T, en: T) -> T:
    if lang == "zh":
        return zh
    if lang == "en":
        return en
    raise ValueError(f"unknown language {lang!r} (zh or en)")


def number(n: int, lang: str) -> str:
    return _pick(lang, zh_number, en_number)(n)


def digits(code: str, lang: str, *, group: int = 0) -> str:
    return _pick(lang, zh_digits, en_digits)(code, group=group)


def train(number: str, lang: str) -> str:
    return _pick(lang, zh_train, en_train)(number)


def clock(value: TimeLike, lang: str) -> str:
    return _pick(lang, zh_time, en_time)(value)


def day(value: DateLike, lang: str, *, with_year: bool = False) -> str:
    return _pick(lang, zh_date, en_date)(value, with_year=with_year)


def duration(minutes: int, lang: str) -> str:
    return _pick(lang, zh_duration, en_duration)(minutes)


def price(value: Number, lang: str) -> str:
    return _pick(lang, zh_price, en_price)(value)


def percent(value: Number, lang: str) -> str:
    return _pick(lang, zh_percent, en_percent)(value)


def seat(coach: str | int, seat_number: str, lang: str) -> str:
    speak: Callable[[str | int, str], str] = _pick(lang, zh_seat, en_seat)
    return speak(coach, seat_number)


# --- parsing ---------------------------------------------------------------------------------


def _split_code(code: str) -> tuple[str, str]:
    match = _CODE.match(code.replace(" ", "").replace("-", "").upper())
    if not match or not code.strip():
        raise ValueError(f"not a code of letters then digits: {code!r}")
    return match.group(1), match.group(2)


def _split_train(number: str) -> tuple[str, str]:
    match = _TRAIN.match(number.strip().upper())
    if not match:
        raise ValueError(f"not a train number: {number!r}")
    return match.group(1), match.group(2)


def _split_seat(seat: str) -> tuple[int, str, str]:
    match = _SEAT.match(seat.strip().upper())
    if not match:
        raise ValueError(f"not a seat number: {seat!r}")
    return int(match.group(1)), match.group(2), match.group(3).strip().removesuffix("号")


def _decimal(value: Number) -> Decimal:
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        raise ValueError(f"not a number: {value!r}") from None
    if not amount.is_finite():
        raise ValueError(f"not a number: {value!r}")
    return amount


def _money(value: Number) -> tuple[int, int, int]:
    cents = int((_decimal(value) * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))
    if cents < 0:
        raise ValueError(f"a price cannot be negative: {value!r}")
    yuan, rest = divmod(cents, 100)
    return yuan, rest // 10, rest % 10


def _hour_minute(value: TimeLike) -> tuple[int, int]:
    if isinstance(value, datetime | time):
        return value.hour, value.minute
    match = re.fullmatch(r"\s*(\d{1,2})[:：](\d{2})(?::\d{2})?\s*", value)
    if not match or int(match.group(1)) > 23 or int(match.group(2)) > 59:
        raise ValueError(f"not a time of day (HH:MM): {value!r}")
    return int(match.group(1)), int(match.group(2))


def _date(value: DateLike) -> date:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise ValueError(f"not a date (YYYY-MM-DD): {value!r}") from None
