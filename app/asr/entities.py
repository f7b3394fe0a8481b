"""Entities in a caller's words: order numbers, train numbers, dates, digit strings, stations.

Normalised values: order_no "E123456789", train_no "G101" (just "101" when no letter was
heard and no known train settles it), date "2025-12-05", digits "6688", station as listed.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

from app.asr.numbers import NumberRun, find_runs
from app.asr.phonetic import similarity, syllables
from app.core.trains import TRAIN_LETTERS

CHINA = timezone(timedelta(hours=8))  # no daylight saving: a fixed offset is exact
KINDS = ("order_no", "train_no", "date", "digits", "station")

# Letters as Chinese speakers say them (G = "ji", K = "kai"), by toneless syllable.
LETTER_SYLLABLES = {
    "ji": "G", "di": "D", "kai": "K", "ke": "K", "kei": "K", "zei": "Z", "ze": "Z",
    "ti": "T", "te": "T", "xi": "C", "sei": "C",
}
# Train classes named by their Chinese name instead of the letter.
LETTER_WORDS = {"高铁": "G", "动车": "D", "城际": "C", "直达": "Z", "特快": "T", "快速": "K"}
E_SYLLABLES = frozenset({"yi", "e", "ei"})
# 第 makes an ordinal (第二), not a letter D.
NOT_LETTERS = frozenset("第的地得")
TRAIN_CONTEXT = ("车次", "列车", "火车", "高铁", "动车", "这趟", "那趟", "班车")
ORDER_CONTEXT = ("订单", "单号", "订单号")
RELATIVE_DAYS = {"大后天": 3, "后天": 2, "明天": 1, "今天": 0, "昨天": -1, "前天": -2,
                 "明日": 1, "今日": 0}
WEEKDAYS = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6, "七": 6}
_WEEKDAY = re.compile(r"(下个?|这个?|本|上个?)?(?:周|星期|礼拜)([一二三四五六日天七])")
_KEEP = re.compile(r"[\u3400-\u9fffA-Za-z0-9]")


@dataclass(frozen=True)
class Entity:
    kind: str
    value: str
    start: int = 0
    end: int = 0
    sure: bool = True  # False: the evidence is weak, read it back before acting on it

    def as_dict(self) -> dict[str, str | bool]:
        found: dict[str, str | bool] = {"kind": self.kind, "value": self.value}
        if not self.sure:
            found["sure"] = False
        return found


def today_in_china() -> date:
    return datetime.now(CHINA).date()


def _syl(char: str) -> str:
    found = syllables(char)
    return found[0] if found else char.lower()


def _sounds_like(text: str, start: int, word: str) -> bool:
    """text[start:] begins with word, by character or by toneless pinyin."""
    piece = text[start:start + len(word)]
    if piece == word:
        return True
    return len(piece) == len(word) and syllables(piece) == syllables(word)


def _nearest_date(today: date, month: int, day: int) -> date | None:
    """The month/day nearest to today (callers talk about the coming days or recent ones)."""
    options = []
    for year in (today.year - 1, today.year, today.year + 1):
        try:
            options.append(date(year, month, day))
        except ValueError:
            continue
    return min(options, key=lambda d: abs((d - today).days)) if options else None


def _day_only(today: date, day: int) -> date | None:
    options = []
    for shift in (-1, 0, 1):
        month = (today.month - 1 + shift) % 12 + 1
        year = today.year + (today.month - 1 + shift) // 12
        try:
            options.append(date(year, month, day))
        except ValueError:
            continue
    return min(options, key=lambda d: abs((d - today).days)) if options else None


def _marker(text: str, pos: int, syllable: str, char: str) -> bool:
    return pos < len(text) and (text[pos] == char or _syl(text[pos]) == syllable)


def find_dates(text: str, runs: list[NumberRun], today: date) -> list[Entity]:
    found: list[Entity] = []
    taken: set[int] = set()
    for i, run in enumerate(runs):
        if run.start in taken:
            continue
        number = int(run.digits) if run.digits.isdigit() else -1
        nxt = runs[i + 1] if i + 1 < len(runs) else None
        if (_marker(text, run.end, "yue", "月") and 1 <= number <= 12 and nxt is not None
                and nxt.start == run.end + 1 and 1 <= int(nxt.digits) <= 31):
            value = _nearest_date(today, number, int(nxt.digits))
            end = nxt.end + (1 if _marker(text, nxt.end, "hao", "号") or
                             _marker(text, nxt.end, "ri", "日") else 0)
            if value is not None:  # 二月三十号 is no date at all, not the 30th of this month
                found.append(Entity("date", value.isoformat(), run.start, end))
            taken.update((run.start, nxt.start))
            continue
        after = run.end + 1
        if (1 <= number <= 31 and (_marker(text, run.end, "hao", "号") or
                                    _marker(text, run.end, "ri", "日"))
                and not (after < len(text) and text[after] in "车座线楼窗门口位床厅")):
            value = _day_only(today, number)
            if value is not None:
                found.append(Entity("date", value.isoformat(), run.start, after))
                taken.add(run.start)
    for word, offset in RELATIVE_DAYS.items():
        for m in re.finditer(word, text):
            if not any(e.start <= m.start() < e.end for e in found):
                found.append(Entity("date", (today + timedelta(days=offset)).isoformat(),
                                    m.start(), m.end()))
    for m in _WEEKDAY.finditer(text):
        target = WEEKDAYS[m.group(2)]
        monday = today - timedelta(days=today.weekday())
        prefix = (m.group(1) or "")[:1]
        if prefix == "下":
            day = monday + timedelta(days=7 + target)
        elif prefix == "上":
            day = monday + timedelta(days=target - 7)
        elif prefix in ("这", "本"):
            day = monday + timedelta(days=target)
        else:
            day = today + timedelta(days=(target - today.weekday()) % 7)
        found.append(Entity("date", day.isoformat(), m.start(), m.end()))
    return found


def _letter_before(text: str, start: int) -> str | None:
    if start == 0:
        return None
    prev = text[start - 1]
    if prev.isascii() and prev.isalpha():
        return prev.upper()
    for word, letter in LETTER_WORDS.items():
        if start >= len(word) and _sounds_like(text, start - len(word), word):
            return letter
    if prev in NOT_LETTERS:
        return None
    return LETTER_SYLLABLES.get(_syl(prev))


def _e_before(text: str, start: int) -> bool:
    if start == 0:
        return False
    prev = text[start - 1]
    return prev in "Ee" or (not prev.isascii() and _syl(prev) in E_SYLLABLES)


def _train(letter: str | None, digits: str, known: Collection[str]) -> str:
    if letter in TRAIN_LETTERS:
        return f"{letter}{digits}"
    matches = sorted(t for t in known if t[1:] == digits)
    return matches[0] if len(matches) == 1 else digits


def find_numbers(text: str, runs: list[NumberRun], known_trains: Collection[str] = (),
                 expect: str | None = None) -> list[Entity]:
    """Number runs as order numbers, train numbers or digit strings. expect names the kind
    the caller was just asked for, which settles a bare number (301 after "请说车次")."""
    found: list[Entity] = []
    order_context = expect == "order_no" or any(w in text for w in ORDER_CONTEXT) or (
        "dingdan" in "".join(syllables(text)))
    train_context = expect == "train_no" or any(w in text for w in TRAIN_CONTEXT)
    for run in runs:
        digits = run.digits
        first_is_e = not run.numeral and _syl(text[run.start]) in E_SYLLABLES
        if len(digits) == 10 and first_is_e:
            # A "yi" opening ten digits is the spoken E of an order number (E + 9 digits).
            found.append(Entity("order_no", "E" + digits[1:], run.start, run.end))
        elif len(digits) == 9 and (order_context or _e_before(text, run.start)):
            start = run.start - (1 if _e_before(text, run.start) else 0)
            found.append(Entity("order_no", "E" + digits, start, run.end))
        elif len(digits) <= 4 and (letter := _letter_before(text, run.start)) is not None:
            found.append(Entity("train_no", _train(letter, digits, known_trains),
                                run.start - 1, run.end))
        elif (2 <= len(digits) <= 4 or expect == "train_no") and (
                _marker(text, run.end, "ci", "次") or train_context):
            found.append(Entity("train_no", _train(None, digits, known_trains),
                                run.start, run.end))
        elif len(digits) >= 2:
            found.append(Entity("digits", digits, run.start, run.end))
    return found


def find_stations(text: str, stations: Sequence[str]) -> list[Entity]:
    """Station names by sound; the longest name wins where names overlap (北京南 > 北京)."""
    syls = [_syl(c) for c in text]
    hits: list[tuple[float, int, Entity]] = []
    for name in stations:
        target = syllables(name)
        n = len(target)
        if n == 0:
            continue
        for start in range(len(text) - n + 1):
            if text[start:start + n] == name:
                score = 1.0
            elif n >= 2:
                sims = [similarity(a, b) for a, b in zip(target, syls[start:start + n],
                                                          strict=True)]
                mean = sum(sims) / n
                score = mean if min(sims) >= 0.8 and mean >= 0.9 else 0.0
            else:
                score = 0.0
            if score > 0:
                hits.append((score * n, n, Entity("station", name, start, start + n)))
    hits.sort(key=lambda h: (-h[0], -h[1]))
    kept: list[Entity] = []
    for _, _, entity in hits:
        if all(entity.end <= k.start or entity.start >= k.end for k in kept):
            kept.append(entity)
    return kept


def normalise(text: str) -> str:
    return "".join(_KEEP.findall(text)).upper()


def extract(text: str, *, today: date | None = None, stations: Sequence[str] = (),
            known_trains: Collection[str] = (), expect: str | None = None) -> list[Entity]:
    """Entities in one transcript, in the order they were said."""
    text = normalise(text)
    today = today or today_in_china()
    runs = find_runs(text)
    dates = find_dates(text, runs, today)
    used = {i for e in dates for i in range(e.start, e.end)}
    free_runs = [r for r in runs if not used & set(range(r.start, r.end))]
    found = [*dates, *find_numbers(text, free_runs, known_trains, expect)]
    taken = {i for e in found for i in range(e.start, e.end)}
    found += [s for s in find_stations(text, stations)
              if not taken & set(range(s.start, s.end))]
    return sorted(found, key=lambda e: e.start)


NUMBER_KINDS = frozenset({"order_no", "train_no", "digits"})


def _same_number(a: str, b: str) -> bool:
    a, b = a.lstrip("EGDCZTKLYS"), b.lstrip("EGDCZTKLYS")
    short, long = sorted((a, b), key=len)
    return len(short) >= 2 and short in long


def extract_best(hypotheses: Sequence[tuple[str, float]], *, today: date | None = None,
                 stations: Sequence[str] = (), known_trains: Collection[str] = (),
                 expect: str | None = None, min_share: float = 0.2,
                 anchors: Sequence[str] | None = None) -> list[Entity]:
    """Entities the weighted hypotheses agree on: per kind the best-supported value (two for
    stations: from and to), when it has at least min_share of the total weight.

    anchors: if given, only values that at least one of these texts also yields are kept
    (a number grammar can sharpen what free decoding heard, but not invent numbers)."""
    today = today or today_in_china()
    support: dict[tuple[str, str], float] = {}
    first_seen: dict[tuple[str, str], tuple[int, int]] = {}
    total = sum(w for _, w in hypotheses) or 1.0
    allowed: set[tuple[str, str]] | None = None
    if anchors is not None:
        allowed = {(e.kind, e.value) for text in anchors
                   for e in extract(text, today=today, stations=stations,
                                    known_trains=known_trains, expect=expect)}
    for rank, (text, weight) in enumerate(hypotheses):
        seen: set[tuple[str, str]] = set()
        for entity in extract(text, today=today, stations=stations, known_trains=known_trains,
                              expect=expect):
            key = (entity.kind, entity.value)
            if key in seen or (allowed is not None and key not in allowed):
                continue
            seen.add(key)
            support[key] = support.get(key, 0.0) + weight
            first_seen.setdefault(key, (rank, entity.start))
    chosen: list[tuple[str, str]] = []
    for kind in KINDS:
        ranked = sorted((k for k in support if k[0] == kind), key=lambda k: -support[k])
        ranked = [k for k in ranked if support[k] / total >= min_share]
        chosen.extend(ranked[: 2 if kind == "station" else 1])
    # Two readings of the same spoken number (order E123456789, digits 1234567): keep the
    # better-supported one.
    numbers = sorted((k for k in chosen if k[0] in NUMBER_KINDS), key=lambda k: -support[k])
    for i, weaker in enumerate(numbers):
        if any(_same_number(weaker[1], stronger[1]) for stronger in numbers[:i]):
            chosen.remove(weaker)
    chosen.sort(key=lambda k: first_seen[k])
    return [Entity(kind, value) for kind, value in chosen]
