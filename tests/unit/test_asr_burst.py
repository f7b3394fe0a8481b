"""Bursts of callers speaking at once into the live speech service (real model, real-time
audio): every caller is answered, understood or "not heard", before hanging up."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from app.asr import model
from app.asr.audio import read_wav
from app.asr.endpoint import FRAME_BYTES
from app.asr.live import SpeechService
from app.asr.recognizer import pool_for
from tests.data import SPEECH

LEAD_SECONDS = 0.2  # silence before speaking
HOLD_SECONDS = 3.0  # silence after speaking, then the caller hangs up


class SpeakingCaller:
    """An audio source playing one clip in real time, then silence, then hanging up."""

    def __init__(self, pcm: bytes) -> None:
        self.pcm = pcm
        self.task: asyncio.Task[None] | None = None

    async def open(self) -> asyncio.Queue[bytes | None]:
        queue: asyncio.Queue[bytes | None] = asyncio.Queue()
        self.task = asyncio.create_task(self._play(queue))
        return queue

    async def _play(self, queue: asyncio.Queue[bytes | None]) -> None:
        audio = bytes(int(LEAD_SECONDS * 16000)) + self.pcm + bytes(int(HOLD_SECONDS * 16000))
        loop = asyncio.get_running_loop()
        start = loop.time()
        for n, i in enumerate(range(0, len(audio), FRAME_BYTES)):
            queue.put_nowait(audio[i:i + FRAME_BYTES])
            await asyncio.sleep(max(0.0, start + (n + 1) * 0.02 - loop.time()))
        queue.put_nowait(None)

    async def close(self) -> None:
        if self.task is not None:
            self.task.cancel()


class Listener:
    def __init__(self, n: int) -> None:
        self.id = f"caller-{n}"
        self.started = 0
        self.heard: list[Any] = []

    def speech_started(self) -> None:
        self.started += 1

    def speech_heard(self, result: Any) -> None:
        self.heard.append(result)


async def burst(service: SpeechService, pcm: bytes, callers: int) -> list[Listener]:
    """All callers speak at once; each hangs up HOLD_SECONDS after speaking, answered or not
    (the call's end closes its listening, as in calls)."""
    listeners = [Listener(n) for n in range(callers)]
    sessions = [service.listen(SpeakingCaller(pcm), listener) for listener in listeners]
    await asyncio.sleep(LEAD_SECONDS + len(pcm) / 16000 + HOLD_SECONDS)
    for session in sessions:
        await session.close()
    return listeners


@pytest.mark.parametrize("sequence", [(2, 12)])
async def test_every_caller_of_a_burst_is_answered_before_hanging_up(
        sequence: tuple[int, ...], tmp_path: Path) -> None:
    pool = await asyncio.to_thread(pool_for, model.install(), warm=2, max_per_mode=12,
                                   warmup_seconds=0.5, keep_spare=1)
    pool.prefill(12)
    service = SpeechService(pool, tmp_path)
    pcm = read_wav(SPEECH / "pcm8k/032.wav").pcm  # 我要投诉列车员服务态度差
    try:
        for callers in sequence:
            listeners = await burst(service, pcm, callers)
            assert all(listener.started == 1 for listener in listeners)
            # Each caller got exactly one answer while still on the line.
            assert [len(listener.heard) for listener in listeners] == [1] * callers
            # Understood, or told "not heard" (how many are understood depends on the CPU:
            # bench/asr_live.py measures that).
            assert {(h.intent, h.transcript) for listener in listeners
                    for h in listener.heard if h.intent != "complaint"} <= {("none", "")}
    finally:
        await service.stop()
