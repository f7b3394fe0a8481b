"""Spoken numbers in recogniser output: digit runs (幺零二四) and numerals (一百零一).

The recogniser often writes a digit as a character that merely sounds like it (九 → 酒,
八 → 吧, 四 → 次), so characters are judged by their pinyin too, and a run is only accepted
when its real digits outweigh the guesses.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from app.asr.phonetic import similarity, syllables

DIGIT_CHARS = {
    "零": 0, "〇": 0, "洞": 0, "一": 1, "幺": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5,
    "六": 6, "七": 7, "八": 8, "九": 9,
    **{str(d): d for d in range(10)},
    **{chr(0xFF10 + d): d for d in range(10)},  # full-width digits
}
UNIT_CHARS = {"十": 10, "百": 100, "千": 1000, "万": 10000}
DIGIT_SYLLABLES = {
    "ling": 0, "dong": 0, "yi": 1, "yao": 1, "er": 2, "liang": 2, "san": 3, "si": 4, "wu": 5,
    "liu": 6, "qi": 7, "ba": 8, "jiu": 9,
}
# Frequent words that share a digit's pinyin; they stand for a digit only between digits.
FUNCTION_CHARS = set("吧要以已意义议易亿衣医依伊移疑仪宜而儿耳尔死似思私司丝无吴物务误舞")
MIN_SOUND_ALIKE = 0.84


@dataclass(frozen=True)
class NumberRun:
    start: int  # character offsets in the text the run was found in
    end: int
    digits: str  # as read out: "101" for 幺零幺, "101" for 一百零一 too
    numeral: bool  # read as a quantity (with 十/百/千), not digit by digit
    guessed: int  # digits taken from sound-alike characters


@lru_cache(maxsize=4096)
def _syllable(char: str) -> str:
    found = syllables(char)
    return found[0] if found else ""


def digit_of(char: str) -> tuple[int, float] | None:
    """A character's digit and how sure that reading is (1.0 = it is a digit)."""
    if char in DIGIT_CHARS:
        return DIGIT_CHARS[char], 1.0
    syl = _syllable(char)
    if not syl:
        return None
    if syl in DIGIT_SYLLABLES:
        return DIGIT_SYLLABLES[syl], 0.6 if char in FUNCTION_CHARS else 0.9
    best = max(DIGIT_SYLLABLES, key=lambda d: similarity(syl, d))
    if similarity(syl, best) >= MIN_SOUND_ALIKE:
        return DIGIT_SYLLABLES[best], 0.5
    return None


def parse_numeral(text: str) -> int | None:
    """一百零一 → 101, 十二 → 12, 两千零二十五 → 2025, 一百一 → 110; None if not a numeral."""
    if not any(c in UNIT_CHARS for c in text):
        return None
    total = 0
    section = 0  # below 万
    digit: int | None = None
    last_unit = 1
    for char in text:
        if char in UNIT_CHARS:
            unit = UNIT_CHARS[char]
            if unit == 10000:
                total = (total + section + (digit or 0)) * 10000
                section, digit, last_unit = 0, None, 10000
                continue
            section += (1 if digit is None else digit) * unit
            digit, last_unit = None, unit
        elif char in DIGIT_CHARS:
            value = DIGIT_CHARS[char]
            if digit is not None and value != 0:
                return None  # two digits in a row: not a numeral
            digit = value if value != 0 else None
            if value == 0:
                last_unit = 0  # after 零 a trailing digit is units (一百零一)
        else:
            return None
    if digit is not None:
        # 一百一 and 两千五 drop the unit after the last digit: it is one step down.
        section += digit * (last_unit // 10 if last_unit >= 100 else 1)
    return total + section


def find_runs(text: str) -> list[NumberRun]:
    """Digit runs and numerals in text, sound-alike digits included where they fit."""
    marks: list[tuple[int, float] | None] = []
    for char in text:
        if char in UNIT_CHARS:
            marks.append((-1, 1.0))
        else:
            marks.append(digit_of(char))
    runs: list[NumberRun] = []
    i = 0
    while i < len(text):
        if marks[i] is None:
            i += 1
            continue
        j = i
        while j < len(text) and marks[j] is not None:
            j += 1
        runs.extend(_accept(text, marks, i, j))
        i = j
    return runs


def _accept(text: str, marks: list[tuple[int, float] | None], start: int,
            end: int) -> list[NumberRun]:
    span = [m for m in marks[start:end] if m is not None]
    # Trim unsure characters off the edges: only real digits or clear sound-alikes end a run.
    while span and span[0][1] < 0.85:
        span.pop(0)
        start += 1
    while span and span[-1][1] < 0.85:
        span.pop()
        end -= 1
    if not span:
        return []
    sure = sum(1 for m in span if m[1] == 1.0)
    mean = sum(m[1] for m in span) / len(span)
    if sure * 2 < len(span) or mean < 0.8:
        return []
    chunk = text[start:end]
    has_unit = any(m[0] == -1 for m in span)
    if has_unit and chunk != "十" and all(m[0] == -1 for m in span):
        return []  # 百千 or 万 alone counts nothing; a lone 十 is ten (十号)
    if has_unit:
        normalised = "".join(c if c in UNIT_CHARS else str(m[0])
                             for c, m in zip(chunk, span, strict=True))
        value = parse_numeral(_to_hanzi(normalised))
        if value is None:
            return []
        return [NumberRun(start, end, str(value), True, len(span) - sure)]
    digits = "".join(str(m[0]) for m in span)
    return [NumberRun(start, end, digits, False, len(span) - sure)]


def _to_hanzi(text: str) -> str:
    return "".join("零一二三四五六七八九"[int(c)] if c.isdigit() else c for c in text)
