"""Accuracy of intent or entity recognition on a labelled folder of recordings.

Labels are TSV with a header: `file intent text` for intents, `file kind value text` for
entities (an utterance counts as right when its kind/value is among the extracted entities).
"""

from __future__ import annotations

import csv
import time
from collections.abc import Collection, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from app.asr.audio import read_wav
from app.asr.understand import Understander, Understanding

INTENT_COLUMNS = ("file", "intent")
ENTITY_COLUMNS = ("file", "kind", "value")


class LabelsError(ValueError):
    """The labels file cannot be used; the message says what it should look like."""


@dataclass(frozen=True)
class Labels:
    kind: str  # "intent" or "entity"
    rows: list[dict[str, str]]


def read_labels(path: Path) -> Labels:
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle, delimiter="\t")
            header = [h.strip() for h in reader.fieldnames or []]
            rows = [{k.strip(): (v or "").strip() for k, v in row.items() if k}
                    for row in reader]
    except OSError as exc:
        raise LabelsError(f"cannot read {path}: {exc.strerror or exc}") from exc
    if all(c in header for c in ENTITY_COLUMNS):
        kind = "entity"
    elif all(c in header for c in INTENT_COLUMNS):
        kind = "intent"
    else:
        raise LabelsError(
            f"{path}: header {header} is neither `file intent text` (intents) nor "
            "`file kind value text` (entities); the columns are tab-separated")
    rows = [r for r in rows if r.get("file")]
    if not rows:
        raise LabelsError(f"{path} has a header but no labelled files")
    return Labels(kind, rows)


def _judge(kind: str, row: dict[str, str], result: Understanding) -> tuple[str, str, bool]:
    """(expected, predicted, correct) for one file."""
    if kind == "intent":
        return row["intent"], result.intent, result.intent == row["intent"]
    want = (row["kind"], row["value"])
    found = [(e.kind, e.value) for e in result.entities]
    if want in found:
        return row["kind"], row["kind"], True
    same_kind = [v for k, v in found if k == want[0]]
    if same_kind:
        return row["kind"], f"{row['kind']} (other value)", False
    return row["kind"], found[0][0] if found else "nothing", False


EXPECT_FROM_LABELS = "label"  # --expect label: each clip asked for the kind it is labelled


def evaluate(labels_path: Path, audio_dir: Path, understander: Understander, *,
             workers: int = 2, today: date | None = None,
             expect: str | None = None) -> dict[str, Any]:
    """expect: the kind the IVR asked for (decoded as in calls), or "label" for each row's
    own kind; None decodes as an open question."""
    labels = read_labels(labels_path)
    if expect is not None and labels.kind != "entity":
        raise LabelsError(f"--expect needs entity labels (`file kind value text`); "
                          f"{labels_path} has intent labels")
    missing = [r["file"] for r in labels.rows if not (audio_dir / r["file"]).is_file()]
    if missing:
        raise LabelsError(f"{len(missing)} labelled files are not in {audio_dir}, e.g. "
                          f"{missing[0]}; pass the folder that holds the WAV files")
    want_intent = labels.kind == "intent"

    def run(row: dict[str, str]) -> tuple[dict[str, str], Understanding]:
        audio = read_wav(audio_dir / row["file"])
        asked = row["kind"] if expect == EXPECT_FROM_LABELS else expect
        return row, understander.understand(audio.pcm, want_intent=want_intent,
                                            want_entities=not want_intent, today=today,
                                            expect=asked)

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=max(1, workers)) as executor:
        results = list(executor.map(run, labels.rows))
    wall = time.perf_counter() - started
    report = summarise(labels.kind, results, wall)
    if expect is not None:
        report["expect"] = expect
        report["unsure"] = sum(1 for _, r in results for e in r.entities if not e.sure)
    return report


def summarise(kind: str, results: Sequence[tuple[dict[str, str], Understanding]],
              wall_seconds: float) -> dict[str, Any]:
    confusion: dict[str, dict[str, int]] = {}
    errors: list[dict[str, Any]] = []
    correct = 0
    audio = decode = 0.0
    per_mode: dict[str, list[float]] = {}
    confidences: dict[bool, list[float]] = {True: [], False: []}
    for row, result in results:
        expected, predicted, ok = _judge(kind, row, result)
        confusion.setdefault(expected, {}).setdefault(predicted, 0)
        confusion[expected][predicted] += 1
        correct += ok
        audio += result.audio_seconds
        decode += result.decode_seconds
        for mode, transcript in result.transcripts.items():
            spent = per_mode.setdefault(mode, [0.0, 0.0])
            spent[0] += transcript.decode_seconds
            spent[1] += transcript.audio_seconds
        if kind == "intent":
            confidences[ok].append(result.confidence)
        if not ok:
            errors.append({"file": row["file"], "expected": _expected(kind, row),
                           "got": _got(kind, result), "transcript": result.transcript,
                           "said": row.get("text", "")})
    n = len(results)
    report: dict[str, Any] = {
        "task": kind,
        "n": n,
        "correct": correct,
        "accuracy": round(correct / n, 4) if n else 0.0,
        "confusion": confusion,
        "rtf": round(decode / audio, 4) if audio else 0.0,
        "rtf_per_mode": {m: round(d / a, 4) if a else 0.0 for m, (d, a) in per_mode.items()},
        "audio_seconds": round(audio, 2),
        "wall_seconds": round(wall_seconds, 2),
        "errors": errors,
    }
    if kind == "intent":
        report["mean_confidence"] = {
            "correct": _mean(confidences[True]), "wrong": _mean(confidences[False])}
    return report


def _expected(kind: str, row: dict[str, str]) -> str | dict[str, str]:
    return row["intent"] if kind == "intent" else {"kind": row["kind"], "value": row["value"]}


def _got(kind: str, result: Understanding) -> Any:
    if kind == "intent":
        return {"intent": result.intent, "confidence": result.confidence}
    return [e.as_dict() for e in result.entities]


def _mean(values: Collection[float]) -> float | None:
    return round(sum(values) / len(values), 3) if values else None
