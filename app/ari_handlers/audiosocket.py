"""AudioSocket server: the PBX streams each listening call's audio here over TCP.

Frames: 1-byte type, 2-byte big-endian length, payload. 0x01 carries the session uuid (16
bytes), 0x10 audio (signed 16-bit little-endian, 8 kHz mono, 320 bytes per 20 ms), 0x00 hang-up,
0xff an error. A connection must name a session the platform registered (its first frame, a
uuid frame, within HANDSHAKE_TIMEOUT); anything else is closed with one log line: the port is
open to anything on the host, and a stray client must not hold a connection or log a traceback.
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
# One timer feeds every connection (a timer per connection woke the loop 50 times a second
# per caller). A connection whose PBX side has stopped reading gets no more than this queued.
SILENCE_BACKLOG = 32 * len(SILENCE)
# Asterisk sends the uuid frame as soon as it connects; a client that does not is not Asterisk.
HANDSHAKE_TIMEOUT = 2.0


class HandshakeError(Exception):
    """The first frame did not name a registered session; the message says what came instead."""


class AudioSocketServer:
    def __init__(self, host: str = "127.0.0.1", port: int = 0,
                 handshake_timeout: float = HANDSHAKE_TIMEOUT) -> None:
        self.host = host
        self.port = port
        self.handshake_timeout = handshake_timeout
        self._queues: dict[str, asyncio.Queue[bytes | None]] = {}
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[None]] = set()
        self._fed: set[asyncio.StreamWriter] = set()  # connections the silence timer feeds
        self._feeder: asyncio.Task[None] | None = None
        self.frames = 0  # audio frames received since the start (what listening cost)

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        log.info("AudioSocket server on %s:%d", self.host, self.port)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        if self._feeder is not None:
            self._feeder.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._feeder
            self._feeder = None
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

    def _feed(self, writer: asyncio.StreamWriter) -> None:
        """Silence to this connection now and every 20 ms until it closes."""
        writer.write(SILENCE)
        self._fed.add(writer)
        if self._feeder is None or self._feeder.done():
            self._feeder = asyncio.create_task(self._feed_silence(), name="audiosocket-silence")

    async def _feed_silence(self) -> None:
        loop = asyncio.get_running_loop()
        next_at = loop.time()
        while True:
            for writer in list(self._fed):
                if writer.is_closing():
                    self._fed.discard(writer)
                elif writer.transport.get_write_buffer_size() < SILENCE_BACKLOG:
                    with contextlib.suppress(ConnectionError, RuntimeError):
                        writer.write(SILENCE)
            next_at += SILENCE_EVERY
            if next_at < loop.time() - 10 * SILENCE_EVERY:
                next_at = loop.time()  # after a stall of the loop: no burst to catch up
            await asyncio.sleep(max(0.0, next_at - loop.time()))

    async def _handshake(self, reader: asyncio.StreamReader) -> str:
        """The session named by the connection's first frame, which must be a known uuid."""
        try:
            kind, payload = await asyncio.wait_for(_read_frame(reader), self.handshake_timeout)
        except TimeoutError:
            raise HandshakeError(
                f"no session uuid within {self.handshake_timeout:g} s") from None
        except asyncio.IncompleteReadError as exc:
            raise HandshakeError(
                f"closed after {len(exc.partial)} bytes, before a whole first frame") from None
        if kind != KIND_UUID:
            raise HandshakeError(f"first frame is of kind 0x{kind:02x}, not a session uuid")
        if len(payload) != 16:
            raise HandshakeError(f"session uuid frame of {len(payload)} bytes, not 16")
        session = str(uuid.UUID(bytes=payload))
        if session not in self._queues:
            raise HandshakeError(f"session {session} is not one of ours")
        return session

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        session = ""
        self._feed(writer)
        try:
            session = await self._handshake(reader)
            while True:
                kind, payload = await _read_frame(reader)
                if kind == KIND_AUDIO:
                    self.frames += 1
                    queue = self._queues.get(session)
                    if queue is not None:
                        queue.put_nowait(payload)
                elif kind in (KIND_HANGUP, KIND_ERROR):
                    break
        except HandshakeError as exc:
            log.warning("AudioSocket connection from %s closed: %s", _peer(writer), exc)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            self._fed.discard(writer)
            queue = self._queues.get(session)
            if queue is not None:
                queue.put_nowait(None)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()
            self._connections.discard(task)


async def _read_frame(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    header = await reader.readexactly(3)
    length = int.from_bytes(header[1:3], "big")
    return header[0], await reader.readexactly(length) if length else b""


def _peer(writer: asyncio.StreamWriter) -> str:
    peer = writer.get_extra_info("peername")
    return f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer)
