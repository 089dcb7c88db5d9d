"""Output loudness: every release is set to a loudness target with a true-peak ceiling, so voices
match each other (heart renders near -26 LUFS, joe near -19) and nothing reaches full scale.

Loudness is ITU-R BS.1770 integrated loudness (pyloudnorm); true peak is the peak of the signal
oversampled 4x (BS.1770's method), so inter-sample overs that a decoder or resampler would
produce count too. Peaks over the ceiling are brought down by a look-ahead peak limiter, which
touches only the milliseconds around each peak: pedalboard's (JUCE's) limiter was tried and
compresses whole words, shrinking a -6 dB SSML volume change to -4.1 dB, so it is not used.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pyloudnorm
from scipy.ndimage import minimum_filter1d, uniform_filter1d
from scipy.signal import resample_poly

from voicekit.errors import BadInput

MIN_MEASURED_S = 0.4  # BS.1770's gating block; shorter audio is measured by its RMS level
MAX_GAIN_DB = 30.0  # near-silence is not pumped up into noise
LIMITER_PASSES = 3
LOOKAHEAD_S = 0.01  # the limiter's gain starts falling this long before a peak and recovers as fast


@dataclass(frozen=True)
class LoudnessTarget:
    """lufs: integrated loudness of the released audio; ceiling_dbtp: its true peak at most."""

    name: str
    lufs: float
    ceiling_dbtp: float

    def __post_init__(self) -> None:
        if not -40.0 <= self.lufs <= -10.0:
            raise BadInput(f"loudness target {self.lufs:g} LUFS is outside -40..-10")
        if not -12.0 <= self.ceiling_dbtp <= -0.5:
            raise BadInput(f"true-peak ceiling {self.ceiling_dbtp:g} dBTP is outside -12..-0.5")


# speech: a clear level for apps and players (EBU R128 streaming practice, -1 dBTP);
# acx: audiobook platforms (ACX: RMS -23..-18 dB, peaks at most -3 dB): -20 LUFS speech is
# RMS -19.5..-21.5 dB here, and -3.5 dBTP leaves the encoder's overshoot room.
PRESETS = {
    "speech": LoudnessTarget("speech", -18.0, -1.0),
    "acx": LoudnessTarget("acx", -20.0, -3.5),
}
DEFAULT = PRESETS["speech"]


def preset(name: str | None) -> LoudnessTarget:
    """A named preset (None: speech); raises BadInput for an unknown name."""
    if name is None:
        return DEFAULT
    if name not in PRESETS:
        raise BadInput(f"loudness preset {name!r} is not one of {', '.join(PRESETS)}")
    return PRESETS[name]


def loudness_lufs(samples: np.ndarray, sample_rate: int) -> float:
    """Integrated loudness of float32 mono samples; -inf for silence."""
    x = np.asarray(samples, np.float64)
    if len(x) < MIN_MEASURED_S * sample_rate:
        power = float(np.mean(x**2)) if len(x) else 0.0
        return -math.inf if power <= 0 else 10 * math.log10(power) - 0.691
    return float(pyloudnorm.Meter(sample_rate).integrated_loudness(x))


def true_peak_dbtp(samples: np.ndarray) -> float:
    """The peak of the 4x-oversampled signal in dB (0 = full scale); -inf for silence."""
    if not len(samples):
        return -math.inf
    peak = float(np.max(np.abs(resample_poly(np.asarray(samples, np.float64), 4, 1))))
    return 20 * math.log10(peak) if peak > 0 else -math.inf


def gain_for(samples: np.ndarray, sample_rate: int, target: LoudnessTarget, offset_db: float = 0.0) -> float:
    """The gain (dB) that brings `samples` to the target plus `offset_db` (a style's energy):
    0 for silence, at most MAX_GAIN_DB."""
    measured = loudness_lufs(samples, sample_rate)
    if not math.isfinite(measured):
        return 0.0
    return min(MAX_GAIN_DB, target.lufs + offset_db - measured)


def normalized(samples: np.ndarray, sample_rate: int, target: LoudnessTarget, offset_db: float = 0.0,
               gain_db: float | None = None) -> np.ndarray:
    """float32 mono at the target loudness (plus `offset_db`) with true peaks at most the ceiling.

    gain_db: use this gain instead of measuring (a stream keeps its first chunk's gain, so a
    quiet sentence stays quiet); the ceiling is kept either way."""
    x = np.asarray(samples, np.float64)
    gain = gain_for(x, sample_rate, target, offset_db) if gain_db is None else gain_db
    x = x * 10 ** (gain / 20)
    for _ in range(LIMITER_PASSES):
        if true_peak_dbtp(x) <= target.ceiling_dbtp:
            return x.astype(np.float32)
        x = _limited(x, sample_rate, target.ceiling_dbtp - 0.1)
        if gain_db is None:  # the limiter changes the level a little: set it again
            x = x * 10 ** (gain_for(x, sample_rate, target, offset_db) / 20)
    over = true_peak_dbtp(x) - target.ceiling_dbtp
    return (x * 10 ** (-max(0.0, over) / 20)).astype(np.float32)


def within_ceiling(samples: np.ndarray, sample_rate: int, ceiling_dbtp: float) -> np.ndarray:
    """float32 mono with its true peaks at most `ceiling_dbtp`, changed only around the peaks over
    it (the release applies this after the watermark, whose residual adds peaks of its own)."""
    x = np.asarray(samples, np.float64)
    for _ in range(LIMITER_PASSES):
        if true_peak_dbtp(x) <= ceiling_dbtp:
            break
        x = _limited(x, sample_rate, ceiling_dbtp - 0.1)
    over = true_peak_dbtp(x) - ceiling_dbtp
    return (x * 10 ** (-max(0.0, over) / 20)).astype(np.float32)


def _limited(x: np.ndarray, sample_rate: int, ceiling_db: float) -> np.ndarray:
    """Peaks (true peaks: of the 4x-oversampled signal) over `ceiling_db` brought down to it.

    The gain each sample needs is held for LOOKAHEAD_S around it (a minimum filter) and then
    smoothed by a moving average half as wide, so the gain glides down before a peak and back
    after it, and never exceeds what any sample in reach needs."""
    oversampled = np.abs(resample_poly(x, 4, 1))[: 4 * len(x)]
    envelope = oversampled.reshape(len(x), 4).max(axis=1)
    needed = np.minimum(1.0, 10 ** (ceiling_db / 20) / np.maximum(envelope, 1e-12))
    reach = max(1, round(LOOKAHEAD_S * sample_rate))
    gain = uniform_filter1d(minimum_filter1d(needed, 2 * reach + 1), reach + 1)
    return x * gain
