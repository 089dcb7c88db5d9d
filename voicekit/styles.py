"""Speaking styles: named presets of how a voice delivers, on top of any voice and any SSML prosody.

Each style sets pitch level (semitones) and range (a factor on f0's movement around the sentence
mean), rate, energy (loudness, plus spectral tilt: brighter when energetic), and breathiness (the
level of the vocoder's noise branch); `whisper` removes voicing altogether, so every frame is
shaped noise. They act where prosody acts: in heart's vocoder frames, or in WORLD's analysis for
other engines. bench/expressive.py measures what each one does to the audio.
"""
from __future__ import annotations

from dataclasses import dataclass

from voicekit.errors import BadInput


@dataclass(frozen=True)
class Style:
    name: str
    summary: str
    pitch_st: float = 0.0  # added to every voiced frame
    pitch_range: float = 1.0  # factor on log-f0's deviations from the sentence mean
    rate: float = 1.0  # speed factor
    energy_db: float = 0.0  # loudness gain
    tilt_db: float = 0.0  # gain at 3 and 7 kHz: positive is brighter
    breath_db: float = 0.0  # gain of the noise (aperiodic) part
    whisper: bool = False  # no voicing: f0 removed, the harmonic envelope carried by noise

    @property
    def neutral(self) -> bool:
        return self == NEUTRAL

    def as_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items()}


NEUTRAL = Style("neutral", "the voice as it is")
STYLES: dict[str, Style] = {s.name: s for s in (
    NEUTRAL,
    Style("calm", "slower, lower and flatter, softer and breathier", pitch_st=-1.0, pitch_range=0.7, rate=0.9,
          energy_db=-3.0, tilt_db=-2.0, breath_db=3.0),
    Style("cheerful", "higher, livelier melody, a little faster and brighter", pitch_st=2.0, pitch_range=1.35,
          rate=1.06, energy_db=1.0, tilt_db=1.5),
    Style("serious", "lower and steadier, slightly slower, darker", pitch_st=-2.0, pitch_range=0.8, rate=0.94,
          tilt_db=-1.0),
    Style("excited", "much higher and wider, faster, louder and brighter", pitch_st=3.5, pitch_range=1.6, rate=1.14,
          energy_db=3.0, tilt_db=3.0),
    Style("whisper", "unvoiced: no pitch at all, quieter and a little slower", rate=0.95, energy_db=-6.0,
          whisper=True),
)}


def style(name: str | None) -> Style:
    """The named style (None: neutral); raises BadInput naming the styles there are."""
    if name is None:
        return NEUTRAL
    if name not in STYLES:
        raise BadInput(f"unknown style {name!r}; use one of: {', '.join(STYLES)}")
    return STYLES[name]
