"""Recorded prompts: a voice talent's recording wins over synthesis.

A file at sounds/recorded/<lang>/<prompt id>.wav (or .flac; any rate, mono or stereo) is
converted at build into the same 8 kHz .wav and 16 kHz .sln16 the synthesiser writes, with the
same level and lead-in. `HOTLINE_RECORDED_DIR` moves the folder.

What a recording says cannot be read from it, so the build remembers the catalog text of the
day a recording was first used; when the catalog text changes later, `hotline prompts status`
reports the recording as stale until a new one is placed. A <prompt id>.txt next to the
recording states its words instead (for a recording made from a script that differs in
punctuation only, say).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from app.config import REPO_ROOT

RECORDED_DIR = REPO_ROOT / "sounds" / "recorded"
EXTENSIONS = (".wav", ".flac")
PIPELINE = "recorded/sox-norm3-lead100ms/1"  # change when the conversion changes


def recorded_dir() -> Path:
    configured = os.environ.get("HOTLINE_RECORDED_DIR")
    return Path(configured).expanduser().absolute() if configured else RECORDED_DIR


def recording_for(prompt_id: str, lang: str, base: Path | None = None) -> Path | None:
    """The recording of a prompt, if a center placed one."""
    folder = (base or recorded_dir()) / lang
    for ext in EXTENSIONS:
        path = folder / f"{prompt_id}{ext}"
        if path.is_file():
            return path
    return None


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while block := stream.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def text_sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def recording_key(path: Path) -> str:
    return hashlib.sha256(f"{PIPELINE}:{file_sha256(path)}".encode()).hexdigest()[:24]


def stated_text(path: Path) -> str | None:
    """The words a recording's .txt says it holds, if there is one."""
    script = path.with_suffix(".txt")
    try:
        return script.read_text(encoding="utf-8").strip() or None
    except OSError:
        return None
