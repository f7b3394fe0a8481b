"""Phrase lists for grammar-biased decoding.

Vosk turns a phrase list into a small bigram language model, so the decoder prefers these
words but can still string them in any order; "[unk]" absorbs speech outside the list.
"""

from __future__ import annotations

from collections.abc import Sequence

from app.asr.lexicon import CARRIER_WORDS, CUES
from app.asr.recognizer import FREE, grammar_json
from app.asr.shapes import SHAPES, shape_phrases
from app.asr.vocab import Vocabulary

INTENT = "intent"
ENTITY = "entity"

# How Chinese speakers say train letters, as vocabulary words. The E of order numbers is
# "yi", the same sound as 一, so it needs no word of its own (entities.py reads it from 一).
LETTER_WORDS: dict[str, tuple[str, ...]] = {
    "G": ("鸡", "吉", "机", "高铁"),
    "D": ("低", "滴", "地", "弟", "动车"),
    "K": ("开", "克", "科", "快速"),
    "Z": ("贼", "则", "直达"),
    "T": ("踢", "提", "特", "特快"),
    "C": ("西", "吸", "城际"),
}
DIGIT_WORDS = tuple("零一二三四五六七八九十百千万幺两洞")
ENTITY_WORDS = (
    "订单号 订单 号码 号 是 我的 我 的 车次 次 列车 火车 车 高铁 动车 身份证 后四位 尾号 后 四位 "
    "今天 明天 后天 大后天 昨天 前天 月 日 星期 周 礼拜 下 下个 这 这个 上 上午 下午 晚上 "
    "到 从 去 站 出发 坐 是的 对 嗯 喂 那个 就是 请 查 一下 帮 我要 我想"
).split()


def intent_phrases() -> list[str]:
    phrases: list[str] = []
    for table in CUES.values():
        for cue in table:
            phrases.extend(p for p in cue.split("…") if p)
    phrases.extend(CARRIER_WORDS)
    return phrases


def entity_phrases(stations: Sequence[str] = ()) -> list[str]:
    letters = [w for words in LETTER_WORDS.values() for w in words]
    return [*DIGIT_WORDS, *letters, *ENTITY_WORDS, *stations]


def standard_grammars(vocab: Vocabulary, stations: Sequence[str] = ()) -> dict[str, str | None]:
    """Recogniser modes: free decoding, biased to intent cues, biased to numbers and dates,
    and one per number shape the IVR asks for (only digits and their lead-in words)."""
    grammars: dict[str, str | None] = {
        FREE: None,
        INTENT: grammar_json(intent_phrases(), vocab),
        ENTITY: grammar_json(entity_phrases(stations), vocab),
    }
    for shape in SHAPES.values():
        grammars[shape.mode] = grammar_json(shape_phrases(shape), vocab)
    return grammars
