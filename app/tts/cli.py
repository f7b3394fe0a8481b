"""`hotline prompts build|say`: build the catalog's audio, or speak ad-hoc text."""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

from app.tts import intelligibility
from app.tts.build import build_prompts, prune_call_time_cache
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
            f"  with {engine_info().version}"
        )
        report = build_prompts(catalog, langs, out_dir=out_dir, force=args.force, jobs=args.jobs)
    except (CatalogError, SynthesisError) as exc:
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
    except SynthesisError as exc:
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
        help="build the voice prompts (pyttsx3 + espeak-ng)",
        description="Voice prompts from sounds/prompts.yaml, synthesised into the PBX.",
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
