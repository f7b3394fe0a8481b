"""The flows' voice: catalog prompts built ahead, dynamic answers synthesised at call time."""

from __future__ import annotations

from app.tts.catalog import load_catalog
from app.tts.synth import media_uri, media_uri_for_file, synthesize


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

    async def text_media(self, text: str, lang: str) -> str:
        # Synthesis runs off the event loop and is cached by text, so repeats cost nothing.
        return media_uri_for_file(await synthesize(text, lang))
