"""The one engine protocol: a sentence in, float32 mono samples at the engine's own rate out, and
what else the engine can do, declared in its `capabilities` (never probed for)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from voicekit.timing import WordTiming


@dataclass(frozen=True)
class Capabilities:
    """thread_safe: may render for several threads at once (no state shared between calls; an
    engine behind espeak-ng's process-wide phonemiser is not). inline_phonemes: the notation of
    pronunciations it takes inside its text ("misaki": [word](/phonemes/); "espeak": [[ ]]), or None.
    word_durations: `synthesize_timed` gives each word's start and end from the model itself.
    vocoder_frames: `timed_frames` and `render` expose frames (f0, envelope) before the
    waveform, where pitch, pace and timbre are changed without resynthesis (voicekit.prosody).
    phoneme_spans: `phoneme_spans` gives each spoken phoneme's samples (what singing through
    WORLD needs, voicekit.singing)."""

    thread_safe: bool = False
    inline_phonemes: str | None = None
    word_durations: bool = False
    vocoder_frames: bool = False
    phoneme_spans: bool = False


class Engine(Protocol):
    name: str
    sample_rate: int  # Hz of what synthesize returns
    licence: str
    capabilities: Capabilities

    @property
    def model_version(self) -> str:
        """Names the exact model files, recorded in every output's provenance."""
        ...

    def synthesize(self, sentence: str) -> np.ndarray:
        """One sentence (or clause) -> float32 mono samples in [-1, 1] at self.sample_rate."""
        ...


class TimedEngine(Engine, Protocol):
    """An engine with `capabilities.word_durations`."""

    def synthesize_timed(self, sentence: str) -> tuple[np.ndarray, list[WordTiming] | None]:
        """Samples as `synthesize`, and when each word is heard in them (None when no word's
        phonemes could be found in what was spoken)."""
        ...
