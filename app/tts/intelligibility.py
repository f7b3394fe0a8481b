"""How intelligible the Mandarin prompts are (`hotline prompts check`).

Every built Mandarin prompt, and a fixed sample of spoken answers, is decoded by the project's
Mandarin speech model in free mode, from the 8 kHz file callers hear, and what it heard is
compared with the text:

- CER: character edit distance / reference characters;
- SER: edit distance over toneless pinyin syllables / reference syllables, so a homophone the
  model happens to write (按键 → 案件) is not an error: the caller heard the right sounds.

Both sides are first reduced to what a listener could write down (normalise): digits as the
synthesiser speaks them (text.zh_numbers: 请按1 → 请按一, 08:15 → 八点十五分), then Chinese
characters only. Latin letters and English sentences leave a gap instead: a Mandarin model can
only write them as some Chinese syllables (G is said "ji", "For English, press 9." is English
speech), so what it writes there costs nothing, and they add nothing to the reference. G101 is
therefore checked as 幺零幺 with a free gap before it.

People understand more than the model does: a low SER says callers hear the right sounds, a
high one that the voice is hard to recognise (espeak-ng's Mandarin, which people follow, scores
about 0.75), not that nobody could follow it. Naturalness is not measured.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
import unicodedata
from collections.abc import Callable, Hashable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, TypeVar

from app.asr.audio import AudioError, read_wav
from app.asr.model import ModelError, load_model
from app.asr.recognizer import FREE, RecognizerPool
from app.tts import say
from app.tts.catalog import CATALOG, Catalog, CatalogError, load_catalog, slots
from app.tts.paths import prompt_file, sounds_dir
from app.tts.synth import Job, SynthesisError, prepare, run
from app.tts.text import POLYPHONES, split_languages, zh_numbers

LANG = "zh"  # the only language with a speech model here
TARGET_SER = 0.10  # mean over everything checked
TARGET_CER = 0.20
PROBLEM_SER = 0.25  # one item above this is a problem whatever the means
WORST = 5

T = TypeVar("T", bound=Hashable)
GAP = None  # in a reference: any run of what was heard matches it for free

_HAN = re.compile("[\u3400-\u9fff\uf900-\ufaff\u3007]")
_LATIN_OR_NOT = re.compile(r"[A-Za-z]+|[^A-Za-z]+")
_POLYPHONE = re.compile("|".join(sorted(map(re.escape, POLYPHONES), key=len, reverse=True)))


# --- text --------------------------------------------------------------------------------


def pieces(text: str) -> list[str | None]:
    """The reference as a listener could write it: runs of Chinese characters, and a GAP
    where Latin letters or English are spoken."""
    found: list[str | None] = []
    # NFKC: full-width digits, letters and colons become the ASCII ones zh_numbers reads.
    for run_lang, run_text in split_languages(unicodedata.normalize("NFKC", text), LANG):
        if run_lang != LANG:
            found.append(GAP)
            continue
        for match in _LATIN_OR_NOT.finditer(zh_numbers(run_text)):
            part = match.group()
            if part[0].isascii() and part[0].isalpha():
                found.append(GAP)
            elif han := "".join(_HAN.findall(part)):
                found.append(han)
    # Two gaps in a row are one gap.
    return [p for i, p in enumerate(found) if p is not GAP or i == 0 or found[i - 1] is not GAP]


def normalise(text: str) -> str:
    """What a listener could transcribe: digits as spoken, then Chinese characters only
    (punctuation, whitespace, Latin letters and English runs removed)."""
    return "".join(p for p in pieces(text) if p is not GAP)


def syllables(han: str) -> list[str]:
    """Toneless pinyin, one per character; the synthesiser's own readings of polyphones."""
    from app.asr.phonetic import syllables as pinyin  # loads pypinyin: only when scoring

    found: list[str] = []
    position = 0
    for match in _POLYPHONE.finditer(han):
        found += pinyin(han[position : match.start()])
        found += [s.rstrip("012345") for s in POLYPHONES[match.group()].split()]
        position = match.end()
    return found + pinyin(han[position:])


def _tokens(parts: Sequence[str | None], split: Callable[[str], list[str]]) -> list[str | None]:
    tokens: list[str | None] = []
    for part in parts:
        tokens += [GAP] if part is GAP else split(part)
    return tokens


def edit_distance(reference: Sequence[T | None], heard: Sequence[T]) -> int:
    """Levenshtein distance (unit costs). A GAP (None) in reference matches any run of heard,
    including none, at no cost."""
    previous = list(range(len(heard) + 1))
    for ref in reference:
        current = [previous[0] + (ref is not GAP)]
        for j, token in enumerate(heard, start=1):
            if ref is GAP:
                current.append(min(previous[j], current[j - 1]))
            else:
                substitute = previous[j - 1] + (ref != token)
                current.append(min(previous[j] + 1, current[j - 1] + 1, substitute))
        previous = current
    return previous[-1]


@dataclass(frozen=True)
class Score:
    cer: float
    ser: float


def _rate(reference: Sequence[str | None], heard: Sequence[str]) -> float:
    counted = sum(1 for token in reference if token is not GAP)
    return edit_distance(reference, heard) / max(counted, 1)


def score(text: str, heard: str) -> Score:
    """CER and SER of what the model heard against the text that was spoken."""
    ref = pieces(text)
    hyp = normalise(heard)
    return Score(
        cer=_rate(_tokens(ref, list), list(hyp)),
        ser=_rate(_tokens(ref, syllables), syllables(hyp)),
    )


# --- what is checked -----------------------------------------------------------------------


def sample_answers(catalog: Catalog) -> list[tuple[str, str]]:
    """(id, text) of spoken answers: the catalog's slot prompts filled the way the IVR fills
    them (app.tts.say), one of each kind of number callers hear. A prompt the catalog lacks
    is left out."""
    fills: list[tuple[str, str, dict[str, str]]] = [
        ("train_on_time", "train_on_time", {
            "date": say.day("2026-12-05", LANG), "train": say.train("G101", LANG),
            "time": say.clock("08:15", LANG), "station": "北京南"}),
        ("train_delayed", "train_delayed", {
            "date": say.day("2026-02-14", LANG), "train": say.train("D2283", LANG),
            "duration": say.duration(75, LANG)}),
        # An order number read in groups of three, and an ID/phone tail.
        ("confirm_number:order_no", "confirm_number",
         {"digits": say.digits("208815370", LANG, group=3)}),
        ("confirm_number:phone_tail", "confirm_number", {"digits": say.digits("0815", LANG)}),
        ("acd_position", "acd_position",
         {"position": say.number(3, LANG), "minutes": say.number(12, LANG)}),
    ]
    answers = [
        (answer_id, catalog.fill(prompt_id, LANG, **values))
        for answer_id, prompt_id, values in fills
        if prompt_id in catalog.prompts and catalog.prompts[prompt_id].slots == set(values)
    ]
    # No catalog prompt carries an amount of money: a refund fee as say.price reads it.
    answers.append(("refund_fee", f"退票手续费{say.price('12.5', LANG)}。"))
    return answers


@dataclass(frozen=True)
class Target:
    id: str
    kind: str  # "prompt" (a built file) or "answer" (synthesised as at call time)
    text: str
    wav: Path
    job: Job | None = None  # answers: run first unless the call-time cache has it


@dataclass(frozen=True)
class Selection:
    targets: list[Target]
    missing: list[str]  # catalog prompts without a built file


class UsageError(ValueError):
    """Something the user asked for cannot be checked; the message says what to do."""


def select(catalog: Catalog, base: Path, *, only: Sequence[str] = (),
           answers: bool = True) -> Selection:
    """The catalog's Mandarin prompts without slots (their built files) and the sample
    answers, or just the ids in only."""
    samples = dict(sample_answers(catalog)) if answers or only else {}
    plain = [pid for pid, prompt in catalog.prompts.items() if not prompt.slots]
    unknown = [i for i in only if i not in plain and i not in samples]
    if unknown:
        raise UsageError(
            f"nothing to check named {', '.join(unknown)}: give a prompt without slots, or "
            f"a sample answer ({', '.join(samples)})")
    wanted = set(only)
    targets: list[Target] = []
    missing: list[str] = []
    for prompt_id in plain:
        if wanted and prompt_id not in wanted:
            continue
        wav = prompt_file(prompt_id, LANG, base)
        if wav.is_file():
            targets.append(Target(prompt_id, "prompt", catalog.text(prompt_id, LANG), wav))
        else:
            missing.append(prompt_id)
    if missing and not targets and not wanted:
        raise UsageError(f"no Mandarin prompt is built in {base / LANG}: run "
                         "`hotline prompts build`")
    for answer_id, text in samples.items():
        if not wanted or answer_id in wanted:
            job = prepare(text, LANG)  # named by its key in the call-time cache
            targets.append(Target(answer_id, "answer", text, job.wav, job))
    return Selection(targets, missing)


# --- decoding ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Item:
    id: str
    kind: str
    text: str
    heard: str
    cer: float
    ser: float

    def as_json(self) -> dict[str, Any]:
        return {**asdict(self), "cer": round(self.cer, 4), "ser": round(self.ser, 4)}


def _hear(target: Target, pool: RecognizerPool) -> Item:
    if target.job is not None and not target.job.done():
        run(target.job)  # the call-time synthesis: cached by text, as callers get it
    # read_wav gives 8 kHz s16le; the recogniser makes the model's 16 kHz itself, the same
    # way as for live calls (asr/frontend.py).
    heard = pool.decode(FREE, read_wav(target.wav).pcm).text
    found = score(target.text, heard)
    return Item(target.id, target.kind, target.text, heard, found.cer, found.ser)


def check(targets: Sequence[Target], model: Any, *, jobs: int = 2,
          progress: Callable[[int, int, Item], None] | None = None) -> list[Item]:
    """Decode every target (jobs at a time) and score it; items in the targets' order."""
    # One recogniser per thread; vosk's C calls release the GIL, so threads decode in parallel.
    pool = RecognizerPool(model, {FREE: None}, warm=0, max_per_mode=jobs, max_alternatives=1,
                          warmup_seconds=0)
    items: dict[str, Item] = {}
    with ThreadPoolExecutor(max_workers=jobs) as executor:
        futures = {executor.submit(_hear, target, pool): target for target in targets}
        for done, future in enumerate(as_completed(futures), start=1):
            item = future.result()
            items[item.id] = item
            if progress is not None:
                progress(done, len(targets), item)
    return [items[target.id] for target in targets]


# --- the report ----------------------------------------------------------------------------


def _mean(values: Sequence[float]) -> float:
    return round(sum(values) / len(values), 4) if values else 0.0


@dataclass(frozen=True)
class Report:
    items: list[Item]
    missing: list[str]
    seconds: float

    @property
    def mean_cer(self) -> float:
        return _mean([i.cer for i in self.items])

    @property
    def mean_ser(self) -> float:
        return _mean([i.ser for i in self.items])

    @property
    def problems(self) -> list[Item]:
        return [i for i in self.items if i.ser > PROBLEM_SER]

    @property
    def worst(self) -> list[Item]:
        return sorted(self.items, key=lambda i: -i.ser)[:WORST]

    @property
    def passed(self) -> bool:
        return (not self.problems and not self.missing and self.mean_ser <= TARGET_SER
                and self.mean_cer <= TARGET_CER)

    def as_json(self) -> dict[str, Any]:
        """"prompts" counts everything checked (prompts and answers), as the means do."""
        prompts = [i for i in self.items if i.kind == "prompt"]
        return {
            "prompts": len(self.items),
            "mean_cer": self.mean_cer,
            "mean_ser": self.mean_ser,
            "prompts_mean_cer": _mean([i.cer for i in prompts]),
            "prompts_mean_ser": _mean([i.ser for i in prompts]),
            "targets": {"mean_ser": TARGET_SER, "mean_cer": TARGET_CER,
                        "problem_ser": PROBLEM_SER},
            "passed": self.passed,
            "worst": [i.as_json() for i in self.worst],
            "problems": [i.as_json() for i in self.problems],
            "missing": self.missing,
            "seconds": round(self.seconds, 1),
            "items": [i.as_json() for i in self.items],
        }


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def table(report: Report) -> str:
    data = report.as_json()
    lines = [f"{'id':<28} {'kind':<6} {'SER':>5} {'CER':>5}  heard"]
    lines += [f"{_clip(i.id, 28):<28} {i.kind:<6} {i.ser:5.2f} {i.cer:5.2f}  {_clip(i.heard, 30)}"
              for i in report.items]
    lines += [
        "",
        f"mean over {data['prompts']} checked: SER {data['mean_ser']:.3f} (target ≤ "
        f"{TARGET_SER:.2f}), CER {data['mean_cer']:.3f} (target ≤ {TARGET_CER:.2f})",
        f"catalog prompts alone: SER {data['prompts_mean_ser']:.3f}, "
        f"CER {data['prompts_mean_cer']:.3f}",
        f"problems (SER > {PROBLEM_SER}): {len(report.problems)}"
        + (f": {', '.join(i.id for i in report.problems)}" if report.problems else ""),
    ]
    if report.missing:
        lines.append(f"not built (run `hotline prompts build`): {', '.join(report.missing)}")
    lines.append(f"{'OK' if report.passed else 'FAILED'} ({report.seconds:.1f} s)")
    return "\n".join(lines)


# --- the command -------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--lang", choices=[LANG], default=LANG,
                        help="zh only: there is no English speech model, so English prompts "
                        "are out of scope")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--no-answers", action="store_true",
                        help="skip the sample spoken answers (numbers, times, dates, money) "
                        "unless named with --prompt")
    parser.add_argument("--prompt", action="append", default=[], metavar="ID",
                        help="check only this prompt or sample answer (repeatable)")
    parser.add_argument("--file", metavar="WAV", help="check this recording instead (with --text)")
    parser.add_argument("--text", help="what --file says")
    parser.add_argument("--catalog", default=str(CATALOG), help="default: %(default)s")
    parser.add_argument("--jobs", type=int, default=min(4, os.cpu_count() or 1),
                        help="decodes at a time (default: %(default)s)")


def _targets(args: argparse.Namespace) -> Selection:
    if (args.file is None) != (args.text is None):
        raise UsageError("--file and --text go together")
    if args.file is None:
        catalog = load_catalog(Path(args.catalog))
        return select(catalog, sounds_dir(), only=args.prompt, answers=not args.no_answers)
    if args.prompt or args.no_answers:
        raise UsageError("--file checks one recording: leave out --prompt and --no-answers")
    if slots(args.text):
        raise UsageError("--text has {slots}: give the text as spoken, slots filled")
    if not normalise(args.text):
        raise UsageError("--text has no Mandarin a listener could write down")
    wav = Path(args.file)
    if not wav.is_file():
        raise UsageError(f"{wav} is not a file")
    return Selection([Target(wav.name, "prompt", args.text, wav)], [])


def _progress(done: int, total: int, item: Item) -> None:
    print(f"  [{done}/{total}] {item.id}: SER {item.ser:.2f} CER {item.cer:.2f}",
          file=sys.stderr, flush=True)


def run_check(args: argparse.Namespace) -> int:
    """`hotline prompts check`: 0 when the targets are met, 1 when not, 2 for usage errors."""
    started = time.monotonic()
    if args.jobs < 1:
        return _usage("--jobs must be 1 or more")
    try:
        selection = _targets(args)
        model = load_model()
        items = check(selection.targets, model, jobs=args.jobs,
                      progress=None if args.json else _progress)
    except (UsageError, CatalogError, ModelError, SynthesisError, AudioError) as exc:
        return _usage(str(exc))
    report = Report(items, selection.missing, time.monotonic() - started)
    if args.json:
        print(json.dumps(report.as_json(), ensure_ascii=False, indent=1))
    else:
        print(table(report))
    return 0 if report.passed else 1


def _usage(message: str) -> int:
    print(f"hotline prompts: {message}", file=sys.stderr)
    return 2
