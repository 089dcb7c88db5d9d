"""Stored pronunciation lexicons: a global one and one per voice, under <home>/lexicons, applied
to every later request (a request's own lexicon goes over them)."""
from __future__ import annotations

from pathlib import Path

from consent.atomic import atomic_write
from voicekit.text.lexicon import Lexicon


class StoredLexicons:
    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def for_voice(self, voice: str) -> Lexicon:
        """The global lexicon with the voice's own over it."""
        return self._stored(None).merged(self._stored(voice))

    def store(self, lexicon: Lexicon | None, voice: str | None) -> None:
        """Write (None: remove) the global lexicon or one voice's, atomically."""
        path = self._path(voice)
        if lexicon is None:
            path.unlink(missing_ok=True)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write(path, lexicon.to_json().encode("utf-8"))

    def _stored(self, voice: str | None) -> Lexicon:
        path = self._path(voice)
        return Lexicon.from_json(path.read_text(encoding="utf-8")) if path.exists() else Lexicon()

    def _path(self, voice: str | None) -> Path:
        return self.folder / ("global.json" if voice is None else f"voice-{voice.replace(':', '-')}.json")
