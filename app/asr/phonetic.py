"""Toneless pinyin and a sound-alike similarity between syllables.

Telephone-band (8 kHz) recognition mostly errs between syllables that sound alike: the
recogniser writes a different character with the same or a near pinyin (正点 → 重点,
失物招领 → 事务中令). Comparing pinyin instead of characters, with partial credit for the
usual Mandarin confusions, turns most of those errors back into matches.
"""

from __future__ import annotations

import re
from functools import lru_cache

from pypinyin import Style, lazy_pinyin

INITIALS = ("zh", "ch", "sh", "b", "p", "m", "f", "d", "t", "n", "l", "g", "k", "h", "j", "q",
            "x", "r", "z", "c", "s")
_NORMAL_FINALS = {"iou": "iu", "uei": "ui", "uen": "un", "ueng": "eng"}
_HAN = re.compile(r"[\u3400-\u9fff]")

# Pairs that telephone audio and regional accents blur; value = partial credit.
_INITIAL_PAIRS: dict[frozenset[str], float] = {
    frozenset(p): s for p, s in [
        (("zh", "z"), 0.85), (("ch", "c"), 0.85), (("sh", "s"), 0.85),  # flat/retroflex
        (("n", "l"), 0.85), (("l", "r"), 0.7), (("f", "h"), 0.75),
        (("b", "p"), 0.7), (("d", "t"), 0.7), (("g", "k"), 0.7),  # aspiration
        (("j", "q"), 0.7), (("z", "c"), 0.7), (("zh", "ch"), 0.7),
        (("j", "x"), 0.6), (("q", "x"), 0.6), (("s", "c"), 0.6), (("sh", "ch"), 0.6),
        (("j", "zh"), 0.55), (("q", "ch"), 0.55), (("x", "sh"), 0.55),
        (("j", "z"), 0.5), (("q", "c"), 0.5), (("x", "s"), 0.5),
        # Northern and north-eastern speech often say r- as y- (人 → yin).
        (("r", ""), 0.6), (("h", ""), 0.4), (("m", "n"), 0.5),
    ]
}
_FINAL_PAIRS: dict[frozenset[str], float] = {
    frozenset(p): s for p, s in [
        (("an", "ang"), 0.85), (("en", "eng"), 0.85), (("in", "ing"), 0.85),
        (("ian", "iang"), 0.85), (("uan", "uang"), 0.85),  # nasal codas
        (("eng", "ong"), 0.8), (("en", "un"), 0.6), (("in", "en"), 0.6), (("ing", "eng"), 0.6),
        (("e", "o"), 0.75), (("uo", "o"), 0.8), (("e", "uo"), 0.6), (("e", "ei"), 0.5),
        (("i", "ü"), 0.75), (("u", "ü"), 0.7), (("ie", "üe"), 0.7), (("in", "ün"), 0.7),
        (("ian", "üan"), 0.65), (("ing", "iong"), 0.6), (("un", "ün"), 0.6),
        (("ai", "ei"), 0.6), (("ao", "ou"), 0.55), (("an", "en"), 0.5), (("ang", "eng"), 0.5),
        (("i", "ie"), 0.5), (("i", "ei"), 0.5), (("u", "ou"), 0.5), (("ao", "iao"), 0.6),
        (("an", "ian"), 0.6), (("an", "uan"), 0.6), (("ang", "iang"), 0.6),
        (("ang", "uang"), 0.6), (("ai", "uai"), 0.6), (("ei", "ui"), 0.6), (("a", "ia"), 0.6),
        (("a", "ua"), 0.6), (("ou", "iu"), 0.6), (("ong", "iong"), 0.7),
        (("ong", "ou"), 0.45), (("ing", "in"), 0.85),
        (("a", "an"), 0.6),  # a trailing n swallowed on the phone: 班 for 八
        # The "i" after z/c/s and zh/ch/sh/r is not the "i" of ji/qi/xi: both count as i.
    ]
}


def split(syllable: str) -> tuple[str, str]:
    """Initial and final of a toneless syllable, with y/w spelled out (yuan → '', üan)."""
    s = syllable.replace("v", "ü")
    for ini in INITIALS:
        if s.startswith(ini) and len(s) > len(ini):
            fin = s[len(ini):]
            if ini in "jqx" and fin.startswith("u"):
                fin = "ü" + fin[1:]
            return ini, fin
    if s.startswith("y"):
        rest = s[1:]
        if rest.startswith("u"):
            fin = "ü" + rest[1:]
        else:
            fin = rest if rest.startswith("i") else "i" + rest
        return "", _NORMAL_FINALS.get(fin, fin)
    if s.startswith("w"):
        rest = s[1:]
        fin = rest if rest.startswith("u") else "u" + rest
        return "", _NORMAL_FINALS.get(fin, fin)
    return "", s


def _pair(table: dict[frozenset[str], float], a: str, b: str) -> float:
    if a == b:
        return 1.0
    return table.get(frozenset((a, b)), 0.0)


def _rhyme(final: str) -> tuple[str, str]:
    """Medial glide and the rest (üan → ü, an)."""
    if len(final) > 1 and final[0] in "iuü" and final not in ("iu", "ui", "un", "ün", "in",
                                                               "ing", "ie", "üe"):
        return final[0], final[1:]
    return "", final


def _coda(final: str) -> str:
    if final.endswith("ng"):
        return "ng"
    return "n" if final.endswith("n") else ""


def _final_similarity(a: str, b: str) -> float:
    listed = _pair(_FINAL_PAIRS, a, b)
    if listed:
        return listed
    if _rhyme(a)[1] == _rhyme(b)[1]:
        return 0.6  # only the glide differs
    if _coda(a) and _coda(a) == _coda(b):
        return 0.4  # same nasal ending, the vowel before it blurred
    return 0.0


@lru_cache(maxsize=65536)
def similarity(a: str, b: str) -> float:
    """1.0 for the same toneless syllable, partial credit for sound-alikes, 0 otherwise.

    The final (vowel and coda) carries most of the sound, so it weighs more."""
    if a == b:
        return 1.0
    ia, fa = split(a)
    ib, fb = split(b)
    ini = _pair(_INITIAL_PAIRS, ia, ib)
    fin = _final_similarity(fa, fb)
    if fin == 0.0:
        return 0.0
    return 0.4 * ini + 0.6 * fin


def syllables(text: str) -> list[str]:
    """Toneless pinyin of the Chinese characters in text, one per character."""
    han = "".join(_HAN.findall(text))
    if not han:
        return []
    return [p.replace("ü", "v") for p in lazy_pinyin(han, style=Style.NORMAL)]


def han_only(text: str) -> str:
    return "".join(_HAN.findall(text))
