"""Numbers of a known shape: what the IVR just asked for (a 9-digit order number, the last 4
digits of an ID or phone) decides how the caller's words are read.

Two readings are compared. A grammar of exactly that kind of answer (optional lead-in words,
then digits as callers say them, 幺 included) makes the decoder choose between digits only;
the free transcript is mapped to digits by pinyin (八 → 吧/把/巴, 零 → 玲/领, 幺 → 要), no
longer treating 吧 or 要 as words when the caller was asked for digits. When both readings
give the same digits of the right length the value is sure; when only one does, or they
disagree, the grammar's reading is taken but marked unsure, so the caller hears it read back.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import product

from app.asr.numbers import DIGIT_CHARS, DIGIT_SYLLABLES, _syllable, digit_of
from app.asr.phonetic import similarity
from app.asr.recognizer import Transcript

SHAPE_MODE = "expect:"  # recogniser modes "expect:order_no", "expect:digits"
# Digits as callers say them in a code (two is 二 digit by digit; 两 belongs to quantities).
CODE_DIGITS = tuple("零一二三四五六七八九幺")
# Alternatives asked of the shape grammar's decoder: the right digits are often among the
# first eight when the best one has a digit too many or too few.
SHAPE_ALTERNATIVES = 8
CODE_VALUES = {c: DIGIT_CHARS[c] for c in CODE_DIGITS}
# How close a syllable must sound to a digit to be read as one when digits were asked for.
SHAPED_SOUND_ALIKE = 0.7


@dataclass(frozen=True)
class Shape:
    kind: str  # the entity kind it yields (order_no, digits)
    length: int
    lead_ins: tuple[str, ...]  # words callers say before the digits, vocabulary words spaced

    @property
    def mode(self) -> str:
        return SHAPE_MODE + self.kind

    def value(self, digits: str) -> str:
        return "E" + digits if self.kind == "order_no" else digits


SHAPES: dict[str, Shape] = {
    "order_no": Shape("order_no", 9, (
        "订单号", "订单号 是", "我 的 订单号", "我 的 订单号 是", "订单 号码 是", "号码 是",
        "是", "嗯", "那个", "一")),  # the E of an order number sounds like 一
    "digits": Shape("digits", 4, (
        "尾号", "尾号 是", "后 四位", "后 四位 是", "身份证 后 四位", "身份证 尾号",
        "手机 尾号", "手机号 后 四位", "证件 号 后 四位", "是", "嗯", "那个")),
}


def digit_sequences(length: int) -> Iterator[str]:
    """Digit strings of the given length in which every digit follows every other digit
    equally often, so the grammar's bigram model prefers no digit over another."""
    n = len(CODE_DIGITS)
    # A de Bruijn sequence over the digits of order 2: each ordered pair exactly once.
    sequence: list[int] = []
    a = [0] * (2 * n)

    def db(t: int, p: int) -> None:
        if t > 2:
            if 2 % p == 0:
                sequence.extend(a[1:p + 1])
        else:
            a[t] = a[t - p]
            db(t + 1, p)
            for j in range(a[t - p] + 1, n):
                a[t] = j
                db(t + 1, t)

    db(1, 1)
    ring = sequence + sequence[:length]
    for start in range(0, len(sequence), max(1, length - 1)):
        yield " ".join(CODE_DIGITS[i] for i in ring[start:start + length])


def shape_phrases(shape: Shape) -> list[str]:
    """Phrases for the shape's grammar: the digit strings, alone, after each lead-in and with
    a trailing 嗯; and each digit said twice (after and before every digit) and three times.

    A repeated syllable (一一, 八八八) tends to be heard once: the repeats raise the weight of a
    digit following itself. The end of the last syllable tends to be heard as one digit more:
    a filler word there gives the decoder somewhere else to put it."""
    strings = list(digit_sequences(shape.length))
    phrases = list(strings)
    for lead, digits in product(shape.lead_ins, strings[:: max(1, len(strings) // 6)]):
        phrases.append(f"{lead} {digits}")
    phrases += [f"{digits} 嗯" for digits in strings]
    phrases += [" ".join([digit] * 3) for digit in CODE_DIGITS]
    phrases += [f"{other} {digit} {digit}" for digit in CODE_DIGITS for other in CODE_DIGITS]
    phrases += [f"{digit} {digit} {other}" for digit in CODE_DIGITS for other in CODE_DIGITS]
    return phrases


def _code_digit(char: str) -> str | None:
    """A character's digit by sound, generous because digits are what was asked for."""
    found = digit_of(char)
    if found is not None and found[1] >= 0.5:
        return str(found[0])
    syl = _syllable(char)
    if not syl:
        return None
    best = max(DIGIT_SYLLABLES, key=lambda d: similarity(syl, d))
    return str(DIGIT_SYLLABLES[best]) if similarity(syl, best) >= SHAPED_SOUND_ALIKE else None


def digit_runs(text: str) -> list[str]:
    """Runs of characters that read as digits, sound-alikes included."""
    runs: list[str] = []
    current = ""
    for mark in [*(_code_digit(c) for c in text), None]:
        if mark is None:
            if current:
                runs.append(current)
            current = ""
        else:
            current += mark
    return runs


def shaped_digits(text: str, length: int) -> str | None:
    """The digits of the right length in text: the last run of that length, else the end of
    a slightly longer run (lead-in words that sound like digits: 是 like 四, 一 for E)."""
    runs = digit_runs(text)
    fitting = [r for r in runs if len(r) == length]
    if fitting:
        return fitting[-1]
    longer = [r for r in runs if length < len(r) <= length + 2]
    return longer[-1][-length:] if longer else None


def windows(text: str, length: int) -> list[str]:
    """Every stretch of the right length inside a slightly longer run (a digit too many)."""
    return [run[i:i + length] for run in digit_runs(text) if length < len(run) <= length + 2
            for i in range(len(run) - length, -1, -1)]


@dataclass(frozen=True)
class ShapedReading:
    value: str | None
    sure: bool


def read_shape(shape: Shape, free: Transcript, shaped: Transcript | None) -> ShapedReading:
    """Sure: the grammar's best answer of the right length is the free transcript's too.
    Otherwise (unsure), in this order: a right-length answer of the grammar that the free
    transcript also has, the grammar's first right-length answer, the same two for stretches
    of a grammar answer with a digit or two too many, the free transcript's answer."""
    from_free = _readings(free, shape.length)
    exact, stretched = _grammar_readings(shape, shaped)
    if exact and from_free and exact[0] == from_free[0]:
        return ShapedReading(shape.value(exact[0]), True)
    for found in ([d for d in exact if d in from_free], [d for d in stretched if d in from_free],
                  exact, stretched, from_free):
        if found:
            return ShapedReading(shape.value(found[0]), False)
    return ShapedReading(None, False)


def _readings(transcript: Transcript | None, length: int) -> list[str]:
    """Digit strings of the right length in the alternatives, best first."""
    if transcript is None:
        return []
    found: dict[str, None] = {}
    for alternative in transcript.alternatives:
        digits = shaped_digits(alternative.text, length)
        if digits:
            found.setdefault(digits)
    for alternative in transcript.alternatives:  # an extra digit: which one, the other says
        for digits in windows(alternative.text, length):
            found.setdefault(digits)
    return list(found)


def grammar_digits(shape: Shape, text: str) -> str:
    """The digits of a transcript made with the shape's own grammar, where every word is a
    digit or a lead-in: read as written, not by sound (是 is the lead-in there, not 四). A
    lead-in that contains a digit (后四位) is dropped before the first digit; after it, only
    its digit counts (the decoder's 四位 for a final 四)."""
    digits = ""
    position = 0
    lead_words = _digit_lead_words(shape)
    while position < len(text):
        word = next((w for w in lead_words if text.startswith(w, position)), None)
        if word is not None:
            if digits:
                digits += "".join(str(CODE_VALUES[c]) for c in word if c in CODE_VALUES)
            position += len(word)
            continue
        if text[position] in CODE_VALUES:
            digits += str(CODE_VALUES[text[position]])
        position += 1
    return digits


def _digit_lead_words(shape: Shape) -> list[str]:
    words = {w for lead in shape.lead_ins for w in lead.split()
             if len(w) > 1 and any(c in CODE_VALUES for c in w)}
    return sorted(words, key=len, reverse=True)


def _grammar_readings(shape: Shape, transcript: Transcript | None
                      ) -> tuple[list[str], list[str]]:
    """Digit strings of the right length in the grammar's alternatives, best first; and the
    stretches of the right length inside those with a digit or two too many."""
    if transcript is None:
        return [], []
    readings = [grammar_digits(shape, a.text) for a in transcript.alternatives]
    exact = list(dict.fromkeys(r for r in readings if len(r) == shape.length))
    stretched: dict[str, None] = {}
    for reading in readings:
        if shape.length < len(reading) <= shape.length + 2:
            for i in range(len(reading) - shape.length + 1):
                stretched.setdefault(reading[i:i + shape.length])
    return exact, [s for s in stretched if s not in exact]


def shape_for(expect: str | None) -> Shape | None:
    return SHAPES.get(expect or "")


def modes_for(expect: str | None, default: Sequence[str]) -> list[str]:
    """The recogniser modes for an entity question: the shape's grammar when it has one."""
    shape = shape_for(expect)
    return [shape.mode] if shape is not None else list(default)
