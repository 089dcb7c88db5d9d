"""Output loudness: every release is set to a loudness target with a true-peak ceiling, so voices
match each other (heart renders near -26 LUFS, joe near -19) and nothing reaches full scale.

Loudness is ITU-R BS.1770 integrated loudness (pyloudnorm); true peak is the peak of the signal
oversampled 4x by a 48-tap interpolator (BS.1770's method), so inter-sample overs that a decoder
or resampler would produce count too. Only the samples within 4 dB of the level in question are
interpolated (an inter-sample peak sits next to a large sample), which makes the check about 20x
cheaper than oversampling the whole signal. Peaks over the ceiling are brought down by a look-ahead peak limiter, which
touches only the milliseconds around each peak: pedalboard's (JUCE's) limiter was tried and
compresses whole words, shrinking a -6 dB SSML volume change to -4.1 dB, so it is not used.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from voicekit.errors import BadInput

_ABSOLUTE_GATE = -70.0  # LUFS
MAX_GAIN_DB = 30.0  # near-silence is not pumped up into noise
LIMITER_PASSES = 2
RELEVEL_BELOW_S = 10.0
RELEVEL_PASSES = 4
HEADROOM_PEAK = 0.5  # samples are scaled below this before the mark is added, so it cannot clip
_NEAR_DB = 4.0  # samples this close to the level in question are interpolated
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
    # music: a song's master, at the level streaming services normalise to (-14 LUFS, -1 dBTP)
    "music": LoudnessTarget("music", -14.0, -1.0),
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
    """Integrated loudness (ITU-R BS.1770-4) of float32 samples, mono (n,) or stereo (n, 2); -inf for silence.

    pyloudnorm's K-weighting filters (its IIRfilter, the standard's shelf and high-pass), with
    the gating computed on cumulative sums: pyloudnorm's own meter walks its 400 ms blocks in
    Python, which was most of the loudness stage's cost. Same values (within 0.05 LU on speech of
    a few seconds, tests/voicekit/test_release.py), about 3x faster, with one difference: only
    whole blocks count, as the standard has it, where pyloudnorm also counts a last partial block
    as if the rest of it were silence (0.6 LU lower on a one-second clip)."""
    x = np.asarray(samples, np.float64)
    x = x[:, None] if x.ndim == 1 else x  # channels summed with weight 1 (BS.1770's left and right)
    block, step = round(0.4 * sample_rate), round(0.1 * sample_rate)
    if len(x) < block:
        power = float(np.sum(np.mean(x**2, axis=0))) if len(x) else 0.0
        return -math.inf if power <= 0 else 10 * math.log10(power) - 0.691
    from scipy.signal import sosfilt  # scipy.signal and pyloudnorm take ~1 s to import: not for every CLI command

    weighted = sosfilt(_k_weighting(sample_rate), x, axis=0)
    energy = np.concatenate([[0.0], np.cumsum(np.sum(weighted**2, axis=1))])
    starts = np.arange(0, len(x) - block + 1, step)
    blocks = (energy[starts + block] - energy[starts]) / block
    with np.errstate(divide="ignore"):
        levels = -0.691 + 10 * np.log10(blocks)
    audible = blocks[levels >= _ABSOLUTE_GATE]
    if not len(audible):
        return -math.inf
    relative = -0.691 + 10 * math.log10(float(np.mean(audible))) - 10
    gated = blocks[(levels > relative) & (levels >= _ABSOLUTE_GATE)]
    return -0.691 + 10 * math.log10(float(np.mean(gated)))


@lru_cache(maxsize=1)
def _phases() -> np.ndarray:
    """The 4x oversampling filter by phase [phase, tap]: h[4j + k]."""
    from scipy.signal import firwin

    return (firwin(48, 0.25, window=("kaiser", 5.0)) * 4).reshape(12, 4).T


@lru_cache(maxsize=16)
def _k_weighting(sample_rate: int) -> np.ndarray:
    import pyloudnorm
    from scipy.signal import tf2sos

    shelf = pyloudnorm.IIRfilter(4.0, 1 / np.sqrt(2), 1500.0, sample_rate, "high_shelf")
    high_pass = pyloudnorm.IIRfilter(0.0, 0.5, 38.0, sample_rate, "high_pass")
    return np.vstack([tf2sos(shelf.b, shelf.a), tf2sos(high_pass.b, high_pass.a)])


def true_peak_dbtp(samples: np.ndarray) -> float:
    """The peak of the 4x-oversampled signal (any channel) in dB (0 = full scale); -inf for silence."""
    x = np.asarray(samples, np.float64)
    if not len(x) or not np.any(x):
        return -math.inf
    peak = float(np.max(_linked_envelope(x, float(np.max(np.abs(x))) * 10 ** (-_NEAR_DB / 20))))
    return 20 * math.log10(peak)


def _linked_envelope(x: np.ndarray, near: float) -> np.ndarray:
    """`_envelope` of mono samples, or the largest of the channels' envelopes (n, channels)."""
    if x.ndim == 1:
        return _envelope(x, near)
    return np.max([_envelope(np.ascontiguousarray(x[:, c]), near) for c in range(x.shape[1])], axis=0)


def _envelope(x: np.ndarray, near: float) -> np.ndarray:
    """|x|, with each sample at or above `near` replaced by the largest interpolated magnitude
    between it and its neighbours (4 phases of the interpolator at three positions around it)."""
    envelope = np.abs(x)
    candidates = np.flatnonzero(envelope >= near)
    if not len(candidates):
        return envelope
    padded = np.pad(x, (11, 8))
    at = candidates[:, None] + np.array([5, 6, 7])[None, :]  # the filter's delay is about 6 samples
    windows = padded[at[..., None] + 11 - np.arange(12)]  # x[n - j], j = 0..11
    interpolated = np.abs(windows @ _phases().T).max(axis=(1, 2))
    envelope[candidates] = np.maximum(envelope[candidates], interpolated)
    return envelope


def headroom(samples: np.ndarray) -> np.ndarray:
    """float32 scaled (only down) so its sample peak is at most HEADROOM_PEAK: the watermark's
    residual is added at any level and must not clip; the level is set after it."""
    peak = float(np.max(np.abs(samples))) if len(samples) else 0.0
    x = np.asarray(samples, np.float32)
    return x * np.float32(HEADROOM_PEAK / peak) if peak > HEADROOM_PEAK else x


def gain_for(samples: np.ndarray, sample_rate: int, target: LoudnessTarget, offset_db: float = 0.0) -> float:
    """The gain (dB) that brings `samples` to the target plus `offset_db` (a style's energy):
    0 for silence, at most MAX_GAIN_DB."""
    measured = loudness_lufs(samples, sample_rate)
    if not math.isfinite(measured):
        return 0.0
    return min(MAX_GAIN_DB, target.lufs + offset_db - measured)


def normalized(samples: np.ndarray, sample_rate: int, target: LoudnessTarget, offset_db: float = 0.0,
               gain_db: float | None = None, relevel: bool = False) -> np.ndarray:
    """float32 (mono, or stereo (n, 2)) at the target loudness (plus `offset_db`) with true peaks at
    most the ceiling. On speech the limiter touches only the milliseconds around peaks, so it moves
    the loudness by about a tenth of a LU, and the level is measured once; relevel: measure and set
    again whatever the length (a music master, whose limiter works all through, loses up to 1 LU).

    gain_db: use this gain instead of measuring (a stream keeps its first chunk's gain, so a
    quiet sentence stays quiet); the ceiling is kept either way."""
    x = np.asarray(samples, np.float64)
    gain = gain_for(x, sample_rate, target, offset_db) if gain_db is None else gain_db
    leveled = within_ceiling(x * 10 ** (gain / 20), sample_rate, target.ceiling_dbtp)
    for _ in range(RELEVEL_PASSES if gain_db is None and (relevel or len(x) < RELEVEL_BELOW_S * sample_rate) else 0):
        # In a short clip a few limited peaks are a large part of the level (up to 1.5 LU for
        # "Hello." at the acx ceiling): measured again and set again, at little cost.
        again = gain_for(leveled, sample_rate, target, offset_db)
        if abs(again) < 0.1:
            break
        leveled = within_ceiling(leveled * 10 ** (again / 20), sample_rate, target.ceiling_dbtp)
    return leveled


def within_ceiling(samples: np.ndarray, sample_rate: int, ceiling_dbtp: float) -> np.ndarray:
    """float32 (mono, or stereo with one gain for both channels) with its true peaks at most `ceiling_dbtp`, changed only around the peaks over
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
    after it, and never exceeds what any sample in reach needs. Only the stretches around
    samples over the ceiling are computed (speech has a few dozen such stretches a minute)."""
    ceiling = 10 ** (ceiling_db / 20)
    envelope = _linked_envelope(x, ceiling * 10 ** (-_NEAR_DB / 20))  # stereo: one gain for both channels
    over = np.flatnonzero(envelope > ceiling)
    if not len(over):
        return x
    reach = max(1, round(LOOKAHEAD_S * sample_rate))
    margin = 2 * reach + 2
    breaks = np.flatnonzero(np.diff(over) > 2 * margin)
    out = x.copy()
    for first, last in zip(np.r_[over[0], over[breaks + 1]], np.r_[over[breaks], over[-1]]):
        lo, hi = max(0, first - margin), min(len(x), last + margin + 1)
        needed = np.minimum(1.0, ceiling / np.maximum(envelope[lo:hi], 1e-12))
        from scipy.ndimage import minimum_filter1d, uniform_filter1d

        gain = uniform_filter1d(minimum_filter1d(needed, 2 * reach + 1, mode="nearest"), reach + 1, mode="nearest")
        out[lo:hi] *= gain if x.ndim == 1 else gain[:, None]
    return out
