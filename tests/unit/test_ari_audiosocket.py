"""The AudioSocket server: audio frames reach the session's queue, and the PBX side always has
something to read (Asterisk's AudioSocket channel holds its lock while it waits for input)."""

from __future__ import annotations

import asyncio
import uuid

from app.ari_handlers.audiosocket import KIND_AUDIO, KIND_HANGUP, KIND_UUID, AudioSocketServer


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
