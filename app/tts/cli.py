"""`hotline prompts build|status|say|install-voice`: build the catalog's audio, list what
callers hear, speak ad-hoc text, install the natural Mandarin voice."""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

from app.tts import intelligibility, neural
from app.tts.build import build_prompts, prompt_status, prune_call_time_cache
from app.tts.catalog import CATALOG, LANGS, CatalogError, load_catalog
from app.tts.paths import media_uri_for_file, pbx_path, sounds_dir
from app.tts.synth import SynthesisError, engine_info, prepare, run

OUTPUTS = {".wav": "8 kHz 16-bit mono WAV", ".sln16": "16 kHz raw signed linear"}


def _error(message: str) -> int:
    print(f"hotline prompts: {message}", file=sys.stderr)
    return 2


def _build(args: argparse.Namespace) -> int:
    langs = LANGS if args.lang == "all" else (args.lang,)
    out_dir = sounds_dir()
    try:
        catalog = load_catalog(Path(args.catalog))
        print(
            f"Building {len(catalog.prompts)} prompts x {'+'.join(langs)} from {args.catalog}\n"
            f"  into {out_dir} (the PBX plays sound:{pbx_path(out_dir)}/<lang>/<id>)\n"
            f"  with {_engines()}"
        )
        report = build_prompts(catalog, langs, out_dir=out_dir, force=args.force, jobs=args.jobs)
    except (CatalogError, SynthesisError, neural.VoiceError) as exc:
        return _error(str(exc))
    pruned = prune_call_time_cache(args.keep_days, out_dir)
    per_prompt = (
        f", {sum(report.timings) / len(report.timings):.2f} s per prompt" if report.timings else ""
    )
    print(
        f"prompts: {len(report.built)} built, {report.cached} cached (unchanged), "
        f"{len(report.call_time)} with slots spoken at call time, "
        f"{len(report.removed)} stale files removed, {pruned} old call-time files pruned "
        f"({report.seconds:.1f} s{per_prompt})"
    )
    if report.failed:
        return _error(f"{len(report.failed)} prompts failed: {', '.join(report.failed)}")
    return 0


def _engines() -> str:
    mandarin = (f"the natural voice ({neural.VOICE_ID})" if neural.wanted()
                else "espeak-ng (the natural voice is not installed or turned off)")
    return f"Mandarin: {mandarin}; English: {engine_info().version}"


def _status(args: argparse.Namespace) -> int:
    langs = LANGS if args.lang == "all" else (args.lang,)
    try:
        rows = prompt_status(load_catalog(Path(args.catalog)), langs)
    except (CatalogError, SynthesisError, neural.VoiceError) as exc:
        return _error(str(exc))
    stale = [r for r in rows if r.stale]
    if args.json:
        print(json.dumps({
            "prompts": [r.__dict__ for r in rows],
            "sources": {s: sum(r.source == s and not r.call_time for r in rows)
                        for s in ("recorded", "neural", "espeak")},
            "stale": [f"{r.lang}/{r.id}" for r in stale],
        }, ensure_ascii=False, indent=1))
    else:
        for r in rows:
            length = "call time" if r.call_time else (
                f"{r.seconds:5.1f} s" if r.seconds is not None else "  —  ")
            flag = f"  STALE: {r.reason}" if r.stale else ""
            print(f"{r.lang}/{r.id:<28} {r.source:<8} {length:>9}  {r.text[:40]}{flag}")
        print(f"{len(rows)} prompts, {len(stale)} stale"
              + (": run `hotline prompts build`" if stale else ""))
    return 1 if stale else 0


def _install_voice(args: argparse.Namespace) -> int:
    try:
        neural.install(force=args.force)
    except (neural.VoiceError, OSError) as exc:
        return _error(str(exc))
    return 0


def _say(args: argparse.Namespace) -> int:
    output = Path(args.output) if args.output else None
    if output is not None and output.suffix not in OUTPUTS:
        return _error(f"-o {output}: use a .wav (8 kHz) or .sln16 (16 kHz raw) file name")
    started = time.monotonic()
    try:
        job = prepare(args.text, args.lang)
        for segment in job.segments:
            print(f"  {segment.voice} @ {segment.rate} wpm: {segment.text}")
        cached = job.done()
        wav = job.wav if cached else run(job)
    except (SynthesisError, neural.VoiceError) as exc:
        return _error(str(exc))
    took = "cached" if cached else f"{time.monotonic() - started:.2f} s"
    if output is None:
        print(f"{wav} ({took})\n{media_uri_for_file(wav)}")
        return 0
    output.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(job.base.with_suffix(output.suffix), output)
    print(f"{output}: {OUTPUTS[output.suffix]} ({took})")
    return 0


def _check(args: argparse.Namespace) -> int:
    return intelligibility.run_check(args)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `prompts` command group to the top-level parser."""
    prompts = sub.add_parser(
        "prompts",
        help="build, list and check the voice prompts",
        description="Voice prompts from sounds/prompts.yaml into the PBX: a recording in "
        "sounds/recorded/<lang>/<id>.wav wins, else Mandarin is spoken by the natural voice "
        "(when installed) and English by espeak-ng.",
    )
    actions = prompts.add_subparsers(dest="prompts_action", required=True, metavar="ACTION")
    build = actions.add_parser(
        "build",
        help="synthesise changed prompts (8 kHz .wav and 16 kHz .sln16)",
        description="Validate the catalog, then synthesise every prompt whose text, voice or "
        "engine changed since the last build. $HOTLINE_SOUNDS_DIR overrides the output "
        "directory (default: inside the PBX root).",
    )
    build.add_argument("--lang", choices=[*LANGS, "all"], default="all")
    build.add_argument("--force", action="store_true", help="rebuild every prompt")
    build.add_argument("--jobs", type=int, default=None, help="parallel syntheses (default: CPUs)")
    build.add_argument("--catalog", default=str(CATALOG), help="default: %(default)s")
    build.add_argument(
        "--keep-days",
        type=float,
        default=30.0,
        help="delete call-time audio older than this many days (default: %(default)s)",
    )
    build.set_defaults(func=_build)
    status = actions.add_parser(
        "status",
        help="list every prompt: source, length, text, stale or not",
        description="What callers hear for every prompt, without building: its source "
        "(recorded, neural or espeak), its length, its text, and whether its audio is stale "
        "(not built, built from an older text or engine, or a recording of an earlier text). "
        "Exit status 1 when any is stale.",
    )
    status.add_argument("--lang", choices=[*LANGS, "all"], default="all")
    status.add_argument("--catalog", default=str(CATALOG), help="default: %(default)s")
    status.add_argument("--json", action="store_true", help="machine-readable output")
    status.set_defaults(func=_status)
    install = actions.add_parser(
        "install-voice",
        help="install the natural Mandarin voice (idempotent)",
        description="Create the natural voice's own virtualenv under $HOTLINE_MODELS_DIR "
        f"(default /var/lib/hotline/models) with {', '.join(neural.REQUIREMENTS)} and "
        f"{neural.PACKAGE}, then check it with a test synthesis. The voice was trained on a "
        "corpus licensed for non-commercial use: record your prompts for production.",
    )
    install.add_argument("--force", action="store_true", help="reinstall from scratch")
    install.set_defaults(func=_install_voice)
    say = actions.add_parser(
        "say",
        help="synthesise ad-hoc text",
        description="Synthesise TEXT as the IVR would at call time. Without -o the audio goes "
        "to the call-time cache and its media URI is printed.",
    )
    say.add_argument("text")
    say.add_argument("--lang", choices=LANGS, default="zh")
    say.add_argument("-o", "--output", help="write here instead: NAME.wav or NAME.sln16")
    say.set_defaults(func=_say)
    check = actions.add_parser(
        "check",
        help="how well the speech model hears the Mandarin prompts (CER/SER)",
        description="Decode every built Mandarin prompt, and sample spoken answers synthesised "
        "as at call time, with the Mandarin speech model from the 8 kHz audio callers hear, "
        "and compare with the texts: character (CER) and toneless-syllable (SER) error rates. "
        f"Targets: mean SER <= {intelligibility.TARGET_SER}, mean CER <= "
        f"{intelligibility.TARGET_CER}, no item with SER > {intelligibility.PROBLEM_SER}. "
        "Exit 0 when met, 1 when not, 2 for a usage error. Mandarin only: there is no English "
        "speech model.",
    )
    intelligibility.add_arguments(check)
    check.set_defaults(func=_check)
