"""Numbers of the shape the IVR asked for: digits read by pinyin, both readings compared."""

from __future__ import annotations

from itertools import pairwise

import pytest

from app.asr.evaluate import LabelsError, evaluate
from app.asr.recognizer import Alternative, Transcript
from app.asr.shapes import (
    CODE_DIGITS,
    SHAPES,
    digit_sequences,
    read_shape,
    shape_phrases,
    shaped_digits,
)
from tests.data import SPEECH


def transcript(*texts: str) -> Transcript:
    return Transcript("x", tuple(Alternative(t, -float(i)) for i, t in enumerate(texts)))


def test_near_homophones_of_digits_are_digits_when_digits_were_asked_for() -> None:
    # 吧 for 八 at the end used to drop the last digit (二四六八零二四六吧 -> 24680246).
    assert shaped_digits("二四六八零二四六吧", 9) == "246802468"
    assert shaped_digits("我的订单后酒吧七六五次三二一", 9) == "987654321"
    assert shaped_digits("六六八班", 4) == "6688"  # 班 for 八
    assert shaped_digits("幺玲要期", 4) == "1017"  # 玲 for 零, 要 for 幺, 期 for 七
    assert shaped_digits("尾号是幺领二而", 4) == "1022"  # lead-in 是 (like 四) left out
    assert shaped_digits("我想退票", 4) is None


def test_agreeing_readings_are_sure_and_disagreeing_ones_are_read_back() -> None:
    shape = SHAPES["order_no"]
    sure = read_shape(shape, transcript("二四六八零二四六吧"),
                      transcript("二四六八零二四六八"))
    assert (sure.value, sure.sure) == ("E246802468", True)
    # The grammar's extra digit: which nine are meant, the free transcript settles.
    digits = SHAPES["digits"]
    shared = read_shape(digits, transcript("六六八班"), transcript("六六八八九", "六六八一"))
    assert (shared.value, shared.sure) == ("6688", False)
    only_grammar = read_shape(shape, transcript("我想退票"),
                              transcript("一二三四五六七八九"))
    assert (only_grammar.value, only_grammar.sure) == ("E123456789", False)
    assert read_shape(shape, transcript("我想退票"), transcript("退票")).value is None


def test_the_shape_grammar_lets_every_digit_follow_every_digit() -> None:
    pairs = set()
    for phrase in digit_sequences(9):
        words = phrase.split()
        assert len(words) == 9
        pairs.update(pairwise(words))
    assert pairs == {(a, b) for a in CODE_DIGITS for b in CODE_DIGITS}
    phrases = shape_phrases(SHAPES["digits"])
    assert any(p.startswith("尾号 是 ") for p in phrases)


def test_eval_expect_needs_entity_labels() -> None:
    with pytest.raises(LabelsError, match="--expect needs entity labels"):
        evaluate(SPEECH / "labels.tsv", SPEECH / "pcm8k", None,  # type: ignore[arg-type]
                 expect="digits")
