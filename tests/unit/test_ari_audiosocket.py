"""The AudioSocket server: audio frames reach the session's queue, and the PBX side always has
something to read (Asterisk's AudioSocket channel holds its lock while it waits for input)."""

from __future__ import annotations

import asyncio
import logging
import uuid

import pytest

from app.ari_handlers.audiosocket import (
    HANDSHAKE_TIMEOUT,
    KIND_AUDIO,
    KIND_HANGUP,
    KIND_UUID,
    AudioSocketServer,
)


def frame(kind: int, payload: bytes = b"") -> bytes:
    return bytes([kind]) + len(payload).to_bytes(2, "big") + payload


async def test_audio_reaches_the_session_and_silence_flows_back() -> None:
    server = AudioSocketServer()
    await server.start()
    session = uuid.uuid4()
    queue = server.register(str(session))
    reader, writer = await asyncio.open_connection(server.host, server.port)
    try:
        writer.write(frame(KIND_UUID, session.bytes) + frame(KIND_AUDIO, b"\x01\x00" * 160))
        await writer.drain()
        assert await asyncio.wait_for(queue.get(), 5) == b"\x01\x00" * 160
        # Without sending anything more, the PBX side keeps receiving 20 ms silence frames.
        for _ in range(3):
            header = await asyncio.wait_for(reader.readexactly(3), 5)
            assert header[0] == KIND_AUDIO and int.from_bytes(header[1:], "big") == 320
            assert await reader.readexactly(320) == bytes(320)
        writer.write(frame(KIND_HANGUP))
        await writer.drain()
        assert await asyncio.wait_for(queue.get(), 5) is None
    finally:
        writer.close()
        await server.stop()


async def closed_by_server(reader: asyncio.StreamReader) -> bool:
    """True once the server closes: everything it sends until then is silence frames."""
    while True:
        header = await reader.read(3)
        if not header:
            return True
        await reader.readexactly(320)


@pytest.mark.parametrize("first", [
    pytest.param(b"", id="nothing"),
    pytest.param(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", id="garbage"),
    pytest.param(frame(KIND_AUDIO, bytes(320)), id="audio-before-uuid"),
    pytest.param(frame(KIND_UUID, b"12345"), id="short-uuid"),
    pytest.param(frame(KIND_UUID, uuid.uuid4().bytes), id="unknown-session"),
    pytest.param(b"\x01\x00", id="half-a-header-then-quiet"),
])
async def test_a_connection_without_a_valid_session_is_closed_without_traceback(
    first: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    server = AudioSocketServer(handshake_timeout=0.3)
    await server.start()
    # A real session exists: a stranger's frames must not reach it.
    queue = server.register(str(uuid.uuid4()))
    caplog.set_level(logging.DEBUG)
    reader, writer = await asyncio.open_connection(server.host, server.port)
    try:
        writer.write(first)
        await writer.drain()
        assert await asyncio.wait_for(closed_by_server(reader), 10)
    finally:
        writer.close()
        await server.stop()
    assert queue.empty()
    assert not server._connections
    closes = [r for r in caplog.records if "AudioSocket connection from 127.0.0.1" in r.message]
    assert len(closes) == 1 and closes[0].levelno == logging.WARNING
    assert not [r for r in caplog.records if r.exc_info], "a traceback was logged"


async def test_a_silent_client_is_closed_after_the_default_two_seconds() -> None:
    assert HANDSHAKE_TIMEOUT == 2.0
    server = AudioSocketServer()
    await server.start()
    reader, writer = await asyncio.open_connection(server.host, server.port)
    loop = asyncio.get_running_loop()
    start = loop.time()
    try:
        assert await asyncio.wait_for(closed_by_server(reader), 10)
        # Not before: Asterisk itself always gets the whole handshake time.
        assert loop.time() - start >= HANDSHAKE_TIMEOUT - 0.05
    finally:
        writer.close()
        await server.stop()


async def test_one_timer_feeds_silence_to_every_connection() -> None:
    server = AudioSocketServer()
    await server.start()
    conns = []
    try:
        for _ in range(3):
            session = uuid.uuid4()
            server.register(str(session))
            reader, writer = await asyncio.open_connection(server.host, server.port)
            writer.write(frame(KIND_UUID, session.bytes))
            await writer.drain()
            conns.append((reader, writer))
        for reader, _ in conns:
            for _ in range(3):
                header = await asyncio.wait_for(reader.readexactly(3), 5)
                assert header[0] == KIND_AUDIO
                assert await reader.readexactly(320) == bytes(320)
        feeders = [t for t in asyncio.all_tasks() if t.get_name() == "audiosocket-silence"]
        assert len(feeders) == 1
    finally:
        for _, writer in conns:
            writer.close()
        await server.stop()
    assert not [t for t in asyncio.all_tasks() if t.get_name() == "audiosocket-silence"]
