"""What the engine is given: language runs, pinyin for Mandarin, numbers as words."""

from __future__ import annotations

import pytest

from app.tts.text import EN_VOICE, ZH_VOICE, plan, split_languages, zh_numbers, zh_to_pinyin


def test_english_inside_mandarin_gets_the_english_voice() -> None:
    segments = plan("您好，欢迎致电铁路客服热线。For English, press 9.", "zh")
    assert [s.voice for s in segments] == [ZH_VOICE, EN_VOICE]
    assert segments[0].text == "nin2 hao3, huan1 ying2 zhi4 dian4 tie3 lu4 ke4 fu2 re4 xian4."
    assert segments[1].text == "For English, press 9."


def test_chinese_inside_english_gets_the_mandarin_voice() -> None:
    runs = split_languages("Train G 1 0 1 from 北京南 at eight fifteen.", "en")
    assert runs == [
        ("en", "Train G 1 0 1 from"),
        ("zh", "北京南"),
        ("en", "at eight fifteen."),
    ]


def test_letters_and_acronyms_stay_in_mandarin() -> None:
    assert split_languages("G101次列车，您的ID号码", "zh") == [("zh", "G101次列车，您的ID号码")]


def test_numbers_in_mandarin_text() -> None:
    assert zh_numbers("请按1，人工服务请按0") == "请按一，人工服务请按零"
    assert zh_numbers("G101次08:15开") == "G幺零幺次八点十五分开"
    assert zh_numbers("晚点75分钟，票价553.5元") == "晚点七十五分钟，票价五百五十三元五角"
    assert zh_numbers("退票手续费¥12.5") == "退票手续费十二元五角"
    assert zh_numbers("订单号E123456789") == "订单号E，幺二三，四五六，七八九"
    assert zh_numbers("收取5%") == "收取百分之五"
    assert zh_numbers("拨打12306或010") == "拨打幺二三零六或零幺零"
    assert zh_numbers("2026-12-05") == "二零二六年十二月五日"


def test_pinyin_reads_polyphones_by_context() -> None:
    assert zh_to_pinyin("重新输入") == "chong2 xin1 shu1 ru4"
    assert zh_to_pinyin("重听请按星号键") == "chong2 ting1 qing3 an4 xing1 hao4 jian4"
    assert zh_to_pinyin("重点旅客") == "zhong4 dian3 lv3 ke4"
    assert zh_to_pinyin("银行") == "yin2 hang2"
    # 不 before a fourth tone is said bu2.
    assert zh_to_pinyin("不要") == "bu2 yao4"


def test_train_letter_g_is_said_ji() -> None:
    assert zh_to_pinyin("G101次") == "ji4 yao1 ling2 yao1 ci4"
    assert zh_to_pinyin("五车十二A号") == "wu3 che1 shi2 er4 A hao4"


def test_punctuation_becomes_pauses() -> None:
    assert zh_to_pinyin("您好。再见！") == "nin2 hao3. zai4 jian4!"


@pytest.mark.parametrize("text", ["", "。。", "  ，"])
def test_nothing_to_say_is_an_error(text: str) -> None:
    with pytest.raises(ValueError, match="nothing to say"):
        plan(text, "zh")


def test_unknown_language_is_an_error() -> None:
    with pytest.raises(ValueError, match="unknown language"):
        plan("hello", "fr")
