"""A checked speech request: the text made a plan, every voice it names verified (signed record,
revocation, expiry, scope) and allowed to the caller, with its engine and lexicon; checked again
before every stream chunk and chapter, so a revocation, an expiry or a revoked key takes effect
within one chunk."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from typing import Any, Protocol

from consent.errors import UnknownVoice
from consent.profiles import VoiceProfile
from consent.registry import Registry
from voicekit import loudness
from voicekit.engines.base import Engine
from voicekit.errors import BadInput, EmptyText, TooLong
from voicekit.studio.options import SpeechOptions
from voicekit.styles import Style, style
from voicekit.text.lexicon import Lexicon
from voicekit.text.say_as import long_numbers
from voicekit.text.ssml import Pause, Speech, plain_plan
from voicekit.text.ssml import parse as ssml_plan

MAX_TEXT_CHARS = 100_000
MAX_RENDERED_S = 1800.0  # seconds of audio one request (or one chapter part) may render


class Caller(Protocol):
    """Who is asking, where it matters (the HTTP service): which voices they may use. None (the
    Python API and the CLI) means the installation's owner, who may use every registered voice."""

    def allows(self, voice_id: str) -> bool:
        """May this caller use the voice? May raise a ConsentError of its own (a revoked key)."""
        ...

    def voices(self) -> list[str]:
        """The enrolled profiles this caller may use (named in a refusal, never anyone else's)."""
        ...


@dataclass(frozen=True)
class Request:
    """What to say (the plan) and how (options), every voice in it verified, with its engine."""

    text: str
    voice: str
    options: SpeechOptions
    plan: list
    profiles: dict[str, VoiceProfile]
    engines: dict[str, Engine]
    lexicons: dict[str, Lexicon]
    style: Style
    caller: Caller | None = None

    @property
    def loudness(self) -> loudness.LoudnessTarget:
        return loudness.preset(self.options.loudness)

    def provenance(self, mark_id: int, watermark: str, key_id: str) -> dict[str, Any]:
        """The ledger body's fields that describe the request (the release adds the audio's)."""
        engine = self.engines[self.voice]
        return {
            "mark_id": mark_id,
            "voice": self.voice,
            "clone_with": self.options.clone_with,
            "voice_record_sha256": hashlib.sha256(self.profiles[self.voice].canonical()).hexdigest(),
            "other_voices": {v: hashlib.sha256(p.canonical()).hexdigest()
                             for v, p in self.profiles.items() if v != self.voice},
            "engine": engine.name,
            "model": engine.model_version,
            "style": self.style.name,
            "lexicon_sha256": {v: lex.sha256 for v, lex in self.lexicons.items() if len(lex)},
            "text_sha256": hashlib.sha256(self.text.encode("utf-8")).hexdigest(),
            "sample_rate": self.options.sample_rate,
            "loudness": self.request_loudness(),
            "watermark": watermark,
            "watermark_key": key_id,
        }

    def request_loudness(self) -> dict[str, float | str]:
        target = self.loudness
        return {"preset": target.name, "lufs": target.lufs + self.style.energy_db, "ceiling_dbtp": target.ceiling_dbtp}


def planned(text: str, options: SpeechOptions) -> tuple[list, Style]:
    """The text as a plan of speech, pauses and marks under the options' prosody and style;
    raises BadInput (SsmlError, EmptyText, TooLong) before anything renders."""
    check_text(text)
    chosen = style(options.style)
    plan = ssml_plan(text) if options.ssml else plain_plan(text)
    plan = [replace(i, prosody=i.prosody.combined(options.speed * chosen.rate, options.semitones + chosen.pitch_st,
                                                  volume_db=chosen.energy_db))
            if isinstance(i, Speech) else i for i in plan]
    if not any(isinstance(i, Speech) for i in plan):
        raise EmptyText("the SSML has nothing to say; give at least one word outside the markup")
    for item in plan:
        if isinstance(item, Speech):
            long_numbers(item.text)  # refuses an unreadably long number before anything renders
    paused = sum(i.seconds for i in plan if isinstance(i, Pause))
    if paused > MAX_RENDERED_S:
        raise TooLong(f"the breaks alone last {paused:.0f} s; one request renders at most {MAX_RENDERED_S:.0f} s "
                      "(send books to the audiobook route)")
    return plan, chosen


def voices_of(voice: str, plan: list) -> list[str]:
    """The request's voice and every voice its SSML names, each once, in order."""
    return list(dict.fromkeys([voice, *(i.voice for i in plan if isinstance(i, Speech) and i.voice)]))


def checked_voice(registry: Registry, voice: str, now: float, caller: Caller | None, scope: str = "tts"
                  ) -> VoiceProfile:
    """The verified, active record of `voice`, which the caller may use. A voice the caller may
    not use is refused exactly as a voice that does not exist (UnknownVoice listing only the
    caller's own), before its state is looked at, so a refusal never tells a caller that someone
    else's profile exists, was revoked or expired."""
    if caller is not None and not caller.allows(voice):
        raise UnknownVoice(voice, registry.shared_voices() + caller.voices())
    try:
        return registry.check_at(voice, now=now, scope=scope)
    except UnknownVoice:
        if caller is None:
            raise
        raise UnknownVoice(voice, registry.shared_voices() + caller.voices()) from None


def check_text(text: str) -> None:
    if not isinstance(text, str) or not text.strip():
        raise EmptyText("the text is empty; give at least one word to speak")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as e:
        raise BadInput(f"the text holds an unpaired surrogate (U+{ord(text[e.start]):04X}) at character {e.start}; "
                       "send valid Unicode") from e
    if len(text) > MAX_TEXT_CHARS:
        raise TooLong(f"the text has {len(text)} characters; one request may have {MAX_TEXT_CHARS} "
                      "(send books to the audiobook route)")

