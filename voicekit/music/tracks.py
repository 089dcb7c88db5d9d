"""MIDI notes as the band plays them: what arrange writes, synth plays and scorefile reads."""
from __future__ import annotations

from dataclasses import dataclass

DRUM_CHANNEL = 9


@dataclass(frozen=True)
class Hit:
    """One MIDI note: start and length in beats."""

    start: float
    length: float
    pitch: int
    velocity: int


@dataclass(frozen=True)
class Track:
    """stem: which mixed stem it plays in (drums, bass, chords); program: General MIDI (ignored for drums)."""

    name: str
    stem: str
    channel: int
    program: int
    hits: tuple[Hit, ...]
