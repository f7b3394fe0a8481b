"""The flows' voice: catalog prompts built ahead, dynamic answers synthesised at call time."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from pathlib import Path

from app.tts.catalog import load_catalog
from app.tts.synth import media_uri, media_uri_for_file, synthesize
from app.tts.text import first_phrase


class TtsVoice:
    def __init__(self) -> None:
        # A catalog prompt's place does not change while the platform runs, and every menu
        # step asks for one: worked out once.
        self._media: dict[tuple[str, str], str] = {}

    def prompt_media(self, prompt_id: str, lang: str) -> str:
        key = (prompt_id, lang)
        if (found := self._media.get(key)) is None:
            found = self._media[key] = media_uri(prompt_id, lang)
        return found

    def prompt_text(self, prompt_id: str, lang: str) -> str:
        return load_catalog().text(prompt_id, lang)

    async def text_parts(self, text: str, lang: str) -> AsyncGenerator[str, None]:
        """Media for text, in parts to play one after the other: the first phrase is spoken
        first, and the rest is made while it plays. Synthesis runs off the event loop and is
        cached by text (per part), so repeats cost nothing."""
        parts = first_phrase(text)
        first = await synthesize(parts[0], lang)
        rest: asyncio.Task[Path] | None = None
        if len(parts) > 1:
            rest = asyncio.create_task(synthesize(parts[1], lang))
            # A caller who hangs up or presses a key first never awaits it; it still fills
            # the cache, and its error is not left unretrieved.
            rest.add_done_callback(lambda t: t.cancelled() or t.exception())
        yield media_uri_for_file(first)
        if rest is not None:
            yield media_uri_for_file(await rest)
