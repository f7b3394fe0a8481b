"""The natural Mandarin voice and where each prompt's audio comes from: recorded > neural >
espeak, stale audio, `hotline prompts status`, the voice's front end and install. Real engines
(the natural voice as the setup installs it, espeak-ng, sox) in temporary directories."""

from __future__ import annotations

import argparse
import json
import subprocess
import wave
from pathlib import Path

import pytest

from app.config import REPO_ROOT
from app.tts import neural
from app.tts.build import MANIFEST, build_prompts, prompt_status
from app.tts.catalog import parse_catalog
from app.tts.cli import register
from app.tts.text import NEURAL_VOICE, first_phrase, plan, zh_phrases

CATALOG = """
welcome:
  zh: 您好，欢迎致电铁路客服热线。For English, press 9.
  en: Welcome to the railway customer service hotline.
goodbye:
  zh: 感谢您的来电，再见。
  en: Thank you for calling. Goodbye.
please_hold:
  zh: 请稍候。
  en: Please hold.
work_order_created:
  zh: 已为您登记，工单号是{number}。
  en: Your work order number is {number}.
"""


def quiet(_: str) -> None:
    pass


def wav_info(path: Path) -> tuple[int, int, float]:
    with wave.open(str(path), "rb") as wav:
        return wav.getframerate(), wav.getnchannels(), wav.getnframes() / wav.getframerate()


@pytest.fixture
def recordings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "recorded"
    monkeypatch.setenv("HOTLINE_RECORDED_DIR", str(folder))
    return folder


def record(folder: Path, name: str, seconds: float = 1.5) -> Path:
    """A 44.1 kHz stereo recording, as a studio delivers it (a chirp stands in for a voice)."""
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["sox", "-n", "-r", "44100", "-c", "2", "-b", "16", str(path), "synth",
                    str(seconds), "sine", "300-900", "gain", "-6"], check=True)
    return path


def statuses(out: Path) -> dict[str, dict[str, object]]:
    rows = prompt_status(parse_catalog(CATALOG), out_dir=out)
    return {f"{r.lang}/{r.id}": r.__dict__ for r in rows}


def test_build_takes_a_recording_over_the_natural_voice_over_espeak(
    tmp_path: Path, recordings: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    record(recordings, "zh/goodbye.wav", seconds=2.0)
    out = tmp_path / "sounds"
    report = build_prompts(parse_catalog(CATALOG), ("zh",), out_dir=out, progress=quiet)
    assert sorted(report.built) == ["zh/goodbye", "zh/please_hold", "zh/welcome"]

    found = statuses(out)
    assert found["zh/goodbye"]["source"] == "recorded"
    assert found["zh/please_hold"]["source"] == "neural"
    assert found["zh/welcome"]["source"] == "neural"  # its English sentence is espeak-ng's
    assert found["zh/work_order_created"]["call_time"] is True
    # The recording is converted to what the PBX plays: 8 kHz mono, its length kept.
    rate, channels, seconds = wav_info(out / "zh/goodbye.wav")
    assert (rate, channels) == (8000, 1)
    assert seconds == pytest.approx(2.1, abs=0.05)  # with the 0.1 s lead-in
    manifest = json.loads((out / MANIFEST).read_text())["prompts"]
    assert manifest["zh/goodbye"]["source"] == "recorded"

    monkeypatch.setenv("HOTLINE_TTS_ENGINE", "espeak")
    again = build_prompts(parse_catalog(CATALOG), ("zh",), out_dir=out, progress=quiet)
    assert sorted(again.built) == ["zh/please_hold", "zh/welcome"]  # the recording stays
    found = statuses(out)
    assert found["zh/please_hold"]["source"] == "espeak"
    assert found["zh/goodbye"]["source"] == "recorded"


def test_a_new_recording_replaces_the_synthesis_at_the_next_build(
    tmp_path: Path, recordings: Path
) -> None:
    out = tmp_path / "sounds"
    build_prompts(parse_catalog(CATALOG), ("zh",), out_dir=out, progress=quiet)
    record(recordings, "zh/please_hold.wav", seconds=3.0)
    assert statuses(out)["zh/please_hold"]["stale"] is True
    report = build_prompts(parse_catalog(CATALOG), ("zh",), out_dir=out, progress=quiet)
    assert report.built == ["zh/please_hold"]
    assert wav_info(out / "zh/please_hold.wav")[2] == pytest.approx(3.1, abs=0.05)


def test_stale_audio_is_reported_when_a_text_changes(tmp_path: Path, recordings: Path) -> None:
    recording = record(recordings, "zh/goodbye.wav")
    out = tmp_path / "sounds"
    build_prompts(parse_catalog(CATALOG), ("zh",), out_dir=out, progress=quiet)
    assert not any(row["stale"] for name, row in statuses(out).items() if name.startswith("zh/"))

    changed = CATALOG.replace("感谢您的来电，再见。", "感谢来电，祝您旅途愉快。").replace(
        "请稍候。", "请稍等。")
    rows = {f"{r.lang}/{r.id}": r for r in prompt_status(parse_catalog(changed), out_dir=out)}
    assert rows["zh/please_hold"].stale and "text" in rows["zh/please_hold"].reason
    assert rows["zh/goodbye"].stale and "earlier text" in rows["zh/goodbye"].reason
    assert not rows["zh/welcome"].stale

    # A build re-synthesises the changed text; a recording cannot be, so it stays stale
    # until the talent records the new text (or its .txt says it holds it).
    build_prompts(parse_catalog(changed), ("zh",), out_dir=out, progress=quiet)
    rows = {f"{r.lang}/{r.id}": r for r in prompt_status(parse_catalog(changed), out_dir=out)}
    assert not rows["zh/please_hold"].stale
    assert rows["zh/goodbye"].stale
    recording.with_suffix(".txt").write_text("感谢来电，祝您旅途愉快。", encoding="utf-8")
    rows = {f"{r.lang}/{r.id}": r for r in prompt_status(parse_catalog(changed), out_dir=out)}
    assert not rows["zh/goodbye"].stale


def run_cli(*argv: str) -> int:
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["prompts", *argv])
    code: int = args.func(args)
    return code


def test_status_lists_every_prompt_as_json(
    tmp_path: Path, recordings: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    catalog = tmp_path / "prompts.yaml"
    catalog.write_text(CATALOG, encoding="utf-8")
    monkeypatch.setenv("HOTLINE_SOUNDS_DIR", str(tmp_path / "sounds"))
    assert run_cli("status", "--catalog", str(catalog), "--json") == 1  # nothing built yet
    before = json.loads(capsys.readouterr().out)
    assert len(before["prompts"]) == 8 and len(before["stale"]) == 6

    build_prompts(parse_catalog(CATALOG), out_dir=tmp_path / "sounds", progress=quiet)
    assert run_cli("status", "--catalog", str(catalog), "--json") == 0
    after = json.loads(capsys.readouterr().out)
    assert after["stale"] == []
    assert after["sources"] == {"recorded": 0, "neural": 3, "espeak": 3}
    welcome = next(p for p in after["prompts"] if (p["lang"], p["id"]) == ("zh", "welcome"))
    assert welcome["text"].startswith("您好") and welcome["seconds"] > 3
    assert welcome["built"] is True and welcome["source"] == "neural"


def test_mandarin_goes_to_the_natural_voice_as_pinyin_phrases() -> None:
    segments = plan("您好，欢迎致电。For English, press 9.", "zh", neural=True)
    assert [s.voice for s in segments] == [NEURAL_VOICE, "gmw/en"]
    assert segments[0].text == "nin2 hao3 | huan1 ying2 zhi4 dian4"
    assert zh_phrases("G101次，好的呢") == "ji4 yao1 ling2 yao1 ci4 | hao3 de5 ne5"
    assert zh_phrases("请重听") == "qing3 chong2 ting1"  # the hotline's own polyphones
    assert zh_phrases("您的ID号") == "nin2 de5 ai4 di4 hao4"


def test_syllables_become_the_voices_symbols() -> None:
    table = {"zhong": ["zh", "ong"], "hua": ["h", "ua"], "en": ["^", "en"]}
    assert neural.syllable_phones("zhong1", table) == ["zh", "ong1"]
    assert neural.syllable_phones("huar1", table) == ["h", "ua1", "er5"]  # erhua
    assert neural.syllable_phones("ng4", table) == ["^", "en4"]  # 嗯
    assert neural.syllable_phones("de", table) == []  # unknown here: dropped, not guessed
    ids = neural.phrase_ids("ni3 hao3 | qing3 shao1 hou4")
    assert len(ids) == 2
    assert all(phrase[-1] == ids[0][-1] for phrase in ids)  # each ends with eos
    with pytest.raises(neural.VoiceError, match="nothing"):
        neural.phrase_ids("press5")


def test_a_long_answer_starts_with_its_first_phrase() -> None:
    assert first_phrase("十二月一日，G幺零幺次列车正点运行。") == (
        "十二月一日，", "G幺零幺次列车正点运行。")
    assert first_phrase("好，请稍候。") == ("好，请稍候。",)  # too short to start on
    assert first_phrase("您的订单共有两张车票。") == ("您的订单共有两张车票。",)


def test_setup_installs_the_voice_and_a_second_install_reuses_it() -> None:
    setup = (REPO_ROOT / "scripts/setup.sh").read_text()
    assert setup.index("prompts install-voice") < setup.index("prompts build")
    assert neural.is_installed()
    said: list[str] = []
    neural.install(say=said.append)
    assert said == [f"reusing the natural voice in {neural.voice_dir()}"]


def test_engine_choice_and_a_missing_voice_are_clear(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOTLINE_TTS_ENGINE", "loud")
    with pytest.raises(neural.VoiceError, match="auto, neural or espeak"):
        neural.wanted()
    monkeypatch.setenv("HOTLINE_MODELS_DIR", str(tmp_path))
    monkeypatch.setenv("HOTLINE_TTS_ENGINE", "auto")
    assert neural.wanted() is False  # not installed there: espeak-ng speaks Mandarin
    monkeypatch.setenv("HOTLINE_TTS_ENGINE", "neural")
    with pytest.raises(neural.VoiceError, match="install-voice"):
        neural.wanted()
