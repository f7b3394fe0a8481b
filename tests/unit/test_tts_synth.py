"""Synthesis with the real engine (pyttsx3 + espeak-ng + sox) into temporary directories:
formats the PBX plays, the build cache, call-time synthesis off the event loop."""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import wave
from pathlib import Path

import numpy as np
import pytest

from app.tts.build import MANIFEST, BuildReport, build_prompts, prune_call_time_cache
from app.tts.catalog import parse_catalog
from app.tts.cli import register
from app.tts.paths import media_uri, media_uri_for_file, pbx_path, sounds_dir
from app.tts.synth import SynthesisError, Synthesizer, engine_info, prepare, run, synthesize
from app.tts.text import NEURAL_VOICE

CATALOG = """
welcome:
  zh: 您好，欢迎致电铁路客服热线。For English, press 9.
  en: Welcome to the railway customer service hotline.
goodbye:
  zh: 感谢您的来电，再见。
  en: Thank you for calling. Goodbye.
work_order_created:
  zh: 已为您登记，工单号是{number}。
  en: Your work order number is {number}.
"""
ANSWER = "G幺零幺次列车预计晚点一小时十五分钟，八点十五分从北京南开出。"


def read_wav(path: Path) -> tuple[int, int, np.ndarray]:
    with wave.open(str(path), "rb") as wav:
        assert wav.getnchannels() == 1
        assert wav.getsampwidth() == 2
        rate, frames = wav.getframerate(), wav.readframes(wav.getnframes())
    return rate, len(frames) // 2, np.frombuffer(frames, dtype="<i2")


def rms(samples: np.ndarray) -> float:
    return float(np.sqrt(np.mean(samples.astype(np.float64) ** 2)))


def assert_playable(base: Path) -> float:
    """base.wav is 8 kHz speech and base.sln16 the same at 16 kHz; returns the duration."""
    rate, count, samples = read_wav(base.with_suffix(".wav"))
    assert rate == 8000
    seconds = count / rate
    assert 0.5 < seconds < 30
    assert rms(samples) > 1000  # speech normalised to -3 dBFS, not silence
    wide = np.fromfile(base.with_suffix(".sln16"), dtype="<i2")
    assert abs(len(wide) / 16000 - seconds) < 0.02
    assert rms(wide) > 1000
    return seconds


def sox_stat(path: Path, *fmt: str) -> dict[str, float]:
    out = subprocess.run(["sox", *fmt, str(path), "-n", "stat"], capture_output=True, text=True)
    stats = {}
    for line in out.stderr.splitlines():
        name, _, value = line.partition(":")
        try:
            stats[name.strip()] = float(value)
        except ValueError:
            pass
    return stats


def test_build_writes_8k_wav_and_16k_sln16(tmp_path: Path) -> None:
    report = build_prompts(parse_catalog(CATALOG), out_dir=tmp_path, progress=lambda _: None)

    assert sorted(report.built) == ["en/goodbye", "en/welcome", "zh/goodbye", "zh/welcome"]
    assert report.call_time == ["zh/work_order_created", "en/work_order_created"]
    assert not report.failed
    for name in report.built:
        assert_playable(tmp_path / name)
    assert not (tmp_path / "zh" / "work_order_created.wav").exists()
    assert (tmp_path / MANIFEST).exists()
    # The mixed-language welcome is longer than its Mandarin part alone.
    assert assert_playable(tmp_path / "zh/welcome") > 4

    stats = sox_stat(tmp_path / "zh/goodbye.sln16", "-t", "raw", "-r", "16000", "-e",
                     "signed-integer", "-b", "16", "-c", "1", "-L")  # fmt: skip
    assert 0.5 < stats["Length (seconds)"] < 10
    assert stats["RMS     amplitude"] > 0.03
    assert 0.6 < stats["Maximum amplitude"] <= 0.72  # peaks at -3 dBFS


def build(text: str, out_dir: Path, langs: tuple[str, ...] = ("zh", "en"), force: bool = False
          ) -> BuildReport:  # fmt: skip
    return build_prompts(
        parse_catalog(text), langs, out_dir=out_dir, force=force, progress=lambda _: None
    )


def test_rebuild_only_builds_what_changed(tmp_path: Path) -> None:
    build(CATALOG, tmp_path)
    stamp = (tmp_path / "zh/goodbye.wav").stat().st_mtime_ns

    (tmp_path / "zh" / ".tmp-killed").mkdir()  # as a killed build leaves it
    again = build(CATALOG, tmp_path)
    assert not (tmp_path / "zh" / ".tmp-killed").exists()
    assert again.built == []
    assert again.cached == 4
    assert (tmp_path / "zh/goodbye.wav").stat().st_mtime_ns == stamp

    changed = CATALOG.replace("感谢您的来电，再见。", "再见。").replace("welcome:", "hello:")
    update = build(changed, tmp_path)
    assert sorted(update.built) == ["en/hello", "zh/goodbye", "zh/hello"]
    assert update.cached == 1
    assert sorted(update.removed) == [
        "en/welcome.sln16", "en/welcome.wav", "zh/welcome.sln16", "zh/welcome.wav",
    ]  # fmt: skip

    forced = build(changed, tmp_path, ("en",), force=True)
    assert sorted(forced.built) == ["en/goodbye", "en/hello"]


def test_same_input_gives_the_same_bytes_from_espeak(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOTLINE_TTS_ENGINE", "espeak")
    first = run(prepare("输入有误，请重新输入。", "zh", tmp_path / "a"))
    second = run(prepare("输入有误，请重新输入。", "zh", tmp_path / "b"))
    assert first.read_bytes() == second.read_bytes()


def test_same_input_gives_the_same_speech_from_the_natural_voice(tmp_path: Path) -> None:
    # The acoustic model draws noise (a random op), so the samples differ from run to run;
    # the speech (its length and loudness contour), and so the cache entry, is the same.
    first = prepare("输入有误，请重新输入。", "zh", tmp_path / "a")
    assert first.segments[0].voice == NEURAL_VOICE
    _, count_a, a = read_wav(run(first))
    _, count_b, b = read_wav(run(prepare("输入有误，请重新输入。", "zh", tmp_path / "b")))
    assert count_a == count_b
    assert np.corrcoef(envelope(a), envelope(b))[0, 1] > 0.95


def envelope(samples: np.ndarray) -> np.ndarray:
    """RMS per 20 ms."""
    frames = samples[: len(samples) // 160 * 160].astype(np.float64).reshape(-1, 160)
    return np.sqrt(np.mean(frames**2, axis=1))


def test_nothing_to_say_is_a_synthesis_error() -> None:
    with pytest.raises(SynthesisError, match="nothing to say"):
        prepare("。。", "zh")


def test_engine_info_names_the_versions() -> None:
    info = engine_info()
    assert info.pyttsx3 == "2.99"
    assert info.espeak
    assert "SoX" in info.sox


async def test_synthesis_does_not_block_the_event_loop(tmp_path: Path) -> None:
    synth = Synthesizer(cache_dir=tmp_path)
    loop = asyncio.get_running_loop()
    gaps: list[float] = []
    stop = asyncio.Event()

    async def ticker() -> None:
        last = loop.time()
        while not stop.is_set():
            await asyncio.sleep(0.005)
            now = loop.time()
            gaps.append(now - last)
            last = now

    ticking = asyncio.create_task(ticker())
    started = loop.time()
    path = await synth.synthesize(ANSWER, "zh")
    took = loop.time() - started
    stop.set()
    await ticking

    assert_playable(path.with_suffix(""))
    assert path.parent == tmp_path / "zh"
    assert len(gaps) >= 10
    # Blocking the loop would show as one gap about as long as the synthesis.
    assert max(gaps) < max(0.1, took / 3), (max(gaps), took)


async def test_call_time_synthesis_is_cached_and_shared(tmp_path: Path) -> None:
    synth = Synthesizer(cache_dir=tmp_path)
    first, second = await asyncio.gather(
        synth.synthesize(ANSWER, "zh"), synth.synthesize(ANSWER, "zh")
    )
    assert first == second
    assert synth.synthesised == 1
    assert await synth.synthesize(ANSWER, "zh") == first
    assert synth.synthesised == 1

    # A new synthesizer (a restarted server) finds the file on disk.
    again = Synthesizer(cache_dir=tmp_path)
    assert await again.synthesize(ANSWER, "zh") == first
    assert again.synthesised == 0

    english = await synth.synthesize("Train G one zero one is on time.", "en")
    assert english.parent == tmp_path / "en"
    assert synth.synthesised == 2


async def test_a_caller_hanging_up_does_not_cancel_the_synthesis(tmp_path: Path) -> None:
    synth = Synthesizer(cache_dir=tmp_path)
    caller = asyncio.create_task(synth.synthesize("您的工单号是幺二三四五。", "zh"))
    await asyncio.sleep(0.05)
    caller.cancel()
    with pytest.raises(asyncio.CancelledError):
        await caller
    path = await synth.synthesize("您的工单号是幺二三四五。", "zh")
    assert_playable(path.with_suffix(""))
    assert synth.synthesised == 1


async def test_module_synthesize_uses_the_sounds_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOTLINE_SOUNDS_DIR", str(tmp_path))
    path = await synthesize("请稍候。", "zh")
    assert path.parent == tmp_path / "dyn" / "zh"
    # Outside the PBX root the PBX is given the path itself.
    assert media_uri_for_file(path, root=tmp_path / "pbx-root") == f"sound:{path.with_suffix('')}"
    assert prune_call_time_cache(0, tmp_path) == 2
    assert not path.exists()


def test_media_uris_are_in_pbx_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "pbx-root"
    built = root / "var/lib/asterisk/sounds/hotline"
    assert str(pbx_path(built / "zh/welcome.wav", root)) == (
        "/var/lib/asterisk/sounds/hotline/zh/welcome.wav"
    )
    assert media_uri("welcome", "zh", base=built, root=root) == (
        "sound:/var/lib/asterisk/sounds/hotline/zh/welcome"
    )
    assert media_uri_for_file(built / "dyn/en/abc.sln16", root) == (
        "sound:/var/lib/asterisk/sounds/hotline/dyn/en/abc"
    )
    monkeypatch.delenv("HOTLINE_SOUNDS_DIR", raising=False)
    assert sounds_dir().as_posix().endswith("/var/lib/asterisk/sounds/hotline")
    monkeypatch.setenv("HOTLINE_SOUNDS_DIR", str(tmp_path / "elsewhere"))
    assert sounds_dir() == tmp_path / "elsewhere"


def run_cli(*argv: str) -> int:
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    args = parser.parse_args(["prompts", *argv])
    code: int = args.func(args)
    return code


def test_cli_say_writes_the_requested_format(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HOTLINE_SOUNDS_DIR", str(tmp_path / "sounds"))
    assert run_cli("say", "列车08:15开", "-o", str(tmp_path / "out.wav")) == 0
    assert "ba1 dian3 shi2 wu3 fen1" in capsys.readouterr().out
    assert read_wav(tmp_path / "out.wav")[0] == 8000
    assert run_cli("say", "Goodbye.", "--lang", "en", "-o", str(tmp_path / "out.sln16")) == 0
    assert (tmp_path / "out.sln16").stat().st_size > 16000
    assert run_cli("say", "你好", "-o", str(tmp_path / "out.mp3")) == 2
    assert ".wav" in capsys.readouterr().err
    assert run_cli("say", "你好") == 0
    assert "sound:" in capsys.readouterr().out


def test_cli_build_reports_and_rejects_a_bad_catalog(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HOTLINE_SOUNDS_DIR", str(tmp_path / "sounds"))
    good = tmp_path / "good.yaml"
    good.write_text(CATALOG, encoding="utf-8")
    assert run_cli("build", "--catalog", str(good), "--lang", "zh") == 0
    assert "2 built, 0 cached" in capsys.readouterr().out
    assert run_cli("build", "--catalog", str(good), "--lang", "zh") == 0
    assert "0 built, 2 cached" in capsys.readouterr().out

    bad = tmp_path / "bad.yaml"
    bad.write_text("goodbye: {zh: 再见}\n", encoding="utf-8")
    assert run_cli("build", "--catalog", str(bad)) == 2
    assert "prompt 'goodbye': en: Field required" in capsys.readouterr().err
