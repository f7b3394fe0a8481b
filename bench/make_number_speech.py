"""Make the spoken-number test set tests/data/speech/numbers/: order numbers (9 digits) and
ID/phone tails (4 digits) with 八/零/幺 in first, middle and last places, with and without
lead-in words, fast and slow.

espeak-ng's Mandarin voice is not recognisable enough for this (the model hears 有没有吧
for 六六八八), so the clips are spliced from words of the development recordings
(tests/data/speech/entities: a natural Mandarin voice at telephone rate): each recording is
aligned to its known words with the model, every digit and lead-in word is cut out (10 ms
fades), and new numbers are put together with gaps of 0-300 ms and played 0.85-1.25 times as
fast (sox tempo, pitch kept). The set is fixed by a seed; rerunning writes the same labels.
Run (needs the model, `hotline asr install`):
    python bench/make_number_speech.py [--out tests/data/speech/numbers]
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
import wave
from pathlib import Path

import numpy as np

from app.asr.audio import RATE, read_wav
from app.asr.model import load_model
from tests.data import SPEECH

OUT = SPEECH / "numbers"
# Development recordings and the words said in them (E of an order number sounds like 一).
SOURCES = {
    "001.wav": "订单号 是 一 一 二 三 四 五 六 七 八 九",
    "002.wav": "我 的 订单号 九 八 七 六 五 四 三 二 一",
    "003.wav": "一 零 一 次",
    "004.wav": "三 零 一",
    "006.wav": "六 六 八 八",
    "007.wav": "幺 零 二 四",
}
HANZI = "零一二三四五六七八九"
ORDER_LEAD_INS = ((), ("订单号", "是"), ("我", "的", "订单号"), ("我", "的", "订单号", "是"),
                  ("订单号",))
TAIL_LEAD_INS = ((), ("是",))
HARD = "801"  # 八, 零 and 幺 (one) are the digits heard as other words
FADE = int(0.01 * RATE)


def cut_words(model: object) -> dict[str, list[np.ndarray]]:
    """Every aligned word of the source recordings: word -> its audio cuts."""
    import vosk  # type: ignore[import-untyped]

    bank: dict[str, list[np.ndarray]] = {}
    for name, words in SOURCES.items():
        pcm = np.frombuffer(read_wav(SPEECH / "entities/pcm8k" / name).pcm, dtype="<i2")
        rec = vosk.KaldiRecognizer(model, RATE, json.dumps([words, "[unk]"],
                                                           ensure_ascii=False))
        rec.SetWords(True)
        rec.AcceptWaveform(pcm.tobytes())
        for word in json.loads(rec.FinalResult()).get("result", []):
            piece = pcm[int(word["start"] * RATE):int(word["end"] * RATE)].astype(np.float64)
            ramp = np.linspace(0.0, 1.0, min(FADE, len(piece) // 2))
            piece[:len(ramp)] *= ramp
            piece[len(piece) - len(ramp):] *= ramp[::-1]
            bank.setdefault(word["word"], []).append(piece)
    return bank


def digits_with_hard(rng: random.Random, length: int, index: int) -> str:
    """Random digits with a hard digit at the start, middle or end (cycling with index)."""
    digits = [rng.choice("0123456789") for _ in range(length)]
    place = (0, length // 2, length - 1)[index % 3]
    digits[place] = HARD[(index // 3) % 3]
    return "".join(digits)


def compose(rng: random.Random, bank: dict[str, list[np.ndarray]], words: list[str],
            slow: bool) -> np.ndarray:
    silence = np.zeros(int(0.25 * RATE))
    parts = [silence]
    for word in words:
        parts.append(rng.choice(bank[word]))
        gap = rng.uniform(0.12, 0.3) if slow else rng.uniform(0.0, 0.08)
        parts.append(np.zeros(int(gap * RATE)))
    parts.append(silence)
    return np.concatenate(parts)


def write(samples: np.ndarray, tempo: float, dest: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "raw.wav"
        with wave.open(str(raw), "wb") as out:
            out.setnchannels(1)
            out.setsampwidth(2)
            out.setframerate(RATE)
            out.writeframes(np.clip(samples, -32768, 32767).astype("<i2").tobytes())
        subprocess.run(["sox", "-D", str(raw), str(dest), "tempo", "-s", f"{tempo:.2f}"],
                       check=True, capture_output=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=OUT, help="folder (default: %(default)s)")
    parser.add_argument("--count", type=int, default=24, help="clips per kind (default 24)")
    parser.add_argument("--seed", type=int, default=17)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    bank = cut_words(load_model())
    audio = args.out / "pcm8k"
    audio.mkdir(parents=True, exist_ok=True)
    rows = ["file\tkind\tvalue\ttext"]
    n = 0
    for kind, length, lead_ins in (("order_no", 9, ORDER_LEAD_INS),
                                   ("digits", 4, TAIL_LEAD_INS)):
        for i in range(args.count):
            n += 1
            digits = digits_with_hard(rng, length, i)
            yao = rng.random() < 0.5
            said = [*rng.choice(lead_ins),
                    *("幺" if d == "1" and yao else HANZI[int(d)] for d in digits)]
            slow = i % 2 == 1
            tempo = rng.uniform(0.85, 1.0) if slow else rng.uniform(1.05, 1.25)
            name = f"{n:03d}.wav"
            write(compose(rng, bank, said, slow), tempo, audio / name)
            value = "E" + digits if kind == "order_no" else digits
            rows.append(f"{name}\t{kind}\t{value}\t{''.join(said)}")
    (args.out / "labels.tsv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    print(f"{n} clips in {audio}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
