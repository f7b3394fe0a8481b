"""Speech synthesis (pyttsx3 + espeak-ng) into files the PBX plays, cached by text and voice.

Files go inside the PBX root under /var/lib/asterisk/sounds/hotline/ and are played by absolute
path: `sound:/var/lib/asterisk/sounds/hotline/zh/welcome` (Asterisk picks .wav at 8 kHz or
.sln16 at 16 kHz by the call's codec). Catalog prompts are built ahead (`hotline prompts
build`); dynamic answers are synthesised at call time into dyn/, one worker thread, off the
event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import io
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.config import get_settings
from app.tts.catalog import LANGS, Catalog, load_catalog

IN_PBX_DIR = "/var/lib/asterisk/sounds/hotline"
VOICES = {"zh": "sit/cmn", "en": "gmw/en"}
RATES = {"zh": 165, "en": 165}
ENGINE = "pyttsx3-espeak-ng-1"  # part of the cache key: change it to rebuild everything


class SynthesisError(RuntimeError):
    pass


def sounds_dir() -> Path:
    """Where the files are on this machine (inside the PBX root)."""
    return get_settings().root / IN_PBX_DIR.lstrip("/")


def cache_key(text: str, lang: str) -> str:
    raw = f"{ENGINE}|{VOICES[lang]}|{RATES[lang]}|{text}".encode()
    return hashlib.sha256(raw).hexdigest()[:20]


def media_uri(prompt_id: str, lang: str) -> str:
    return f"sound:{IN_PBX_DIR}/{lang}/{prompt_id}"


def media_uri_for_file(path: Path) -> str:
    """sound: URI of a file built under sounds_dir() (extension dropped)."""
    relative = path.relative_to(sounds_dir()).with_suffix("")
    return f"sound:{IN_PBX_DIR}/{relative}"


class _Engine:
    """One pyttsx3 engine, used from one thread only (the espeak driver is not thread-safe)."""

    def __init__(self) -> None:
        import pyttsx3  # type: ignore[import-untyped]

        _check_voices()
        # Do not query the engine's voice list: after that its save_to_file writes nothing.
        self.engine: Any = pyttsx3.init("espeak")

    def to_wav(self, text: str, lang: str, out: Path) -> None:
        self.engine.setProperty("voice", VOICES[lang])
        self.engine.setProperty("rate", RATES[lang])
        # pyttsx3 prints a line per saved file; keep it out of the service log.
        with contextlib.redirect_stdout(io.StringIO()):
            self.engine.save_to_file(text, str(out))
            self.engine.runAndWait()
            # The espeak driver can return before a long text is done and write the file
            # later from its callback: wait for it, so utterances never overlap.
            deadline = time.monotonic() + 60
            while not out.exists() and time.monotonic() < deadline:
                time.sleep(0.02)
            if out.exists():
                time.sleep(0.05)  # the callback writes the whole file in one go; let it close
        if not out.exists() or out.stat().st_size <= 44:
            raise SynthesisError(f"espeak-ng produced no audio for {text[:30]!r}")


def _check_voices() -> None:
    try:
        listing = subprocess.run(["espeak-ng", "--voices"], capture_output=True, text=True,
                                 check=True).stdout
    except (OSError, subprocess.CalledProcessError) as exc:
        raise SynthesisError("espeak-ng is missing: apt-get install espeak-ng") from exc
    missing = [v for v in VOICES.values() if f" {v} " not in listing]
    if missing:
        raise SynthesisError(f"espeak-ng has no voice {missing}")


_local = threading.local()


def _engine() -> _Engine:
    if not hasattr(_local, "engine"):
        _local.engine = _Engine()
    engine: _Engine = _local.engine
    return engine


def _sox(*args: str) -> None:
    proc = subprocess.run(["sox", *args], capture_output=True, text=True)
    if proc.returncode != 0:
        raise SynthesisError(f"sox failed: {proc.stderr.strip()}")


def render(text: str, lang: str, base: Path) -> None:
    """base.wav (8 kHz) and base.sln16 (16 kHz raw) for text; replaces them atomically."""
    if shutil.which("sox") is None:
        raise SynthesisError("sox is missing: apt-get install sox")
    base.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=base.parent) as tmp:
        raw = Path(tmp) / "raw.wav"
        _engine().to_wav(text, lang, raw)
        wav, sln = Path(tmp) / "out.wav", Path(tmp) / "out.sln16"
        _sox(str(raw), "-r", "8000", "-c", "1", "-b", "16", "-e", "signed-integer", str(wav))
        _sox(
            str(raw),
            "-r",
            "16000",
            "-c",
            "1",
            "-b",
            "16",
            "-e",
            "signed-integer",
            "-t",
            "raw",
            str(sln),
        )
        wav.replace(base.with_suffix(".wav"))
        sln.replace(base.with_suffix(".sln16"))


@dataclass
class BuildReport:
    built: int = 0
    cached: int = 0


def build_prompts(
    catalog: Catalog | None = None,
    langs: tuple[str, ...] = LANGS,
    force: bool = False,
    progress: Callable[[str], None] = print,
) -> BuildReport:
    """Synthesise every catalog prompt whose text or voice changed since the last build."""
    catalog = catalog or load_catalog()
    report = BuildReport()
    root = sounds_dir()
    total = len(catalog.prompts) * len(langs)
    for lang in langs:
        for prompt_id in catalog.prompts:
            text = catalog.text(prompt_id, lang)
            base = root / lang / prompt_id
            stamp = base.with_suffix(".key")
            key = cache_key(text, lang)
            if (
                not force
                and stamp.exists()
                and stamp.read_text() == key
                and base.with_suffix(".wav").exists()
            ):
                report.cached += 1
                continue
            render(text, lang, base)
            stamp.write_text(key)
            report.built += 1
            progress(f"  [{report.built + report.cached}/{total}] {lang}/{prompt_id}")
    return report


# --- call time ------------------------------------------------------------------------------


def _render_to(text: str, lang: str, base: Path) -> Path:
    render(text, lang, base)
    return base.with_suffix(".wav")


_executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tts")
_pending: dict[str, asyncio.Future[Path]] = {}


def dynamic_path(text: str, lang: str) -> Path:
    return sounds_dir() / "dyn" / f"{lang}-{cache_key(text, lang)}"


async def synthesize(text: str, lang: str) -> Path:
    """The 8 kHz WAV of text, synthesised off the event loop once and then served from cache."""
    base = dynamic_path(text, lang)
    wav = base.with_suffix(".wav")
    if wav.exists():
        return wav
    key = base.name
    future = _pending.get(key)
    if future is None:
        loop = asyncio.get_running_loop()
        future = asyncio.ensure_future(
            loop.run_in_executor(_executor, _render_to, text, lang, base)
        )
        _pending[key] = future  # concurrent callers asking the same text share one synthesis
        future.add_done_callback(lambda _: _pending.pop(key, None))
    await asyncio.shield(future)
    return wav
