"""`hotline prompts check`: the normaliser and error rates, and the check with the real Mandarin
model on the recorded development set (tests/data/speech) and on noise."""

from __future__ import annotations

import json
import shutil
import wave
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from app.asr import model
from app.cli import main
from app.tts.catalog import load_catalog, parse_catalog
from app.tts.intelligibility import (
    PROBLEM_SER,
    Target,
    check,
    edit_distance,
    normalise,
    pieces,
    sample_answers,
    score,
)
from tests.data import SPEECH

GOOD_CLIP = SPEECH / "pcm8k" / "011.wav"  # labelled 退票手续费是多少
GOOD_TEXT = "退票手续费是多少"
UNRELATED = "请在提示音后描述遗失物品和您的联系方式。"

CATALOG = f"""
refund_fee_question:
  zh: {GOOD_TEXT}？
  en: How much is the refund fee?
want_refund:
  zh: 我想退票。
  en: I want a refund.
goodbye:
  zh: 感谢您的来电，再见。
  en: Thank you for calling. Goodbye.
work_order_created:
  zh: 已为您登记，工单号是{{number}}。
  en: Your work order number is {{number}}.
"""


# --- text ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "heard_as"),
    [
        ("您好，欢迎致电铁路客服热线。For English, press 9.", "您好欢迎致电铁路客服热线"),
        ("请乘坐G101次列车", "请乘坐幺零幺次列车"),
        ("Ｇ１０１次", "幺零幺次"),  # full-width letters and digits
        ("08:15发车", "八点十五分发车"),
        ("０８：１５发车", "八点十五分发车"),
        ("2026-12-05出发", "二零二六年十二月五日出发"),
        ("订单号E123456789", "订单号幺二三四五六七八九"),
        ("请按１，人工服务请按0。", "请按一人工服务请按零"),
        ("收取5%的退票费", "收取百分之五的退票费"),
        ("“退票”、改签！（重听）……", "退票改签重听"),
        ("我 要 退票", "我要退票"),  # Vosk's words come with spaces between them
        ("VIP客户", "客户"),
    ],
)
def test_normalise_keeps_what_a_listener_could_write(text: str, heard_as: str) -> None:
    assert normalise(text) == heard_as


def test_letters_and_english_leave_gaps_in_the_reference() -> None:
    assert pieces("请乘坐G101次列车") == ["请乘坐", None, "幺零幺次列车"]
    assert pieces("您好。For English, press 9.") == ["您好", None]
    assert pieces("ID号") == [None, "号"]


def test_what_is_heard_in_a_gap_costs_nothing() -> None:
    # The English sentence heard as Chinese syllables is not counted against the prompt ...
    assert score("您好。For English, press 9.", "您好佛英格力") == score("您好", "您好")
    assert score("G101次", "鸡幺零幺次").ser == 0.0
    # ... but the same syllables where nothing was spoken are.
    assert score("您好", "您好佛英格力").cer == pytest.approx(2.0)
    # A gap does not excuse a wrong digit next to it.
    assert score("G101次", "鸡幺零七次").cer == pytest.approx(0.25)


def test_homophones_are_errors_for_cer_but_not_for_ser() -> None:
    found = score("请按键", "请 案件")
    assert found.cer == pytest.approx(2 / 3)
    assert found.ser == 0.0
    # The synthesiser's reading of a polyphone (重听 chong2 ting1) is the reference.
    assert score("重听请按星号键", "虫听请按星号键").ser == 0.0
    # Different sounds are errors for both.
    wrong = score("请按键", "请安静")
    assert wrong.cer == pytest.approx(2 / 3)
    assert wrong.ser == pytest.approx(1 / 3)


def test_nothing_heard_is_all_wrong() -> None:
    assert score("感谢您的来电，再见。", "") == score("再见", "")
    assert score("再见", "").ser == 1.0


def test_edit_distance() -> None:
    assert edit_distance(list("kitten"), list("sitting")) == 3
    assert edit_distance([], list("abc")) == 3
    assert edit_distance(list("abc"), []) == 3
    assert edit_distance(["a", None, "c"], list("axyzc")) == 0
    assert edit_distance(["a", None, "c"], list("ac")) == 0
    assert edit_distance([None], []) == 0
    assert edit_distance(["a", None], list("bxy")) == 1


# --- the sample answers --------------------------------------------------------------------


def test_sample_answers_fill_the_catalog_with_spoken_numbers() -> None:
    answers = dict(sample_answers(load_catalog()))
    assert "幺零幺" in answers["train_on_time"]  # G101, digit by digit
    assert "八点十五分" in answers["train_on_time"]
    assert "十二月五日" in answers["train_on_time"]
    assert "二零八，八幺五，三七零" in answers["confirm_number:order_no"]  # in groups
    assert "零八幺五" in answers["confirm_number:phone_tail"]
    assert "一小时十五分钟" in answers["train_delayed"]
    assert answers["refund_fee"] == "退票手续费十二元五角。"
    assert all("{" not in text for text in answers.values())


def test_sample_answers_follow_the_catalog() -> None:
    catalog = parse_catalog(
        "train_on_time:\n  zh: '{train}次{date}{time}从{station}发车'\n"
        "  en: '{train} {date} {time} {station}'\n"
    )
    answers = dict(sample_answers(catalog))
    assert answers["train_on_time"] == "G幺零幺次十二月五日八点十五分从北京南发车"
    assert "confirm_number:order_no" not in answers  # no such prompt in this catalog
    assert "refund_fee" in answers


# --- with the real model ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def vosk_model() -> Any:
    return model.load_model()  # installed by the setup (`hotline asr install`)


def write_noise(path: Path, seconds: float = 2.0) -> Path:
    rng = np.random.default_rng(5)
    samples = np.clip(rng.normal(0, 3000, int(8000 * seconds)), -32768, 32767).astype("<i2")
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(8000)
        wav.writeframes(samples.tobytes())
    return path


def test_check_hears_a_clear_clip_and_flags_the_wrong_text(vosk_model: Any,
                                                           tmp_path: Path) -> None:
    targets = [
        Target("good", "prompt", GOOD_TEXT, GOOD_CLIP),
        Target("wrong_text", "prompt", UNRELATED, GOOD_CLIP),
        Target("noise", "prompt", GOOD_TEXT, write_noise(tmp_path / "noise.wav")),
    ]
    seen: list[str] = []
    good, wrong, noise = check(targets, vosk_model, jobs=2,
                               progress=lambda done, total, item: seen.append(item.id))
    assert [good.id, wrong.id, noise.id] == ["good", "wrong_text", "noise"]
    assert sorted(seen) == ["good", "noise", "wrong_text"]
    assert normalise(good.heard) == GOOD_TEXT
    assert good.ser <= 0.1 and good.cer <= 0.2
    assert wrong.ser > PROBLEM_SER
    assert noise.ser > PROBLEM_SER


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    status = main(["prompts", "check", *args])
    out, err = capsys.readouterr()
    return status, out, err


def test_cli_passes_a_clear_recording(vosk_model: Any,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = run_cli(capsys, "--file", str(GOOD_CLIP), "--text", GOOD_TEXT)
    assert status == 0, out + err
    assert "[1/1] 011.wav: SER 0.00" in err  # progress on stderr
    assert "OK" in out.splitlines()[-1]


@pytest.mark.parametrize("case", ["unrelated text", "noise"])
def test_cli_fails_what_the_model_cannot_hear(vosk_model: Any, tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str],
                                              case: str) -> None:
    if case == "noise":
        wav, text = write_noise(tmp_path / "noise.wav"), GOOD_TEXT
    else:
        wav, text = GOOD_CLIP, UNRELATED
    status, out, _ = run_cli(capsys, "--file", str(wav), "--text", text, "--json")
    assert status == 1
    report = json.loads(out)
    assert [p["id"] for p in report["problems"]] == [wav.name]
    assert report["problems"][0]["ser"] > PROBLEM_SER
    assert report["mean_ser"] > PROBLEM_SER
    assert report["passed"] is False


@pytest.fixture
def sounds(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A sounds dir of its own, and a catalog whose texts two development clips say."""
    monkeypatch.setenv("HOTLINE_SOUNDS_DIR", str(tmp_path / "sounds"))
    (tmp_path / "prompts.yaml").write_text(CATALOG, encoding="utf-8")
    return tmp_path


def place(sounds: Path) -> None:
    (sounds / "sounds" / "zh").mkdir(parents=True)
    shutil.copyfile(GOOD_CLIP, sounds / "sounds" / "zh" / "refund_fee_question.wav")
    shutil.copyfile(SPEECH / "pcm8k" / "007.wav", sounds / "sounds" / "zh" / "want_refund.wav")


def test_cli_json_reports_every_built_prompt_and_the_missing_ones(
        vosk_model: Any, sounds: Path, capsys: pytest.CaptureFixture[str]) -> None:
    place(sounds)
    catalog = str(sounds / "prompts.yaml")
    status, out, err = run_cli(capsys, "--catalog", catalog, "--no-answers", "--json")
    assert status == 1  # goodbye is not built
    assert err == ""  # no progress lines with --json
    report = json.loads(out)
    assert set(report) >= {"prompts", "mean_cer", "mean_ser", "prompts_mean_cer",
                           "prompts_mean_ser", "worst", "problems", "items", "missing"}
    assert report["prompts"] == 2
    assert report["missing"] == ["goodbye"]
    items = {i["id"]: i for i in report["items"]}
    assert set(items) == {"refund_fee_question", "want_refund"}  # slots: not a prompt file
    assert items["want_refund"] == {"id": "want_refund", "kind": "prompt", "text": "我想退票。",
                                    "heard": items["want_refund"]["heard"],
                                    "cer": items["want_refund"]["cer"],
                                    "ser": items["want_refund"]["ser"]}
    assert all(i["ser"] <= 0.1 for i in items.values())
    assert report["problems"] == []
    assert len(report["worst"]) == 2
    assert report["mean_ser"] == report["prompts_mean_ser"] <= 0.1

    status, out, _ = run_cli(capsys, "--catalog", catalog, "--prompt", "want_refund", "--json")
    assert status == 0
    assert [i["id"] for i in json.loads(out)["items"]] == ["want_refund"]


def test_cli_synthesises_answers_as_calls_do(vosk_model: Any, sounds: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    place(sounds)
    args = ("--catalog", str(sounds / "prompts.yaml"), "--prompt", "refund_fee", "--json")
    status, out, _ = run_cli(capsys, *args)
    assert status in (0, 1)
    (item,) = json.loads(out)["items"]
    assert item["kind"] == "answer"
    assert item["text"] == "退票手续费十二元五角。"
    cached = list((sounds / "sounds" / "dyn" / "zh").glob("*.wav"))
    assert len(cached) == 1  # in the call-time cache, named by its key
    written = cached[0].stat().st_mtime_ns
    run_cli(capsys, *args)
    assert cached[0].stat().st_mtime_ns == written  # the second check reuses it


def test_cli_says_to_build_when_nothing_is_built(sounds: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = run_cli(capsys, "--catalog", str(sounds / "prompts.yaml"), "--json")
    assert status == 2
    assert out == ""
    assert "run `hotline prompts build`" in err


def test_cli_says_to_install_a_missing_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("HOTLINE_MODELS_DIR", str(tmp_path / "no-models"))
    status, _, err = run_cli(capsys, "--file", str(GOOD_CLIP), "--text", GOOD_TEXT)
    assert status == 2
    assert "hotline asr install" in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--file", str(GOOD_CLIP)], "--file and --text go together"),
        (["--text", GOOD_TEXT], "--file and --text go together"),
        (["--file", str(GOOD_CLIP), "--text", "Hello"], "no Mandarin"),
        (["--file", str(GOOD_CLIP), "--text", "工单号{number}"], "slots"),
        (["--file", "/nonexistent.wav", "--text", GOOD_TEXT], "is not a file"),
        (["--prompt", "no_such_prompt"], "nothing to check named no_such_prompt"),
        (["--prompt", "work_order_created"], "nothing to check named work_order_created"),
    ],
)
def test_cli_usage_errors(sounds: Path, capsys: pytest.CaptureFixture[str], args: list[str],
                          message: str) -> None:
    status, _, err = run_cli(capsys, "--catalog", str(sounds / "prompts.yaml"), *args)
    assert status == 2
    assert message in err


def test_cli_has_no_english_check(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["prompts", "check", "--lang", "en"])
    assert exited.value.code == 2
    assert "invalid choice" in capsys.readouterr().err
