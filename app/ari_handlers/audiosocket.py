"""AudioSocket server: the PBX streams each listening call's audio here over TCP.

Frames: 1-byte type, 2-byte big-endian length, payload. 0x01 carries the session uuid (16
bytes), 0x10 audio (signed 16-bit little-endian, 8 kHz mono, 320 bytes per 20 ms), 0x00 hang-up,
0xff an error. Audio for a uuid nobody listens to is dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid

log = logging.getLogger(__name__)

KIND_HANGUP, KIND_UUID, KIND_AUDIO, KIND_ERROR = 0x00, 0x01, 0x10, 0xFF
# 20 ms of silence, sent back every 20 ms: Asterisk's AudioSocket channel reads from the socket
# while holding its channel lock and waits until something arrives; with nothing to read it would
# hold the lock forever and every channel look-up in the PBX would hang behind it.
SILENCE = bytes([KIND_AUDIO]) + (320).to_bytes(2, "big") + bytes(320)
SILENCE_EVERY = 0.02


class AudioSocketServer:
    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self.port = port
        self._queues: dict[str, asyncio.Queue[bytes | None]] = {}
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        log.info("AudioSocket server on %s:%d", self.host, self.port)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        for task in list(self._connections):
            task.cancel()
        for task in list(self._connections):
            with contextlib.suppress(asyncio.CancelledError):
                await task

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def register(self, session: str) -> asyncio.Queue[bytes | None]:
        """A queue receiving the session's audio frames; None when the stream ends."""
        queue: asyncio.Queue[bytes | None] = asyncio.Queue()
        self._queues[session] = queue
        return queue

    def unregister(self, session: str) -> None:
        self._queues.pop(session, None)

    @staticmethod
    async def _feed_silence(writer: asyncio.StreamWriter) -> None:
        loop = asyncio.get_running_loop()
        next_at = loop.time()
        with contextlib.suppress(ConnectionError, RuntimeError):
            while not writer.is_closing():
                writer.write(SILENCE)
                await writer.drain()
                next_at += SILENCE_EVERY
                await asyncio.sleep(max(0.0, next_at - loop.time()))

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        session = ""
        feeder = asyncio.create_task(self._feed_silence(writer))
        try:
            while True:
                header = await reader.readexactly(3)
                kind, length = header[0], int.from_bytes(header[1:3], "big")
                payload = await reader.readexactly(length) if length else b""
                if kind == KIND_UUID:
                    session = str(uuid.UUID(bytes=payload))
                elif kind == KIND_AUDIO:
                    queue = self._queues.get(session)
                    if queue is not None:
                        queue.put_nowait(payload)
                elif kind in (KIND_HANGUP, KIND_ERROR):
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            feeder.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await feeder
            queue = self._queues.get(session)
            if queue is not None:
                queue.put_nowait(None)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()
            self._connections.discard(task)
