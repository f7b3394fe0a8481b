"""What the synthesiser is given for a text: language runs, voices, and Mandarin as pinyin.

With the natural voice installed (neural.py), Mandarin runs go to it as pinyin phrases
(zh_phrases: the same reading as below, broken at punctuation); otherwise to espeak-ng:

Mandarin goes to espeak-ng as tone-numbered pinyin read by the `sit/cmn-Latn-pinyin` voice.
The plain `sit/cmn` voice looks characters up in a small dictionary and, for the many it lacks
(订, 单, 号, 欢, 迎 …), speaks their pinyin spelling with its English rules, tone digits
included: 订单号 comes out as "ding four, dan one, hao four". pypinyin (already a project
dependency) also reads polyphones by context better than that dictionary (重新 chóng, 银行
háng, 处理 chǔ) and applies the 一/不 tone changes; espeak-ng applies the third-tone change.

English inside Mandarin text ("For English, press 9.") is spoken by the English voice, and
Chinese inside English text (station names) by the Mandarin one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from app.tts import say

ZH_VOICE = "sit/cmn-Latn-pinyin"
EN_VOICE = "gmw/en"
VOICES = {"zh": ZH_VOICE, "en": EN_VOICE}
NEURAL_VOICE = "neural/zh"  # the natural Mandarin voice (neural.py); rate is not used
# Words per minute; a little below espeak's 175 default, for callers on a phone line.
RATES = {ZH_VOICE: 210, EN_VOICE: 170}

_CJK = "\u2e80-\u9fff\uf900-\ufaff\u3000-\u303f\uff00-\uffef"
_RUNS = re.compile(f"[{_CJK}]+|[^{_CJK}]+")
_IDEOGRAPH = re.compile("[\u3400-\u9fff\uf900-\ufaff\u3007]")
_LATIN_WORD = re.compile(r"[A-Za-z]{2,}")
_SPEAKABLE = re.compile("[0-9A-Za-z\u3400-\u9fff\uf900-\ufaff\u3007]")
_PUNCTUATION = str.maketrans(
    {"，": ", ", "、": ", ", "。": ". ", "；": "; ", "：": ": ", "？": "? ", "！": "! ",
     "（": ", ", "）": ", ", "—": ", ", "…": ". ", "“": " ", "”": " ", "‘": " ", "’": "'",
     "《": " ", "》": " ", "「": " ", "」": " ", "～": " ", "　": " "}
)  # fmt: skip

# Numbers in Mandarin text: a date, a time, money (¥12.5, 12.5元), a code (G101, E12345), a
# percentage, a decimal, an integer. Integers of five or more digits, or with a leading zero,
# are codes: 12306 is said 幺二三零六. A code of seven digits or more (an order number) is read
# in groups of three.
_ZH_NUMBERS = re.compile(
    r"(?P<date>(?<!\d)\d{4}-\d{1,2}-\d{1,2}(?!\d))"
    r"|(?P<time>(?<!\d)\d{1,2}[:：]\d{2}(?!\d))"
    r"|(?P<money>[¥￥]\s*\d+(?:\.\d+)?|(?<![\d.])\d+(?:\.\d+)?元)"
    r"|(?P<code>(?<![A-Za-z])[A-Za-z]{1,2}\d+)"
    r"|(?P<percent>\d+(?:\.\d+)?%)"
    r"|(?P<decimal>\d+\.\d+)"
    r"|(?P<integer>\d+)"
)
# Readings pypinyin gets wrong for words a hotline says.
POLYPHONES = {
    "重听": "chong2 ting1",
    "重拨": "chong2 bo1",
    "重输": "chong2 shu1",
    "漯河": "luo4 he2",
}
_POLYPHONE = re.compile("|".join(sorted(map(re.escape, POLYPHONES), key=len, reverse=True)))
# Letters whose espeak-ng Mandarin reading is not what callers say (it reads G as "zhi").
LETTERS = {"G": "ji4"}


@dataclass(frozen=True)
class Segment:
    """One stretch of speech: the voice, its rate, and exactly the text the engine gets."""

    voice: str
    rate: int
    text: str


def _is_english(chunk: str) -> bool:
    # Short capitals (ID, VIP) are spelled inside Mandarin; real words switch voice.
    words = _LATIN_WORD.findall(chunk)
    return not _IDEOGRAPH.search(chunk) and any(not w.isupper() or len(w) > 4 for w in words)


def split_languages(text: str, lang: str) -> list[tuple[str, str]]:
    """[(lang, text), ...]: English words in Mandarin text and Chinese in English text get
    their own runs; punctuation stays with the run before it."""
    if lang not in VOICES:
        raise ValueError(f"unknown language {lang!r} (zh or en)")
    runs: list[tuple[str, str]] = []
    for match in _RUNS.finditer(text):
        chunk = match.group()
        if lang == "zh":
            run_lang = "en" if _is_english(chunk) else "zh"
        else:
            run_lang = "zh" if _IDEOGRAPH.search(chunk) else "en"
        if runs and (runs[-1][0] == run_lang or not _SPEAKABLE.search(chunk)):
            runs[-1] = (runs[-1][0], runs[-1][1] + chunk)
        elif runs and not _SPEAKABLE.search(runs[-1][1]):
            runs[-1] = (run_lang, runs[-1][1] + chunk)
        else:
            runs.append((run_lang, chunk))
    return [(run_lang, chunk.strip()) for run_lang, chunk in runs if _SPEAKABLE.search(chunk)]


def plan(text: str, lang: str, *, neural: bool = False) -> tuple[Segment, ...]:
    """The segments to synthesise, in order, for text in a call's language; with neural,
    Mandarin goes to the natural voice (as pinyin phrases) instead of espeak-ng."""
    segments = []
    for run_lang, chunk in split_languages(text, lang):
        if run_lang == "zh" and neural:
            spoken = zh_phrases(chunk)
            if spoken:
                segments.append(Segment(NEURAL_VOICE, 0, spoken))
            continue
        voice = VOICES[run_lang]
        spoken = zh_to_pinyin(chunk) if run_lang == "zh" else en_normalize(chunk)
        if spoken:
            segments.append(Segment(voice, RATES[voice], spoken))
    if not segments:
        raise ValueError(f"nothing to say in {text!r}")
    return tuple(segments)


def zh_numbers(text: str) -> str:
    """Digits in Mandarin text as words: 请按1 → 请按一, G101 → G幺零幺, 08:15 → 八点十五分."""

    def spoken(match: re.Match[str]) -> str:
        kind, value = match.lastgroup, match.group()
        if kind == "date":
            return say.zh_date(value, with_year=True)
        if kind == "time":
            return say.zh_time(value)
        if kind == "money":
            return say.zh_price(value.strip("¥￥元 "))
        if kind == "code":
            return say.zh_digits(value, group=3 if sum(c.isdigit() for c in value) >= 7 else 0)
        if kind == "percent":
            return say.zh_percent(value[:-1])
        if kind == "decimal":
            return say.zh_decimal(value)
        if len(value) >= 5 or (len(value) > 1 and value.startswith("0")):
            return say.zh_digits(value)
        return say.zh_number(int(value))

    return _ZH_NUMBERS.sub(spoken, text)


@lru_cache(maxsize=1)
def _pinyin() -> Any:
    # Imported on first use: loading its dictionaries takes about 0.4 s.
    from pypinyin import Style, lazy_pinyin

    def convert(text: str) -> list[str]:
        syllables: list[str] = lazy_pinyin(
            text, style=Style.TONE3, tone_sandhi=True, errors=_latin_in_zh
        )
        return syllables

    return convert


def _latin_in_zh(chunk: str) -> str:
    """Non-Chinese characters inside Mandarin: punctuation as ASCII, short capitals spelled."""

    def letters(match: re.Match[str]) -> str:
        word = match.group()
        if len(word) <= 4 and (word.isupper() or len(word) == 1):
            return " ".join(LETTERS.get(c, c) for c in word.upper())
        return word

    return " " + re.sub(r"[A-Za-z]+", letters, chunk.translate(_PUNCTUATION)) + " "


def zh_to_pinyin(text: str) -> str:
    """Mandarin text as tone-numbered pinyin for the pinyin voice: 订单号 → ding4 dan1 hao4."""
    convert = _pinyin()
    words: list[str] = []
    position = 0
    text = zh_numbers(text)
    for match in _POLYPHONE.finditer(text):
        words += convert(text[position : match.start()])
        words.append(POLYPHONES[match.group()])
        position = match.end()
    words += convert(text[position:])
    joined = re.sub(r"\s+", " ", " ".join(words))
    return re.sub(r"\s+([,.;:?!])", r"\1", joined).strip()


# Letters as Mandarin callers say them, for the natural voice (its syllables are pinyin only).
LETTER_PINYIN = {
    "A": "ei1", "B": "bi4", "C": "xi1", "D": "di4", "E": "yi4", "F": "ai2 fu5", "G": "ji4",
    "H": "ai1 qi1", "I": "ai4", "J": "jie4", "K": "kai4", "L": "ai2 le5", "M": "ai2 mu5",
    "N": "en1", "O": "ou1", "P": "pi4", "Q": "qiu1", "R": "a4", "S": "ai2 si1", "T": "ti4",
    "U": "you1", "V": "wei1", "W": "da2 bu5 liu5", "X": "ai2 ke4 si1", "Y": "wai4", "Z": "zei4",
}  # fmt: skip
_BREAK = re.compile(r"\s*[,.;:?!]+\s*")


def zh_phrases(text: str) -> str:
    """Mandarin text as pinyin phrases for the natural voice: "ni3 hao3 | qing3 shao1 hou4".

    The same reading as zh_to_pinyin (numbers, polyphones, tone changes); phrases break at
    punctuation, a neutral tone is 5, capitals are spelled in pinyin, other Latin is dropped.
    """
    phrases = []
    for part in _BREAK.split(zh_to_pinyin(text)):
        words = []
        for token in part.split():
            if token.isupper() and token in LETTER_PINYIN:
                words.append(LETTER_PINYIN[token])
            elif re.fullmatch(r"[a-z]+[1-5]", token):
                words.append(token)
            elif re.fullmatch(r"[a-z]+", token):  # pypinyin's neutral tone has no digit
                words.append(token + "5")
        if words:
            phrases.append(" ".join(words))
    return " | ".join(phrases)


_PHRASE_END = re.compile(r"[，。；！？,.;!?](?=\s*\S)")
FIRST_PHRASE_CHARS = 4  # shorter than this is joined to what follows (too short to start on)


def first_phrase(text: str) -> tuple[str, ...]:
    """(first phrase, the rest) at the first break after a few characters, or (text,):
    a long answer starts playing as soon as its first phrase is spoken."""
    for match in _PHRASE_END.finditer(text):
        head, rest = text[: match.end()], text[match.end() :].strip()
        if len(_SPEAKABLE.findall(head)) >= FIRST_PHRASE_CHARS and _SPEAKABLE.search(rest):
            return head, rest
    return (text,)


def en_normalize(text: str) -> str:
    """English text with full-width punctuation and keypad symbols in words."""
    text = text.translate(_PUNCTUATION).replace("#", " hash ").replace("*", " star ")
    return re.sub(r"\s+", " ", text).strip()
