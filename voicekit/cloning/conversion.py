"""A voice conversion small enough to sign: a few numbers that move a base voice towards a person.

Pitch (log-f0 shift and range), vocal-tract length (frequency warping of the spectral envelopes),
the average envelope (a measured 24-band correction plus a fitted four-band equaliser) and
breathiness (the noise branch's level). They act on
hibari's vocoder parameters (`heart`), before the waveform exists, so conversion costs little more
than synthesis: each 12.5 ms frame has a harmonic envelope, a noise envelope and a free-phase
envelope of 601 bins (0-12 kHz, 20 Hz apart), and an f0.
"""
from __future__ import annotations

from dataclasses import dataclass, fields, replace
from functools import lru_cache
from typing import Any

import numpy as np

from voicekit.cloning.classes import SoundClasses, band_matrix, shape, spread_matrix

BINS = 601
BIN_HZ = 20.0
EQ_CENTRES_HZ = (250.0, 1000.0, 3000.0, 7000.0)
ENVELOPE_BANDS = 24
ENVELOPE_RANGE_HZ = (100.0, 8000.0)
VOICED_HZ = 40.0
_NEPER_PER_DB = np.log(10) / 20


@dataclass(frozen=True)
class VoiceConversion:
    """f0_shift: semitones added to every voiced frame's log-f0. f0_range: factor on log-f0's
    deviations from the sentence mean. warp: envelope frequency scale (1.1 = formants 10 % higher,
    a shorter vocal tract). eq_*_db: gains at 250 Hz, 1, 3 and 7 kHz, interpolated on log-frequency.
    breath_db: gain of the noise branch (aperiodicity). envelope_db: measured gains at
    ENVELOPE_BANDS mel-spaced centres (envelope_centres_hz), or () for none; not searched.
    classes: frame-level corrections by class of sound, or None; not searched."""

    f0_shift: float = 0.0
    f0_range: float = 1.0
    warp: float = 1.0
    eq_250_db: float = 0.0
    eq_1k_db: float = 0.0
    eq_3k_db: float = 0.0
    eq_7k_db: float = 0.0
    breath_db: float = 0.0
    envelope_db: tuple[float, ...] = ()
    classes: SoundClasses | None = None

    def as_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {name: round(float(getattr(self, name)), 4) for name in SEARCHED}
        d["envelope_db"] = [round(float(x), 2) for x in self.envelope_db]
        if self.classes is not None:
            d["classes"] = self.classes.as_dict()
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "VoiceConversion":
        classes = SoundClasses.from_dict(d["classes"]) if d.get("classes") else None
        return cls(**{name: float(d[name]) for name in SEARCHED},
                   envelope_db=tuple(float(x) for x in d.get("envelope_db", ())), classes=classes)

    def vector(self) -> np.ndarray:
        """The searched parameters (not the measured envelope)."""
        return np.array([getattr(self, name) for name in SEARCHED], np.float64)

    def with_vector(self, v: np.ndarray) -> "VoiceConversion":
        return replace(self, **{name: float(x) for name, x in zip(SEARCHED, v)})

    def blended(self, share: float) -> "VoiceConversion":
        """`share` of the way from no conversion to this one (0 = identity, 1 = self)."""
        identity = VoiceConversion()
        return replace(identity.with_vector(identity.vector() * (1 - share) + self.vector() * share),
                       envelope_db=tuple(share * x for x in self.envelope_db),
                       classes=None if self.classes is None else self.classes.scaled(share))


SEARCHED = tuple(f.name for f in fields(VoiceConversion) if f.name not in ("envelope_db", "classes"))


def envelope_centres_hz() -> np.ndarray:
    """ENVELOPE_BANDS centres evenly spaced on the mel scale over ENVELOPE_RANGE_HZ."""
    mel = np.linspace(*(2595 * np.log10(1 + np.array(ENVELOPE_RANGE_HZ) / 700)), ENVELOPE_BANDS)
    return 700 * (10 ** (mel / 2595) - 1)


def _eq_gain(c: VoiceConversion, freqs_hz: np.ndarray) -> np.ndarray:
    """Per-bin gain in nepers (natural-log amplitude), shape [bins, 1]."""
    freqs = np.maximum(freqs_hz, EQ_CENTRES_HZ[0])
    db = np.interp(np.log(freqs), np.log(EQ_CENTRES_HZ), [c.eq_250_db, c.eq_1k_db, c.eq_3k_db, c.eq_7k_db])
    if c.envelope_db:
        db = db + np.interp(freqs_hz, envelope_centres_hz(), c.envelope_db)
    return (db * _NEPER_PER_DB).astype(np.float32)[:, None]


def _warp(envelope: np.ndarray, factor: float) -> np.ndarray:
    """Stretch [bins, F] (bins linear in frequency from 0 Hz) along frequency: the value at bin k
    moves to bin k * factor."""
    if abs(factor - 1.0) < 1e-4:
        return envelope
    bins = envelope.shape[0]
    source = np.arange(bins) / factor
    low = np.clip(np.floor(source).astype(int), 0, bins - 1)
    high = np.clip(low + 1, 0, bins - 1)
    frac = (np.clip(source, 0, bins - 1) - low)[:, None].astype(np.float32)
    return envelope[low] * (1 - frac) + envelope[high] * frac


def convert_f0(f0: np.ndarray, c: VoiceConversion) -> np.ndarray:
    """f0 in Hz per frame ([F]); unvoiced frames (below 40 Hz) are left alone."""
    voiced = f0 > VOICED_HZ
    if not voiced.any():
        return f0
    log_f0 = np.log(f0[voiced])
    mean = log_f0.mean()
    out = f0.copy()
    out[voiced] = np.exp(mean + c.f0_shift * np.log(2) / 12 + (log_f0 - mean) * c.f0_range)
    return out.astype(np.float32)


def convert_vocoder_frames(frames: tuple[np.ndarray, ...], c: VoiceConversion) -> tuple[np.ndarray, ...]:
    """hibari's (lh, th, ln, lr, phi, f0): log-magnitude envelopes [601, F] in nepers, f0 [F] in Hz."""
    if c == VoiceConversion():
        return frames
    lh, th, ln, lr, phi, f0 = frames
    gain = _eq_gain(c, np.arange(BINS) * BIN_HZ)
    if c.classes is not None:
        gain = gain + _class_gain(c.classes, vocoder_features(frames), f0 > VOICED_HZ,
                                  np.arange(BINS) * BIN_HZ) * np.float32(_NEPER_PER_DB)
    lh = _warp(lh, c.warp) + gain
    ln = _warp(ln, c.warp) + gain + np.float32(c.breath_db * _NEPER_PER_DB)
    lr = _warp(lr, c.warp) + gain
    return lh, _warp(th, c.warp), ln, lr, phi, convert_f0(f0, c)


@lru_cache(maxsize=8)
def _matrices(bins: int, top_hz: float) -> tuple[np.ndarray, np.ndarray]:
    freqs = np.linspace(0, top_hz, bins)
    return band_matrix(freqs, envelope_centres_hz()), spread_matrix(freqs, envelope_centres_hz())


def vocoder_features(frames: tuple[np.ndarray, ...]) -> np.ndarray:
    """[F, bands] spectral shape (dB) of hibari's frames, from the harmonic envelope."""
    to_bands, _ = _matrices(BINS, (BINS - 1) * BIN_HZ)
    return shape((frames[0].T * (20 / np.log(10))) @ to_bands)


def world_features(sp: np.ndarray, sample_rate: int) -> np.ndarray:
    """[T, bands] spectral shape (dB) of a WORLD envelope [T, bins] (power)."""
    to_bands, _ = _matrices(sp.shape[1], sample_rate / 2)
    return shape((10 * np.log10(np.maximum(sp, 1e-16))) @ to_bands)


def _class_gain(classes: SoundClasses, features: np.ndarray, voiced: np.ndarray, freqs_hz: np.ndarray) -> np.ndarray:
    """[bins, F] dB of the class corrections."""
    _, to_bins = _matrices(len(freqs_hz), float(freqs_hz[-1]))
    return (classes.frame_corrections_db(features, voiced) @ to_bins).T.astype(np.float32)


def convert_world(f0: np.ndarray, sp: np.ndarray, ap: np.ndarray, sample_rate: int,
                  c: VoiceConversion) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """WORLD's analysis (f0 [T] Hz, spectral envelope sp and aperiodicity ap [T, bins], power and
    ratio) converted the same way, for engines whose internals we cannot reach."""
    if c == VoiceConversion():
        return f0, sp, ap
    freqs = np.linspace(0, sample_rate / 2, sp.shape[1])
    gain = _eq_gain(c, freqs)[:, 0].astype(np.float64)
    if c.classes is not None:
        gain = gain[None, :] + _class_gain(c.classes, world_features(sp, sample_rate), f0 > VOICED_HZ, freqs).T \
            * _NEPER_PER_DB
    log_sp = _warp(np.log(np.maximum(sp, 1e-16)).T, c.warp).T + 2 * gain
    breath = 2 * c.breath_db * _NEPER_PER_DB
    ap = np.clip(_warp(ap.T, c.warp).T * np.exp(breath), 1e-3, 1 - 1e-3)
    f0 = convert_f0(f0.astype(np.float32), c).astype(np.float64)
    return f0, np.ascontiguousarray(np.exp(log_sp)), np.ascontiguousarray(ap)
