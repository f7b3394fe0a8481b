"""Building the catalog's prompts ahead of calls (`hotline prompts build`).

Each prompt without slots becomes <dir>/<lang>/<id>.wav and .sln16. manifest.json records the
cache key each file was built from, so a rebuild only synthesises what changed (text, voice,
rate, engine versions) and deletes files of prompts no longer in the catalog. Prompts with
{slots} are spoken at call time instead. Jobs run in parallel, one per CPU by default.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from app.tts.catalog import LANGS, Catalog, load_catalog
from app.tts.paths import DYNAMIC, FORMATS, sounds_dir
from app.tts.synth import Job, SynthesisError, prepare, run

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


def _read_manifest(path: Path) -> dict[str, str]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    prompts = data.get("prompts") if isinstance(data, dict) else None
    return {str(k): str(v) for k, v in prompts.items()} if isinstance(prompts, dict) else {}


def _write_manifest(path: Path, keys: dict[str, str]) -> None:
    tmp = path.with_suffix(f".{os.getpid()}.tmp")  # builds running side by side never share it
    tmp.write_text(json.dumps({"prompts": dict(sorted(keys.items()))}, indent=1) + "\n")
    os.replace(tmp, path)


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
        keys = _read_manifest(manifest_path)
        todo: list[tuple[str, Job]] = []
        for lang in langs:
            for prompt_id, prompt in catalog.prompts.items():
                name = f"{lang}/{prompt_id}"
                if prompt.slots:
                    report.call_time.append(name)
                    continue
                job = prepare(catalog.text(prompt_id, lang), lang, out_dir / lang / prompt_id)
                if not force and keys.get(name) == job.key and job.done():
                    report.cached += 1
                else:
                    todo.append((name, job))
        _run_all(todo, keys, manifest_path, report, jobs, progress)
        report.removed = _remove_stale(catalog, langs, out_dir, keys)
        _write_manifest(manifest_path, keys)
    report.seconds = time.monotonic() - started
    return report


def _run_all(
    todo: list[tuple[str, Job]],
    keys: dict[str, str],
    manifest_path: Path,
    report: BuildReport,
    jobs: int | None,
    progress: Callable[[str], None],
) -> None:
    def timed(job: Job) -> float:
        begun = time.monotonic()
        run(job)
        return time.monotonic() - begun

    # Threads only wait: the work happens in the worker and sox processes.
    with ThreadPoolExecutor(max_workers=jobs or os.cpu_count() or 1) as pool:
        futures: dict[Future[float], tuple[str, Job]] = {
            pool.submit(timed, job): (name, job) for name, job in todo
        }
        for done, future in enumerate(as_completed(futures), start=1):
            name, job = futures[future]
            try:
                seconds = future.result()
            except SynthesisError as exc:
                report.failed[name] = str(exc)
                progress(f"  [{done}/{len(todo)}] {name}: FAILED: {exc}")
                continue
            keys[name] = job.key
            _write_manifest(manifest_path, keys)  # a crash later keeps what is done
            report.built.append(name)
            report.timings.append(seconds)
            progress(f"  [{done}/{len(todo)}] {name} ({seconds:.2f} s)")


def _remove_stale(
    catalog: Catalog, langs: tuple[str, ...], out_dir: Path, keys: dict[str, str]
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
                keys.pop(f"{lang}/{path.stem}", None)
    return removed


def prune_call_time_cache(max_age_days: float, out_dir: Path | None = None) -> int:
    """Delete call-time audio not written for max_age_days (it may hold callers' answers)."""
    cutoff = time.time() - max_age_days * 86400
    removed = 0
    for path in (out_dir or sounds_dir()).joinpath(DYNAMIC).rglob("*"):
        if path.suffix in FORMATS and path.stat().st_mtime < cutoff:
            path.unlink(missing_ok=True)
            removed += 1
    return removed
