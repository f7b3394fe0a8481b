"""The same audio gives the same result: on every run, in any order, however it arrives, and
while other work loads the CPU (real model, development clips)."""

from __future__ import annotations

import multiprocessing
import random
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from app.asr import model
from app.asr.audio import read_wav
from app.asr.grammars import ENTITY
from app.asr.recognizer import FREE, Recognizer, Transcript, pool_for
from tests.data import SPEECH

CLIPS = [*sorted((SPEECH / "entities/pcm8k").glob("*.wav"))[:5],
         SPEECH / "pcm8k/031.wav", SPEECH / "pcm8k/045.wav"]


def _burn(stop: multiprocessing.synchronize.Event) -> None:  # type: ignore[name-defined]
    x = 0
    while not stop.is_set():
        for i in range(100_000):
            x ^= i


@pytest.fixture
def cpu_burner() -> Iterator[None]:
    stop = multiprocessing.Event()
    proc = multiprocessing.Process(target=_burn, args=(stop,), daemon=True)
    proc.start()
    try:
        yield
    finally:
        stop.set()
        proc.join(10)


@pytest.fixture(scope="module")
def model_dir() -> Path:
    return model.install()


def _exact(t: Transcript) -> list[tuple[str, float]]:
    return [(a.text, a.score) for a in t.alternatives]


def test_same_clips_same_results_every_run_under_load(model_dir: Path,
                                                      cpu_burner: None) -> None:
    pool = pool_for(model_dir, warm=2, max_per_mode=2, warmup_seconds=0.5)
    audio = {clip.name + clip.parent.parent.name: read_wav(clip).pcm for clip in CLIPS}
    runs = []
    shuffle = random.Random(7)
    for _ in range(3):
        names = list(audio)
        shuffle.shuffle(names)  # other clips before, other recognisers, other threads

        def decode(name: str) -> tuple[str, list[list[tuple[str, float]]]]:
            return name, [_exact(pool.decode(mode, audio[name])) for mode in (FREE, ENTITY)]

        with ThreadPoolExecutor(2) as threads:
            runs.append(dict(threads.map(decode, names)))
    assert runs[0] == runs[1] == runs[2]
    assert any(alts[0] for alts in runs[0].values())


def test_how_the_audio_is_cut_does_not_matter(model_dir: Path) -> None:
    rec = Recognizer(model.load_model(model_dir))
    audio = read_wav(SPEECH / "entities/pcm8k/002.wav").pcm
    whole = _exact(rec.decode(audio))
    cuts = random.Random(3)
    i = 0
    while i < len(audio):
        step = cuts.choice((320, 960, 1600, 2240, 4800))
        rec.accept(audio[i:i + step])
        i += step
    assert _exact(rec.finish()) == whole


def test_an_abandoned_utterance_leaves_nothing_behind(model_dir: Path) -> None:
    loaded = model.load_model(model_dir)
    first = read_wav(SPEECH / "entities/pcm8k/001.wav").pcm
    second = read_wav(SPEECH / "entities/pcm8k/006.wav").pcm
    fresh = _exact(Recognizer(loaded).decode(second))
    reused = Recognizer(loaded)
    reused.accept(first[: len(first) // 2])  # the caller hung up mid-sentence
    reused.reset()
    assert _exact(reused.decode(second)) == fresh
