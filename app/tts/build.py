"""Building the catalog's prompts ahead of calls (`hotline prompts build`), and their status.

Each prompt without slots becomes <dir>/<lang>/<id>.wav and .sln16: from a recording when a
center placed one (recorded.py), else synthesised (the natural voice for Mandarin when it is
installed, espeak-ng otherwise). manifest.json records per file the cache key it was built
from, its source, its length and the text it says, so a rebuild only does what changed (text,
voice, recording, engine versions), files of prompts no longer in the catalog are deleted, and
`hotline prompts status` tells what callers hear without building anything. Prompts with
{slots} are spoken at call time instead. Jobs run in parallel, one per CPU by default.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import time
import wave
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.tts import recorded
from app.tts.catalog import LANGS, Catalog, load_catalog
from app.tts.paths import DYNAMIC, FORMATS, sounds_dir
from app.tts.synth import Job, SynthesisError, convert_recording, plan_for, prepare, run
from app.tts.text import NEURAL_VOICE

MANIFEST = "manifest.json"


@dataclass
class BuildReport:
    built: list[str] = field(default_factory=list)  # "zh/welcome"
    cached: int = 0
    call_time: list[str] = field(default_factory=list)  # prompts with slots
    removed: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    timings: list[float] = field(default_factory=list)  # seconds per built prompt
    seconds: float = 0.0


@contextmanager
def _exclusive(directory: Path, progress: Callable[[str], None]) -> Iterator[None]:
    """One build at a time per directory (setup and an engineer may run it together)."""
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / ".build.lock", "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            progress(f"waiting for another prompt build in {directory} …")
            fcntl.flock(lock, fcntl.LOCK_EX)
        yield


Entry = dict[str, Any]  # key, source, seconds, text (sha of the words the audio says)


def _read_manifest(path: Path) -> dict[str, Entry]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    prompts = data.get("prompts") if isinstance(data, dict) else None
    if not isinstance(prompts, dict):
        return {}
    # An earlier layout kept only the key: still good for "unchanged", nothing else.
    return {str(k): v if isinstance(v, dict) else {"key": str(v)} for k, v in prompts.items()}


def _write_manifest(path: Path, entries: dict[str, Entry]) -> None:
    tmp = path.with_suffix(f".{os.getpid()}.tmp")  # builds running side by side never share it
    tmp.write_text(json.dumps({"version": 2, "prompts": dict(sorted(entries.items()))},
                              indent=1, ensure_ascii=False) + "\n")
    os.replace(tmp, path)


@dataclass(frozen=True)
class Planned:
    """What a catalog prompt's audio is to be made from."""

    name: str  # "zh/welcome"
    job: Job
    source: str  # recorded, neural or espeak
    recording: Path | None
    said: str  # sha of the words the audio will say

    def entry(self, seconds: float, known: Entry | None) -> Entry:
        said = self.said
        if self.recording is not None and recorded.stated_text(self.recording) is None:
            # A recording says what the catalog said when it was first used (kept while the
            # same recording stays; a new recording takes today's text).
            if known and known.get("key") == self.job.key and known.get("said"):
                said = str(known["said"])
        return {"key": self.job.key, "source": self.source, "seconds": round(seconds, 3),
                "said": said}


def plan_prompt(prompt_id: str, text: str, lang: str, out_dir: Path) -> Planned:
    """How one prompt is made: its recording if there is one, else synthesis."""
    base = out_dir / lang / prompt_id
    recording = recorded.recording_for(prompt_id, lang)
    if recording is not None:
        job = Job(text, (), recorded.recording_key(recording), base)
        said = recorded.stated_text(recording) or text
        return Planned(f"{lang}/{prompt_id}", job, "recorded", recording,
                       recorded.text_sha256(said))
    job = prepare(text, lang, base)
    source = "neural" if any(s.voice == NEURAL_VOICE for s in job.segments) else "espeak"
    return Planned(f"{lang}/{prompt_id}", job, source, None, recorded.text_sha256(text))


def make(planned: Planned) -> Path:
    """Build one prompt's audio now (blocking)."""
    if planned.recording is not None:
        return convert_recording(planned.recording, planned.job)
    return run(planned.job)


def wav_seconds(path: Path) -> float:
    with wave.open(str(path), "rb") as wav:
        return wav.getnframes() / wav.getframerate()


def build_prompts(
    catalog: Catalog | None = None,
    langs: tuple[str, ...] = LANGS,
    *,
    out_dir: Path | None = None,
    force: bool = False,
    jobs: int | None = None,
    progress: Callable[[str], None] = print,
) -> BuildReport:
    """Synthesise every prompt whose cache key changed since the last build."""
    started = time.monotonic()
    catalog = catalog or load_catalog()
    out_dir = out_dir or sounds_dir()
    report = BuildReport()
    with _exclusive(out_dir, progress):
        manifest_path = out_dir / MANIFEST
        entries = _read_manifest(manifest_path)
        todo: list[Planned] = []
        for lang in langs:
            for prompt_id, prompt in catalog.prompts.items():
                if prompt.slots:
                    report.call_time.append(f"{lang}/{prompt_id}")
                    continue
                planned = plan_prompt(prompt_id, catalog.text(prompt_id, lang), lang, out_dir)
                known = entries.get(planned.name, {})
                if not force and known.get("key") == planned.job.key and planned.job.done():
                    report.cached += 1
                    if "seconds" not in known:  # from an earlier layout: fill in what it lacks
                        entries[planned.name] = planned.entry(wav_seconds(planned.job.wav), None)
                else:
                    todo.append(planned)
        _run_all(todo, entries, manifest_path, report, jobs, progress)
        report.removed = _remove_stale(catalog, langs, out_dir, entries)
        _write_manifest(manifest_path, entries)
    report.seconds = time.monotonic() - started
    return report


def _run_all(
    todo: list[Planned],
    entries: dict[str, Entry],
    manifest_path: Path,
    report: BuildReport,
    jobs: int | None,
    progress: Callable[[str], None],
) -> None:
    def timed(planned: Planned) -> float:
        begun = time.monotonic()
        make(planned)
        return time.monotonic() - begun

    # Threads only wait: the work happens in the workers' and sox's processes.
    with ThreadPoolExecutor(max_workers=jobs or os.cpu_count() or 1) as pool:
        futures: dict[Future[float], Planned] = {
            pool.submit(timed, planned): planned for planned in todo
        }
        for done, future in enumerate(as_completed(futures), start=1):
            planned = futures[future]
            name = planned.name
            try:
                seconds = future.result()
            except SynthesisError as exc:
                report.failed[name] = str(exc)
                progress(f"  [{done}/{len(todo)}] {name}: FAILED: {exc}")
                continue
            entries[name] = planned.entry(wav_seconds(planned.job.wav), entries.get(name))
            _write_manifest(manifest_path, entries)  # a crash later keeps what is done
            report.built.append(name)
            report.timings.append(seconds)
            progress(f"  [{done}/{len(todo)}] {name} ({planned.source}, {seconds:.2f} s)")


def _remove_stale(
    catalog: Catalog, langs: tuple[str, ...], out_dir: Path, entries: dict[str, Entry]
) -> list[str]:
    removed = []
    for lang in langs:
        for path in sorted((out_dir / lang).glob("*")):
            prompt = catalog.prompts.get(path.stem)
            if path.suffix == ".key":  # cache stamps of an earlier layout
                path.unlink()
            elif path.name.startswith(".tmp-") and path.is_dir():  # left by a killed build
                shutil.rmtree(path, ignore_errors=True)
            elif path.suffix in FORMATS and (prompt is None or prompt.slots):
                path.unlink()
                removed.append(f"{lang}/{path.name}")
                entries.pop(f"{lang}/{path.stem}", None)
    return removed


def _says(planned: Planned, known: Entry) -> str | None:
    """The sha of the words a built file says: a recording's .txt when it has one, else what
    the build noted."""
    if planned.recording is not None and recorded.stated_text(planned.recording) is not None:
        return planned.said
    said = known.get("said")
    return str(said) if said else None


@dataclass(frozen=True)
class PromptStatus:
    id: str
    lang: str
    text: str
    source: str  # recorded, neural or espeak: what callers hear (or will after a build)
    built: bool  # a file is there
    stale: bool  # the audio does not say the catalog's text, or the build is out of date
    reason: str  # why it is stale ("" when not)
    seconds: float | None
    call_time: bool  # has {slots}: spoken when a call needs it


def prompt_status(
    catalog: Catalog | None = None, langs: tuple[str, ...] = LANGS, out_dir: Path | None = None
) -> list[PromptStatus]:
    """Every prompt's source, length and staleness, without building anything."""
    catalog = catalog or load_catalog()
    out_dir = out_dir or sounds_dir()
    entries = _read_manifest(out_dir / MANIFEST)
    found = []
    for lang in langs:
        for prompt_id, prompt in catalog.prompts.items():
            text = catalog.text(prompt_id, lang)
            if prompt.slots:
                segments = plan_for(text.replace("{", "").replace("}", ""), lang)
                source = "neural" if any(s.voice == NEURAL_VOICE for s in segments) else "espeak"
                found.append(PromptStatus(prompt_id, lang, text, source, False, False, "", None,
                                          True))
                continue
            planned = plan_prompt(prompt_id, text, lang, out_dir)
            known = entries.get(planned.name, {})
            built = planned.job.done()
            reason = ""
            if not built:
                reason = "not built"
            elif known.get("key") != planned.job.key:
                reason = {"recorded": "a new recording is not built yet"}.get(
                    planned.source, "the text, voice or engine changed since the build")
            elif _says(planned, known) not in (None, recorded.text_sha256(text)):
                reason = "the recording says an earlier text"
            seconds = known.get("seconds")
            if built and seconds is None:
                seconds = wav_seconds(planned.job.wav)
            found.append(PromptStatus(prompt_id, lang, text, planned.source, built, bool(reason),
                                      reason, seconds, False))
    return found


def prune_call_time_cache(max_age_days: float, out_dir: Path | None = None) -> int:
    """Delete call-time audio not written for max_age_days (it may hold callers' answers)."""
    cutoff = time.time() - max_age_days * 86400
    removed = 0
    for path in (out_dir or sounds_dir()).joinpath(DYNAMIC).rglob("*"):
        if path.suffix in FORMATS and path.stat().st_mtime < cutoff:
            path.unlink(missing_ok=True)
            removed += 1
    return removed
