"""Speech synthesis into files the PBX plays, cached by what is said.

Mandarin is spoken by the natural voice (neural.py) when it is installed, otherwise by
espeak-ng; English always by espeak-ng (pyttsx3). A text becomes a Job: its segments
(text.plan), a cache key, and an output base path. Running a job speaks each segment (the
natural voice's long-lived workers; for espeak-ng one worker process per segment, worker.py:
pyttsx3 misbehaves when its engine is reused), then sox joins the segments and writes base.wav
(8 kHz 16-bit mono) and base.sln16 (16 kHz raw signed linear), normalised to -3 dBFS with 0.1 s
lead-in. Files are replaced atomically, .wav last, so an existing .wav means a complete pair.

The cache key hashes the segments as given to the engines (voice, rate, pinyin text), the
engines' and sox's versions, and PIPELINE: any change there rebuilds, nothing else does.

Call time: `await synthesize(text, lang)` plans in a thread, runs the processes with asyncio
(nothing blocks the event loop), at most one job per CPU at a time, and shares one synthesis
between concurrent callers asking for the same text.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import wave
import weakref
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from app.tts import neural
from app.tts.paths import DYNAMIC, media_uri, media_uri_for_file, sounds_dir
from app.tts.text import NEURAL_VOICE, VOICES, Segment, plan

__all__ = [
    "Job",
    "SynthesisError",
    "Synthesizer",
    "engine_info",
    "media_uri",
    "media_uri_for_file",
    "prepare",
    "run",
    "run_async",
    "synthesize",
    "warm_up",
]

log = logging.getLogger(__name__)
# Change when the processing changes: rebuilds all.
PIPELINE = "espeak-pinyin/neural-24k/sox-norm3-lead100ms/3"
WORKER = Path(__file__).with_name("worker.py")
STEP_TIMEOUT = 60.0  # seconds for one worker or sox run
MIN_RMS = 100.0  # of 32767: anything quieter is a failed synthesis, not speech


class SynthesisError(RuntimeError):
    pass


@dataclass(frozen=True)
class EngineInfo:
    pyttsx3: str
    espeak: str
    sox: str

    @property
    def version(self) -> str:
        return f"pyttsx3 {self.pyttsx3}, espeak-ng {self.espeak}, {self.sox}"


@lru_cache(maxsize=1)
def engine_info() -> EngineInfo:
    """Versions for the cache key; fails with what to install when something is missing."""
    if shutil.which("sox") is None:
        raise SynthesisError("sox is not installed: apt-get install sox")
    info = json.loads(_run_sync([sys.executable, "-I", str(WORKER), "--info"], b"", "espeak-ng"))
    missing = sorted(v for v in VOICES.values() if v.lower() not in info["voices"])
    if missing:
        raise SynthesisError(
            f"espeak-ng has no voice {', '.join(missing)}: apt-get install espeak-ng-data"
        )
    sox = _run_sync(["sox", "--version"], b"", "sox").strip().removeprefix("sox:").strip()
    return EngineInfo(info["pyttsx3"], info["espeak"], sox)


@dataclass(frozen=True)
class Job:
    """One text to synthesise into base.wav and base.sln16."""

    text: str
    segments: tuple[Segment, ...]
    key: str
    base: Path

    @property
    def wav(self) -> Path:
        return self.base.with_suffix(".wav")

    @property
    def sln16(self) -> Path:
        return self.base.with_suffix(".sln16")

    def done(self) -> bool:
        return self.wav.exists() and self.sln16.exists()


def cache_key(segments: tuple[Segment, ...], info: EngineInfo) -> str:
    versions = [info.version]
    if any(s.voice == NEURAL_VOICE for s in segments):
        versions.append(f"{neural.VOICE_ID} {neural.PACKAGE} {' '.join(neural.REQUIREMENTS)}")
    raw = json.dumps(
        [PIPELINE, versions, [[s.voice, s.rate, s.text] for s in segments]],
        ensure_ascii=False,
    )
    return hashlib.sha256(raw.encode()).hexdigest()[:24]


def prepare(text: str, lang: str, base: Path | None = None) -> Job:
    """Plan a synthesis. Without base, the output is named by its key in the call-time cache."""
    segments = plan_for(text, lang)
    key = cache_key(segments, engine_info())
    return Job(text, segments, key, base or sounds_dir() / DYNAMIC / lang / key)


def plan_for(text: str, lang: str) -> tuple[Segment, ...]:
    """The segments for text with the engines this machine has (the natural voice when it is
    installed and not turned off)."""
    try:
        return plan(text, lang, neural=neural.wanted())
    except (ValueError, neural.VoiceError) as exc:
        raise SynthesisError(str(exc)) from exc


# --- the steps -------------------------------------------------------------------------------

Command = tuple[list[str], bytes, str]  # argv, stdin, what it is (for errors)


@dataclass(frozen=True)
class NeuralStep:
    """One segment spoken by the natural voice's workers into a 24 kHz WAV."""

    pinyin: str
    out: Path

    def run(self) -> None:
        try:
            neural.pool().synthesize(neural.phrase_ids(self.pinyin), self.out)
        except neural.VoiceError as exc:
            raise SynthesisError(str(exc)) from exc


Step = Command | NeuralStep


def _steps(job: Job, tmp: Path) -> list[Step]:
    steps: list[Step] = []
    parts = []
    # sox joins only files of one rate: with the natural voice (24 kHz) in a job, espeak-ng's
    # 22,050 Hz parts are resampled first.
    mixed = any(s.voice == NEURAL_VOICE for s in job.segments)
    for i, segment in enumerate(job.segments):
        part = tmp / f"part{i}.wav"
        if segment.voice == NEURAL_VOICE:
            steps.append(NeuralStep(segment.text, part))
            parts.append(str(part))
            continue
        argv = [sys.executable, "-I", str(WORKER), segment.voice, str(segment.rate), str(part)]
        steps.append((argv, segment.text.encode(), "espeak-ng"))
        if mixed:
            resampled = tmp / f"part{i}-24k.wav"
            steps.append((["sox", "-D", "-V1", str(part), str(resampled), "rate", "-v",
                           str(neural.RATE)], b"", "sox"))
            part = resampled
        parts.append(str(part))
    return steps + _outputs(parts, tmp)


def _outputs(parts: list[str], tmp: Path) -> list[Step]:
    """sox: the parts joined, as out.wav (8 kHz) and out.sln16 (16 kHz raw), normalised."""
    steps: list[Step] = []
    pcm = ["-c", "1", "-b", "16", "-e", "signed-integer"]
    # Normalise after resampling (peaks at -3 dBFS); 0.1 s of lead-in so the first syllable
    # survives a media path that is still settling when playback starts.
    effects = ["gain", "-n", "-3", "pad", "0.1", "0"]
    outputs = [(tmp / "out.wav", "8000", []), (tmp / "out.sln16", "16000", ["-t", "raw", "-L"])]
    for out, rate, kind in outputs:
        # -D: no dither, so the same input always gives the same bytes.
        argv = ["sox", "-D", "-V1", *parts, *pcm, *kind, str(out), "rate", "-v", rate, *effects]
        steps.append((argv, b"", "sox"))
    return steps


def _finish(job: Job, tmp: Path) -> None:
    """Check the result is speech, then move it into place (.wav last)."""
    try:
        with wave.open(str(tmp / "out.wav"), "rb") as wav:
            rate, frames = wav.getframerate(), wav.readframes(wav.getnframes())
        samples = np.frombuffer(frames, dtype="<i2").astype(np.float64)
        if rate != 8000 or len(samples) < 800:
            raise SynthesisError(f"no usable audio for {job.text[:40]!r} ({len(samples)} samples)")
        if float(np.sqrt(np.mean(samples**2))) < MIN_RMS:
            raise SynthesisError(f"the synthesis was silent for {job.text[:40]!r}")
        job.base.parent.mkdir(parents=True, exist_ok=True)
        os.replace(tmp / "out.sln16", job.sln16)
        os.replace(tmp / "out.wav", job.wav)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _tmpdir(job: Job) -> Path:
    # Next to the output, so the final rename stays on one filesystem.
    job.base.parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=".tmp-", dir=job.base.parent))


def _failure(what: str, argv: list[str], code: int | None, stderr: bytes) -> SynthesisError:
    detail = stderr.decode(errors="replace").strip().splitlines()
    return SynthesisError(f"{what} failed (exit {code}): {detail[-1] if detail else argv[0]}")


# --- sync (build, CLI) -----------------------------------------------------------------------


def _run_sync(argv: list[str], stdin: bytes, what: str) -> str:
    try:
        proc = subprocess.run(argv, input=stdin, capture_output=True, timeout=STEP_TIMEOUT)
    except FileNotFoundError:
        raise SynthesisError(f"{argv[0]} is not installed: apt-get install {argv[0]}") from None
    except subprocess.TimeoutExpired:
        raise SynthesisError(f"{what} took more than {STEP_TIMEOUT:.0f} s") from None
    if proc.returncode != 0:
        raise _failure(what, argv, proc.returncode, proc.stderr)
    return proc.stdout.decode(errors="replace")


def run(job: Job) -> Path:
    """Synthesise a job now (blocking); returns its .wav."""
    return _run_steps(job, lambda tmp: _steps(job, tmp))


def convert_recording(source: Path, job: Job) -> Path:
    """A recorded prompt (any rate, mono or stereo) into the job's .wav and .sln16."""
    return _run_steps(job, lambda tmp: _outputs([str(source)], tmp))


def _run_steps(job: Job, steps: Callable[[Path], list[Step]]) -> Path:
    tmp = _tmpdir(job)
    try:
        for step in steps(tmp):
            if isinstance(step, NeuralStep):
                step.run()
            else:
                _run_sync(*step)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    _finish(job, tmp)
    return job.wav


# --- async (call time) -----------------------------------------------------------------------


async def _run_async(argv: list[str], stdin: bytes, what: str) -> None:
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
    except FileNotFoundError:
        raise SynthesisError(f"{argv[0]} is not installed: apt-get install {argv[0]}") from None
    try:
        async with asyncio.timeout(STEP_TIMEOUT):
            _, stderr = await proc.communicate(stdin)
    except BaseException as exc:  # timeout or cancellation: never leave the process behind
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        if isinstance(exc, TimeoutError):
            raise SynthesisError(f"{what} took more than {STEP_TIMEOUT:.0f} s") from None
        raise
    if proc.returncode != 0:
        raise _failure(what, argv, proc.returncode, stderr)


async def run_async(job: Job) -> Path:
    """Synthesise a job without blocking the event loop; returns its .wav."""
    tmp = await asyncio.to_thread(_tmpdir, job)
    try:
        for step in _steps(job, tmp):
            if isinstance(step, NeuralStep):
                # The workers are other processes; the thread only waits for them.
                await asyncio.to_thread(step.run)
            else:
                await _run_async(*step)
    except BaseException:
        await asyncio.to_thread(shutil.rmtree, tmp, True)
        raise
    await asyncio.to_thread(_finish, job, tmp)
    return job.wav


class Synthesizer:
    """Call-time synthesis into a cache directory, for one event loop."""

    def __init__(self, cache_dir: Path | None = None, concurrency: int | None = None) -> None:
        self.cache_dir = cache_dir
        self._slots = asyncio.Semaphore(concurrency or os.cpu_count() or 1)
        self._pending: dict[Path, asyncio.Task[Path]] = {}
        self._known: OrderedDict[tuple[str, str], Path] = OrderedDict()
        self.synthesised = 0  # jobs actually run (the rest came from the cache)

    def _base_dir(self) -> Path:
        return self.cache_dir if self.cache_dir is not None else sounds_dir() / DYNAMIC

    async def synthesize(self, text: str, lang: str) -> Path:
        """The 8 kHz .wav of text (its .sln16 next to it), from the cache when it is there."""
        known = self._known.get((text, lang))
        if known is not None and known.exists():
            self._known.move_to_end((text, lang))
            return known
        job = await asyncio.to_thread(self._prepare, text, lang)
        if not job.done():
            task = self._pending.get(job.base)
            if task is None:
                task = asyncio.create_task(self._run(job))
                self._pending[job.base] = task
                task.add_done_callback(lambda _: self._pending.pop(job.base, None))
            # Shielded: a caller hanging up does not cancel the synthesis others wait for.
            await asyncio.shield(task)
        self._remember((text, lang), job.wav)
        return job.wav

    def _prepare(self, text: str, lang: str) -> Job:
        job = prepare(text, lang)
        return Job(job.text, job.segments, job.key, self._base_dir() / lang / job.key)

    async def _run(self, job: Job) -> Path:
        async with self._slots:
            path = await run_async(job)
            self.synthesised += 1
            return path

    def _remember(self, key: tuple[str, str], path: Path) -> None:
        self._known[key] = path
        if len(self._known) > 2048:
            self._known.popitem(last=False)


_synthesizers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Synthesizer] = (
    weakref.WeakKeyDictionary()
)


def synthesizer() -> Synthesizer:
    """The running event loop's synthesizer (asyncio primitives belong to one loop)."""
    loop = asyncio.get_running_loop()
    if loop not in _synthesizers:
        _synthesizers[loop] = Synthesizer()
    return _synthesizers[loop]


async def synthesize(text: str, lang: str) -> Path:
    """Speak text in a call's language ("zh" or "en"): the path of its 8 kHz .wav, built once
    and then served from the cache. Play it with media_uri_for_file(path)."""
    return await synthesizer().synthesize(text, lang)


async def warm_up() -> None:
    """Load pypinyin and check the engines before the first call needs them (about 0.5 s);
    the natural voice's workers start in the background (TensorFlow takes seconds to load),
    so a platform starts as fast with it as without."""
    await asyncio.to_thread(plan, "您好", "zh")
    await asyncio.to_thread(engine_info)
    if await asyncio.to_thread(neural.wanted):
        task = asyncio.create_task(asyncio.to_thread(neural.pool().warm_up))
        _background.add(task)
        task.add_done_callback(_warmed_up)


_background: set[asyncio.Task[None]] = set()


def _warmed_up(task: asyncio.Task[None]) -> None:
    _background.discard(task)
    if not task.cancelled() and task.exception() is not None:
        log.warning("the natural voice did not start: %s (Mandarin answers will wait for it "
                    "or fail)", task.exception())
