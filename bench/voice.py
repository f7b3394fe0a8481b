"""The voice's figures: the catalog's build time (cold and warm), spoken-answer latency with an
empty cache (until the first part can play, until the whole answer is made, and whether the rest
was ready before the first part had finished playing), one call and N calls at once, and the
catalog's intelligibility per engine (`hotline prompts check`: espeak-ng vs the natural voice).

Everything goes to a temporary sounds folder; the PBX's own prompts are not touched. The
natural voice runs as `hotline serve` runs it (its worker pool, warmed up first).
Run: .venv/bin/python bench/voice.py [--answers 30] [--concurrent 10] [--skip-check]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import wave
from datetime import date, timedelta
from pathlib import Path

from app.ivr.phrases import train_answer
from app.ivr.voice import TtsVoice
from app.services.trains import TrainStatusView
from app.tts import neural
from app.tts.build import build_prompts
from app.tts.catalog import load_catalog
from app.tts.paths import pbx_path

STATIONS = ("北京南", "上海虹桥", "广州南", "南京南", "杭州东", "武汉", "西安北", "成都东")


def quiet(_: str) -> None:
    pass


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def answers(count: int, seed: int) -> list[str]:
    """Train answers of about 30 characters, each new (so never in the cache)."""
    rng = random.Random(seed)
    texts = []
    for _ in range(count):
        status = rng.choice(("on_time", "delayed", "delayed"))
        view = TrainStatusView(
            train_number=rng.choice("GDK") + str(rng.randint(1, 9999)),
            run_date=date(2026, 1, 1) + timedelta(days=rng.randint(0, 364)),
            status=status, delay_minutes=rng.randint(5, 180) if status == "delayed" else 0,
            origin=rng.choice(STATIONS), destination=rng.choice(STATIONS),
            departure=f"{rng.randint(5, 23):02d}:{rng.randint(0, 59):02d}", arrival=None,
            last_station=None)
        texts.append(train_answer(view, "zh"))
    return texts


def seconds_of(media: str) -> float:
    path = Path(media.removeprefix("sound:") + ".wav")
    if not path.exists():  # inside the PBX root: the URI is relative to it
        from app.tts.paths import pbx_root

        path = pbx_root() / str(path).lstrip("/")
    with wave.open(str(path), "rb") as wav:
        return wav.getnframes() / wav.getframerate()


async def one_answer(voice: TtsVoice, text: str) -> dict[str, float]:
    """Time until each part is ready, as the IVR asks for them after the lookup."""
    started = time.monotonic()
    ready: list[float] = []
    lengths: list[float] = []
    async for media in voice.text_parts(text, "zh"):
        ready.append(time.monotonic() - started)
        lengths.append(seconds_of(media))
    # The rest plays when the first part ends: later than that is a gap the caller hears.
    gap = max(0.0, ready[-1] - (ready[0] + lengths[0])) if len(ready) > 1 else 0.0
    return {"first": ready[0], "whole": ready[-1], "gap": gap}


async def latency(texts: list[str], at_once: int) -> dict[str, object]:
    voice = TtsVoice()
    results: list[dict[str, float]] = []
    for start in range(0, len(texts), at_once):
        batch = texts[start : start + at_once]
        results += await asyncio.gather(*(one_answer(voice, t) for t in batch))
    firsts = [r["first"] * 1000 for r in results]
    wholes = [r["whole"] * 1000 for r in results]
    gaps = [r["gap"] * 1000 for r in results if r["gap"] > 0]
    return {
        "calls_at_once": at_once, "answers": len(results),
        "mean_chars": round(statistics.mean(len(t) for t in texts), 1),
        "first_part_ms_p50": round(pct(firsts, 0.5)), "first_part_ms_p95": round(pct(firsts, 0.95)),
        "whole_ms_p50": round(pct(wholes, 0.5)), "whole_ms_p95": round(pct(wholes, 0.95)),
        "answers_with_a_gap": len(gaps), "gap_ms_max": round(max(gaps)) if gaps else 0,
    }


def build_times(out: Path, engine: str) -> dict[str, object]:
    os.environ["HOTLINE_TTS_ENGINE"] = engine
    catalog = load_catalog()
    cold = build_prompts(catalog, out_dir=out, force=True, progress=quiet)
    warm = build_prompts(catalog, out_dir=out, progress=quiet)
    return {"engine": engine, "prompts": len(cold.built), "cold_s": round(cold.seconds, 1),
            "warm_s": round(warm.seconds, 2), "failed": sorted(cold.failed)}


def check(out: Path, engine: str) -> dict[str, object]:
    env = {**os.environ, "HOTLINE_SOUNDS_DIR": str(out), "HOTLINE_TTS_ENGINE": engine}
    done = subprocess.run([sys.executable, "-m", "app.cli", "prompts", "check", "--json"],
                          capture_output=True, text=True, env=env)
    if not done.stdout.strip():
        return {"engine": engine, "error": done.stderr.strip()[-300:]}
    report = json.loads(done.stdout)
    return {"engine": engine, **{k: report[k] for k in (
        "prompts", "mean_cer", "mean_ser", "prompts_mean_cer", "prompts_mean_ser")},
        "problems": len(report["problems"])}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--answers", type=int, default=30, help="answers per latency run")
    ap.add_argument("--concurrent", type=int, default=10, help="calls at once in the second run")
    ap.add_argument("--skip-check", action="store_true", help="no intelligibility figures")
    ap.add_argument("--seed", type=int, default=int(time.time()))
    args = ap.parse_args()
    if not neural.is_installed():
        print("the natural voice is not installed: run `hotline prompts install-voice`",
              file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="voice-bench-") as tmp:
        base = Path(tmp)
        for engine in ("espeak", "neural"):
            os.environ["HOTLINE_SOUNDS_DIR"] = str(base / engine)
            print(json.dumps({"build": build_times(base / engine, engine)}), flush=True)
        os.environ["HOTLINE_TTS_ENGINE"] = "neural"
        os.environ["HOTLINE_SOUNDS_DIR"] = str(base / "neural")
        print(f"# answers are cached under {pbx_path(base / 'neural')}/dyn", file=sys.stderr)
        pool = neural.pool()
        pool.warm_up()  # as `hotline serve` does when it starts
        texts = answers(args.answers * 2, args.seed)
        runs = ((1, texts[: args.answers]), (args.concurrent, texts[args.answers :]))
        for at_once, batch in runs:
            figures = asyncio.run(latency(batch, at_once))
            print(json.dumps({"latency": {"workers": pool.size, **figures}}), flush=True)
        pool.close()
        if not args.skip_check:
            for engine in ("espeak", "neural"):
                print(json.dumps({"check": check(base / engine, engine)}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
