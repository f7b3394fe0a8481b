"""`hotline prompts ...` commands."""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

from app.tts.catalog import LANGS, CatalogError, load_catalog
from app.tts.synth import SynthesisError, build_prompts, render, sounds_dir


def _build(args: argparse.Namespace) -> int:
    langs = LANGS if args.lang == "all" else (args.lang,)
    started = time.monotonic()
    try:
        catalog = load_catalog()
        print(
            f"Building {len(catalog.prompts)} prompts x {len(langs)} languages into {sounds_dir()}"
        )
        report = build_prompts(catalog, langs, force=args.force)
    except (CatalogError, SynthesisError) as exc:
        print(f"hotline prompts: {exc}", file=sys.stderr)
        return 2
    print(
        f"prompts: {report.built} built, {report.cached} unchanged "
        f"({time.monotonic() - started:.1f} s)"
    )
    return 0


def _say(args: argparse.Namespace) -> int:
    out = Path(args.output).with_suffix("")
    try:
        render(args.text, args.lang, out)
    except SynthesisError as exc:
        print(f"hotline prompts: {exc}", file=sys.stderr)
        return 2
    if args.output.endswith(".sln16"):
        out.with_suffix(".wav").unlink(missing_ok=True)
    else:
        out.with_suffix(".sln16").unlink(missing_ok=True)
        if out.with_suffix(".wav") != Path(args.output):
            shutil.move(out.with_suffix(".wav"), args.output)
    print(args.output)
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `prompts` command group to the top-level parser."""
    prompts = sub.add_parser(
        "prompts",
        help="build the voice prompts (pyttsx3 + espeak-ng)",
        description="Voice prompts from sounds/prompts.yaml.",
    )
    prompts_sub = prompts.add_subparsers(dest="prompts_action", required=True, metavar="ACTION")
    build = prompts_sub.add_parser(
        "build",
        help="synthesise changed prompts (8 kHz .wav and 16 kHz .sln16) into the PBX",
        description="Synthesise every prompt whose text changed since the last build.",
    )
    build.add_argument("--lang", choices=[*LANGS, "all"], default="all")
    build.add_argument("--force", action="store_true", help="rebuild every prompt")
    build.set_defaults(func=_build)
    say = prompts_sub.add_parser("say", help="synthesise ad-hoc text to an 8 kHz WAV")
    say.add_argument("text")
    say.add_argument("--lang", choices=LANGS, default="zh")
    say.add_argument("-o", "--output", default="say.wav", help="output file (default say.wav)")
    say.set_defaults(func=_say)
