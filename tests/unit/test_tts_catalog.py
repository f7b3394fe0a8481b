"""The prompt catalog: the shipped one is valid and complete, bad ones fail clearly."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.config import REPO_ROOT
from app.ivr.loader import load_flow
from app.tts.catalog import CATALOG, CatalogError, load_catalog, parse_catalog


def test_the_shipped_catalog_is_valid() -> None:
    catalog = load_catalog(CATALOG)
    assert len(catalog.prompts) >= 30
    for prompt_id, prompt in catalog.prompts.items():
        assert prompt.zh and prompt.en, prompt_id


def test_every_prompt_the_flows_use_is_in_the_catalog() -> None:
    known = set(load_catalog(CATALOG).prompts)
    flows = sorted((REPO_ROOT / "app" / "ivr" / "flows").glob("*.yaml"))
    assert flows
    for flow in flows:
        load_flow(flow, known_prompts=known)  # raises FlowError naming an unknown prompt
    # Said by the runner itself, not named in a flow.
    assert {"technical_error", "invalid_input", "no_input", "please_hold"} <= known


def test_catalog_covers_the_hotline_menu() -> None:
    catalog = load_catalog(CATALOG)
    assert "For English, press 9" in catalog.text("welcome", "zh")
    assert catalog.text("invalid_input", "zh") == "输入有误，请重新输入。"
    assert catalog.text("no_input", "zh") == "您没有输入。"
    assert catalog.text("main_menu", "zh").startswith("请说出您要办理的业务，或按键选择")
    menu = catalog.text("main_menu", "zh")
    for key in "1234560":
        assert f"请按{key}" in menu
    assert "百分之二十" in catalog.text("refund_policy", "zh")
    assert catalog.fill("confirm_intent", "zh", intent="退票") == (
        "您是要办理退票吗？确认请按1，返回请按2。"
    )
    for prompt_id in ("train_on_time", "train_delayed", "train_cancelled", "work_order_created"):
        assert catalog.prompt(prompt_id).slots


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("welcome: {zh: 你好}", r"prompt 'welcome': en: Field required"),
        ("Welcome-1: {zh: x, en: y}", r"prompt id 'Welcome-1' must be lower_snake_case"),
        ('order: {zh: "订单{number}", en: "order {num}"}', r"prompt 'order': slots differ"),
        ("a: {zh: x, en: y}\nb: {zh: x, en: y}\na: {zh: z, en: w}", r"'a' is defined twice"),
        ('a: {zh: "{n:>3}", en: "{n}"}', r"prompt 'a': zh: slot \{n\} takes no format"),
        ('a: {zh: "{}", en: "x"}', r"prompt 'a': zh: slot \{\} must be a name"),
        ('a: {zh: "{", en: "x"}', r"prompt 'a': zh: unbalanced"),
        ("a: {zh: x, en: y, fr: z}", r"prompt 'a': fr: unknown key"),
        ('a: {zh: "  ", en: y}', r"prompt 'a': zh: empty text"),
        ("a:", r"prompt 'a': needs its texts"),
        ("- a\n- b", r"a catalog maps prompt ids"),
        ("a: [", r"not valid YAML"),
    ],
)
def test_bad_catalogs_name_the_problem(text: str, message: str) -> None:
    with pytest.raises(CatalogError, match=message):
        parse_catalog(text)


def test_a_bad_catalog_file_names_the_file_and_every_bad_prompt(tmp_path: Path) -> None:
    path = tmp_path / "prompts.yaml"
    path.write_text("ok: {zh: 好, en: ok}\nbad: {zh: 坏}\nworse: {en: worse}\n", encoding="utf-8")
    with pytest.raises(CatalogError) as info:
        load_catalog(path)
    message = str(info.value)
    assert str(path) in message
    assert "prompt 'bad': en: Field required" in message
    assert "prompt 'worse': zh: Field required" in message
    assert "'ok'" not in message


def test_a_missing_catalog_file_says_so(tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match="cannot read"):
        load_catalog(tmp_path / "missing.yaml")


def test_fill_checks_slots() -> None:
    catalog = parse_catalog('w: {zh: "工单号是{number}", en: "number {number}"}')
    assert catalog.fill("w", "en", number="one two") == "number one two"
    with pytest.raises(CatalogError, match="has slots"):
        catalog.fill("w", "zh")
    with pytest.raises(CatalogError, match="no prompt 'nope'"):
        catalog.text("nope", "zh")
    with pytest.raises(CatalogError, match="unknown language"):
        catalog.text("w", "fr")
