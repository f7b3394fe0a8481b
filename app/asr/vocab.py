"""The model's word list, and splitting Chinese phrases into its words.

Vosk builds a runtime grammar from space-separated words and silently drops any word missing
from the model's vocabulary, so "我要退票" must be passed as "我 要 退票". The small-cn model
ships no words.txt; the symbol table is embedded in graph/Gr.fst (OpenFst binary format).
"""

from __future__ import annotations

import struct
import threading
from collections.abc import Iterable
from pathlib import Path

FST_MAGIC = 2125659606
SYMBOLS_MAGIC = 2125658996
# Words that are not words: epsilon, silence, backoff and sentence markers.
_SPECIAL = frozenset({"<eps>", "!SIL", "[unk]", "#0", "<s>", "</s>"})


class VocabularyError(ValueError):
    pass


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def int32(self) -> int:
        (value,) = struct.unpack_from("<i", self.data, self.pos)
        self.pos += 4
        return int(value)

    def int64(self) -> int:
        (value,) = struct.unpack_from("<q", self.data, self.pos)
        self.pos += 8
        return int(value)

    def string(self) -> str:
        size = self.int32()
        if size < 0 or self.pos + size > len(self.data):
            raise VocabularyError("corrupt string in FST header")
        text = self.data[self.pos:self.pos + size].decode("utf-8")
        self.pos += size
        return text


def read_fst_symbols(path: Path, limit: int = 64 << 20) -> list[str]:
    """The input symbol table of an OpenFst binary file (header, then the table)."""
    with path.open("rb") as handle:
        reader = _Reader(handle.read(limit))
    try:
        if reader.int32() != FST_MAGIC:
            raise VocabularyError(f"{path} is not an OpenFst binary")
        reader.string()  # fst type
        reader.string()  # arc type
        reader.int32()  # version
        flags = reader.int32()
        if not flags & 1:
            raise VocabularyError(f"{path} carries no symbol table")
        for _ in range(4):  # properties, start, number of states, number of arcs
            reader.int64()
        if reader.int32() != SYMBOLS_MAGIC:
            raise VocabularyError(f"{path}: bad symbol table")
        reader.string()  # table name
        reader.int64()  # available key
        count = reader.int64()
        words = []
        for _ in range(count):
            words.append(reader.string())
            reader.int64()
    except struct.error as exc:
        raise VocabularyError(f"{path}: truncated symbol table") from exc
    return words


class Vocabulary:
    def __init__(self, words: Iterable[str]) -> None:
        self.words = frozenset(w for w in words if w not in _SPECIAL)
        self.longest = max((len(w) for w in self.words), default=1)

    def __contains__(self, word: object) -> bool:
        return word in self.words

    def segment(self, text: str) -> list[str] | None:
        """Split text into the fewest vocabulary words; None when some part is not covered."""
        text = "".join(text.split())
        n = len(text)
        best: list[tuple[int, int] | None] = [None] * (n + 1)  # (words so far, start of last)
        best[0] = (0, 0)
        for end in range(1, n + 1):
            for start in range(max(0, end - self.longest), end):
                prev = best[start]
                if prev is None or text[start:end] not in self.words:
                    continue
                current = best[end]
                if current is None or prev[0] + 1 < current[0]:
                    best[end] = (prev[0] + 1, start)
        if best[n] is None:
            return None
        pieces: list[str] = []
        end = n
        while end > 0:
            entry = best[end]
            assert entry is not None
            pieces.append(text[entry[1]:end])
            end = entry[1]
        return pieces[::-1]


_cache: dict[Path, Vocabulary] = {}
_lock = threading.Lock()


def load_vocabulary(model_dir: Path) -> Vocabulary:
    key = model_dir.resolve()
    with _lock:
        if key not in _cache:
            _cache[key] = Vocabulary(read_fst_symbols(key / "graph" / "Gr.fst"))
        return _cache[key]
