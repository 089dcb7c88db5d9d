"""Stems to a stereo mix, and the mix to a master.

Each stem is set to a common loudness (MIX_REFERENCE_LUFS) plus the style's gain for it, so the
balance does not depend on how loud the SoundFont or the voice came out; then its effects run
(pedalboard, Spotify's wrapper of JUCE): the vocal is high-passed, compressed, given presence and
a room; the chords get a little room of their own. A constant-power pan places each stem. The mix
bus is the plain sum of the processed stems, so the stems a user gets add up to it.

Mastering: a gentle bus compressor, then the loudness target (default -14 LUFS integrated, BS.1770,
measured again after limiting) with a true-peak ceiling (default -1 dBTP) by voicekit.loudness's
look-ahead limiter, linked across the channels.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from voicekit import loudness
from voicekit.loudness import LoudnessTarget

MIX_REFERENCE_LUFS = -20.0
STEM_ORDER = ("vocals", "drums", "bass", "chords")
# A generated backing (MusicGen) is the whole band in one stem: about where the band's three stems
# at their usual levels (-9, -8, -10 dB) sum.
BACKING_DB = -5.0


@dataclass(frozen=True)
class Mix:
    """stems: name -> float32 (n, 2), already levelled, processed and panned; bus: their sum."""

    stems: dict[str, np.ndarray]
    bus: np.ndarray
    sample_rate: int


def mixed(stems: dict[str, np.ndarray], sample_rate: int, gains_db: dict[str, float], pans: dict[str, float]) -> Mix:
    """stems: name -> float32 mono (n,) or stereo (n, 2), all the same length."""
    out: dict[str, np.ndarray] = {}
    for name, audio in stems.items():
        stereo = audio if audio.ndim == 2 else np.repeat(audio[:, None], 2, axis=1)
        level = loudness.loudness_lufs(stereo, sample_rate)
        gain = 0.0 if not math.isfinite(level) else MIX_REFERENCE_LUFS + gains_db.get(name, BACKING_DB if name == "backing" else -10.0) - level
        processed = _effects(name, stereo.astype(np.float32) * np.float32(10 ** (gain / 20)), sample_rate)
        out[name] = _panned(processed, pans.get(name, 0.0))
    bus = np.sum(list(out.values()), axis=0).astype(np.float32)
    return Mix(out, bus, sample_rate)


def _effects(name: str, stereo: np.ndarray, sample_rate: int) -> np.ndarray:
    from pedalboard import Compressor, HighpassFilter, Pedalboard, PeakFilter, Reverb

    if name == "vocals":
        board = Pedalboard([HighpassFilter(cutoff_frequency_hz=90), Compressor(threshold_db=-24, ratio=3,
                            attack_ms=5, release_ms=90), PeakFilter(cutoff_frequency_hz=3200, gain_db=2.0, q=0.8),
                            Reverb(room_size=0.35, damping=0.5, wet_level=0.16, dry_level=0.9, width=1.0)])
    elif name == "chords":
        board = Pedalboard([Reverb(room_size=0.45, damping=0.6, wet_level=0.2, dry_level=0.85, width=1.0)])
    elif name == "bass":
        board = Pedalboard([Compressor(threshold_db=-22, ratio=2.5, attack_ms=15, release_ms=120)])
    else:
        return stereo
    return board(stereo.T.copy(), sample_rate, reset=True).T.astype(np.float32)


def _panned(stereo: np.ndarray, pan: float) -> np.ndarray:
    """Constant-power pan (-1 left .. 1 right); the centre leaves the stem as it is."""
    angle = (pan + 1.0) * math.pi / 4
    gains = np.array([math.cos(angle), math.sin(angle)], np.float32) * np.float32(math.sqrt(2))
    return stereo * gains


def mastered(bus: np.ndarray, sample_rate: int, target: LoudnessTarget) -> np.ndarray:
    """The master: glue compression, then the loudness target and true-peak ceiling."""
    from pedalboard import Compressor, Pedalboard

    glued = Pedalboard([Compressor(threshold_db=-18, ratio=2, attack_ms=25, release_ms=200)])(
        bus.T.copy(), sample_rate, reset=True).T
    return loudness.normalized(glued, sample_rate, target, relevel=True)
