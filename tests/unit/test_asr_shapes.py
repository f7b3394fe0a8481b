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
    grammar_digits,
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


def test_the_grammar_transcript_is_read_as_written() -> None:
    order, tail = SHAPES["order_no"], SHAPES["digits"]
    # 是 is the grammar's lead-in word, not a 四 (read by sound it made 405104081).
    assert grammar_digits(order, "嗯订单号是零五一零四零八一一") == "051040811"
    # 后四位 before the digits is a lead-in; 四位 after them is the decoder's final 四.
    assert grammar_digits(tail, "身份证后四位八八零二") == "8802"
    assert grammar_digits(tail, "后四位是八幺二四位") == "8124"
    assert grammar_digits(tail, "尾号是幺零二嗯") == "102"


def test_a_right_length_alternative_beats_the_best_one_with_a_digit_more_or_less() -> None:
    order, tail = SHAPES["order_no"], SHAPES["digits"]
    # The best has a digit too many at the end (the last syllable's tail heard as 一); the
    # second is right. Before, the extra digit was taken for the order number's E.
    reading = read_shape(order, transcript("我的订单号要四驱车艾灸要方案与"),
                         transcript("我的订单号幺四七七二九幺八二一",
                                    "我的订单号幺四七七二九幺八二"))
    assert reading.value == "E147729182"
    # A repeated digit heard once: the alternative that has it twice is taken.
    reading = read_shape(tail, transcript("尾号是一把班"),
                         transcript("尾号是一八八", "尾号是一八八八"))
    assert reading.value == "1888"
    # With no right-length alternative, the stretch at the start of a longer one.
    reading = read_shape(tail, transcript("八次要"), transcript("八四幺八三"))
    assert (reading.value, reading.sure) == ("8418", False)


def test_the_shape_grammar_weighs_repeated_digits_and_a_trailing_filler() -> None:
    phrases = set(shape_phrases(SHAPES["order_no"]))
    assert {"八 八 八", "三 八 八", "八 八 三"} <= phrases
    assert any(p.endswith(" 嗯") and len(p.split()) == 10 for p in phrases)


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
