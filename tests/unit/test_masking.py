"""Phone and ID numbers inside free text: found in the ways people and the recogniser write
them, masked so that the last 4 digits (what verifies an order look-up) never show."""

from __future__ import annotations

import pytest

from app.services.masking import mask_text


@pytest.mark.parametrize("text, masked", [
    ("请回电13800138000谢谢", "请回电138********谢谢"),
    ("电话 138 0013 8000。", "电话 138 **** ****。"),
    ("tel +86 13800138000", "tel +86 138********"),
    ("座机010-12345678", "座机010-********"),
    ("身份证110101199003071234，", "身份证1101**************，"),
    ("ID 11010119900307123x", "ID 1101**************"),
    ("旧证110101900307123", "旧证1101***********"),
    ("我的电话是幺三八零零幺三八零零零", "我的电话是幺三八********"),
    ("幺 三 八 零 零 幺 三 八 零 零 零", "幺 三 八 * * * * * * * *"),
    ("１３８００１３８０００", "１３８********"),
    ("两个号码13800138000 13900139000", "两个号码138******** 139********"),
])
def test_personal_numbers_are_masked(text: str, masked: str) -> None:
    assert mask_text(text) == masked


@pytest.mark.parametrize("text", [
    "工单GD261130000001，订单E123456789，订单号123456789",
    "G101次 2026-11-30 08:15 到达，晚点15分钟",
    "二零二六年十一月三十日",
    "[call 1764502514.45] played sound:hotline/zh/welcome",
    "12306",
])
def test_other_numbers_stay(text: str) -> None:
    assert mask_text(text) == text
