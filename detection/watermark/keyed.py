"""The built-in keyed watermark: spread spectrum on the short-time log-magnitude spectrum.

Why this design:
- The mark is a keyed pattern of tiny gains (+/- `strength` nepers) on STFT bins between 200 Hz and
  7 kHz, analysed at 16 kHz so every output rate and any resampling look the same to the detector.
- Each frame row of a 64-frame period (1.024 s) has its own random signs, and a random 40 % of its
  bins carry a constant "sync" symbol; the rest carry the 64 channel bits of the payload, spread over
  the period. Nothing but the key tells mark from audio.
- Detection folds the whitened log-magnitudes onto the period and correlates with the pattern at every
  frame offset and at 8 sub-hop shifts, so an excerpt cut anywhere is found. Under the null (audio
  that never saw this key) the correlation is a sum of independent random signs weighted by the
  audio, so Hoeffding's inequality bounds its tail exactly: p <= exp(-z^2 / 2) for any audio, with no
  model of speech needed. The bound is multiplied by the number of alignments and keys tried.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import soxr
from scipy.ndimage import uniform_filter1d

from detection.watermark import payload as payload_code
from detection.watermark.base import Verdict

ANALYSIS_RATE = 16000
N_FFT = 512
HOP = N_FFT // 2
BAND_HZ = (200.0, 7000.0)
PERIOD = 64  # frames; 64 * 16 ms = 1.024 s
SYNC_SHARE = 0.4
SUB_SHIFTS = 8  # detection tries HOP / SUB_SHIFTS-sample steps within a hop
WHITEN_BINS = 9
_LOG_FLOOR = 1e-6
_BIN_LO = int(np.ceil(BAND_HZ[0] * N_FFT / ANALYSIS_RATE))
_BIN_HI = int(np.floor(BAND_HZ[1] * N_FFT / ANALYSIS_RATE)) + 1
N_BINS = _BIN_HI - _BIN_LO
_SYNC_ROLE = -1
_INFORMED_PASSES = 3
_REALISED_GAIN_INV = 1.5  # ~1 / (share of a frame's gain that survives overlap-add and whitening)
_SHORT_CLIP_S = 4.0  # audible seconds below which the strength rises as 1 / sqrt(duration)
_MAX_STRENGTH = 0.25
_MAX_GAIN = 3.0  # no bin moves by more than this many times `strength`
_AUDIBLE_FLOOR = 1e-5  # frames 50 dB below the loudest are left to the plain spread-spectrum gain


def _window() -> np.ndarray:
    """sqrt-Hann (periodic): analysis x synthesis windows sum to one at 50 % overlap."""
    return np.sqrt(0.5 - 0.5 * np.cos(2 * np.pi * np.arange(N_FFT) / N_FFT)).astype(np.float64)


_WINDOW = _window()


@dataclass(frozen=True)
class WatermarkKey:
    """A secret (>= 16 bytes) and the pattern it expands to.

    The pattern is derived with SHAKE-256, so it is the same on every platform and numpy version.
    """

    secret: bytes

    def __post_init__(self) -> None:
        if len(self.secret) < 16:
            raise ValueError("a watermark key needs at least 16 secret bytes")

    def _stream(self, label: bytes, n: int) -> bytes:
        return hashlib.shake_256(b"voicekit-keyed-watermark-v1/" + label + b"/" + self.secret).digest(n)

    @cached_property
    def signs(self) -> np.ndarray:
        """(PERIOD, N_BINS) float64 of +/-1."""
        raw = np.frombuffer(self._stream(b"signs", PERIOD * N_BINS), np.uint8)
        return np.where(raw & 1, 1.0, -1.0).reshape(PERIOD, N_BINS)

    @cached_property
    def roles(self) -> np.ndarray:
        """(PERIOD, N_BINS) int: _SYNC_ROLE for sync bins, else the channel bit (0..63) the bin carries."""
        order = np.frombuffer(self._stream(b"roles", PERIOD * N_BINS * 4), "<u4").reshape(PERIOD, N_BINS)
        n_sync = int(round(SYNC_SHARE * N_BINS))
        roles = np.empty((PERIOD, N_BINS), np.int64)
        for row in range(PERIOD):
            perm = np.argsort(order[row], kind="stable")
            roles[row, perm[:n_sync]] = _SYNC_ROLE
            # Rotate the bit assignment by row so every bit gets the same share of bins per period.
            data_bins = perm[n_sync:]
            roles[row, data_bins] = (np.arange(len(data_bins)) + row * len(data_bins)) % payload_code.CODED_BITS
        return roles

    @cached_property
    def sync_pattern(self) -> np.ndarray:
        return np.where(self.roles == _SYNC_ROLE, self.signs, 0.0)

    @cached_property
    def sync_mask(self) -> np.ndarray:
        return (self.roles == _SYNC_ROLE).astype(np.float64)

    @cached_property
    def bit_matrix(self) -> np.ndarray:
        """(PERIOD * N_BINS, CODED_BITS): signed one-hot, so folded @ bit_matrix gives per-bit soft values."""
        m = np.zeros((PERIOD * N_BINS, payload_code.CODED_BITS))
        flat_roles = self.roles.ravel()
        data = np.nonzero(flat_roles != _SYNC_ROLE)[0]
        m[data, flat_roles[data]] = self.signs.ravel()[data]
        return m


def _to_analysis_rate(samples: np.ndarray, sample_rate: int) -> np.ndarray:
    x = np.asarray(samples, np.float64)
    if sample_rate == ANALYSIS_RATE:
        return x
    return soxr.resample(x, sample_rate, ANALYSIS_RATE, quality="HQ")


def _frames(x: np.ndarray, start: int) -> np.ndarray:
    """(T, N_FFT) windowed frames starting at `start`, hop HOP."""
    n = (len(x) - start - N_FFT) // HOP + 1
    if n <= 0:
        return np.zeros((0, N_FFT))
    idx = start + np.arange(n)[:, None] * HOP + np.arange(N_FFT)[None, :]
    return x[idx] * _WINDOW


def _overlap_add(spectrum: np.ndarray, delta: np.ndarray, length: int) -> np.ndarray:
    """The time signal that changes each in-band bin of `spectrum` by the gain exp(delta)."""
    gains = np.zeros(spectrum.shape)
    gains[:, _BIN_LO:_BIN_HI] = np.expm1(delta)
    frames = np.fft.irfft(spectrum * gains, n=N_FFT, axis=1) * _WINDOW
    out = np.zeros(length)
    for t, frame in enumerate(frames):
        out[t * HOP: t * HOP + N_FFT] += frame
    return out


def _whitened_log_magnitude(x: np.ndarray, start: int) -> np.ndarray:
    """(T, N_BINS): log-magnitude minus its local mean across frequency (removes the spectral envelope)."""
    spec = np.abs(np.fft.rfft(_frames(x, start), axis=1))
    logmag = np.log(spec + _LOG_FLOOR)
    smooth = uniform_filter1d(logmag, WHITEN_BINS, axis=1, mode="nearest")
    return (logmag - smooth)[:, _BIN_LO:_BIN_HI]


class KeyedWatermark:
    """The offline default watermarker.

    keys: newest first. Embedding uses keys[0]; detection tries all of them (rotation keeps old
    outputs detectable). strength: gain per bin in nepers (0.1 = +/-0.87 dB).
    """

    name = "keyed-v1"

    def __init__(self, keys: list[WatermarkKey], strength: float = 0.08) -> None:
        if not keys:
            raise ValueError("KeyedWatermark needs at least one key")
        self.keys = list(keys)
        self.strength = strength

    # -- embedding --------------------------------------------------------------------------------
    def embed(self, samples: np.ndarray, sample_rate: int, mark_id: int) -> np.ndarray:
        """float32 mono at sample_rate -> float32 of the same length, marked with mark_id (32 bits).

        Informed embedding: the audio's own projection onto each symbol's bins (per 1.024 s period)
        is measured and cancelled over a few passes, so the detector sees the symbol, not the speech.
        Digital silence stays silent (the mark is a gain on what is there).
        """
        key = self.keys[0]
        audio = np.asarray(samples, np.float32)
        x = _to_analysis_rate(audio, sample_rate)
        spectrum = np.fft.rfft(_frames(x, 0), axis=1)
        n_frames = len(spectrum)
        if n_frames == 0:
            return audio.copy()
        rows = np.arange(n_frames) % PERIOD
        roles = key.roles[rows]
        bits = payload_code.encode(mark_id).astype(np.float64)
        direction = key.signs[rows] * np.where(roles == _SYNC_ROLE, 1.0, bits[np.clip(roles, 0, None)])
        # One group per (period, symbol): the unit whose mean projection is driven to `strength`.
        groups = (np.arange(n_frames) // PERIOD)[:, None] * (payload_code.CODED_BITS + 1) + (roles + 1)
        energy = np.sum(np.abs(spectrum[:, _BIN_LO:_BIN_HI]) ** 2, axis=1)
        audible_frames = energy > _AUDIBLE_FLOOR * energy.max()
        strength = self._strength_for(int(audible_frames.sum()))
        # Sync bins keep the plain spread-spectrum gain; only payload bins get the host cancelled.
        informed = audible_frames[:, None] & (roles != _SYNC_ROLE)
        delta = strength * direction
        residual = _overlap_add(spectrum, delta, len(x))
        for _ in range(_INFORMED_PASSES):
            seen = _whitened_log_magnitude(x + residual, 0)[:n_frames] * direction
            counts = np.bincount(groups[informed], minlength=groups.max() + 1)
            means = np.bincount(groups[informed], seen[informed], minlength=groups.max() + 1)
            error = strength - np.divide(means, counts, out=np.zeros_like(means), where=counts > 0)
            delta = np.where(informed, delta + _REALISED_GAIN_INV * error[groups] * direction, delta)
            delta = np.clip(delta, -_MAX_GAIN * strength, _MAX_GAIN * strength)
            residual = _overlap_add(spectrum, delta, len(x))
        if sample_rate != ANALYSIS_RATE:
            residual = soxr.resample(residual, ANALYSIS_RATE, sample_rate, quality="HQ")
        n = min(len(audio), len(residual))
        out = audio.astype(np.float64)
        out[:n] += residual[:n]
        return np.clip(out, -1.0, 1.0).astype(np.float32)

    def _strength_for(self, audible_frames: int) -> float:
        """Short clips get a stronger mark so that they are still found and decoded on their own."""
        seconds = audible_frames * HOP / ANALYSIS_RATE
        boost = np.sqrt(_SHORT_CLIP_S / max(seconds, 0.25))
        return float(min(_MAX_STRENGTH, self.strength * max(1.0, boost)))

    # -- detection --------------------------------------------------------------------------------
    def detect(self, samples: np.ndarray, sample_rate: int) -> Verdict:
        """Blind search: the sync symbols at every key, sub-hop shift and frame offset, then the payload."""
        return self._search(samples, sample_rate, lambda key: (key.sync_pattern, key.sync_mask))

    def verify(self, samples: np.ndarray, sample_rate: int, mark_id: int) -> Verdict:
        """Test for one given mark: every bin's expected symbol is known, so the test is ~1.6x stronger.

        The p-value bounds the chance that audio without this mark scores as high; a caller that tries
        several candidate marks must multiply it by how many it tried.
        """
        bits = payload_code.encode(mark_id).astype(np.float64)

        def expected(key: WatermarkKey) -> tuple[np.ndarray, np.ndarray]:
            symbols = np.where(key.roles == _SYNC_ROLE, 1.0, bits[np.clip(key.roles, 0, None)])
            return key.signs * symbols, np.ones_like(key.signs)

        return self._search(samples, sample_rate, expected)

    def _search(self, samples: np.ndarray, sample_rate: int, pattern_of) -> Verdict:
        x = _to_analysis_rate(np.asarray(samples, np.float32), sample_rate)
        n_alignments = len(self.keys) * SUB_SHIFTS * PERIOD
        patterns = [pattern_of(key) for key in self.keys]
        best = (-np.inf, None, 0, 0, None)  # z, key index, shift, offset, folded
        for shift in range(0, HOP, HOP // SUB_SHIFTS):
            white = _whitened_log_magnitude(x, shift)
            if len(white) == 0:
                continue
            folded = np.zeros((PERIOD, N_BINS))
            np.add.at(folded, np.arange(len(white)) % PERIOD, white)
            for key_index, (pattern, mask) in enumerate(patterns):
                z, offset = _best_offset(folded, pattern, mask)
                if z > best[0]:
                    best = (z, key_index, shift, offset, folded)
        z, key_index, shift, offset, folded = best
        if folded is None:
            return Verdict(p_value=1.0, mark_id=None, key_index=None, offset_s=None, z_score=0.0)
        p_value = 1.0 if z <= 0 else min(1.0, n_alignments * float(np.exp(-0.5 * z * z)))
        aligned = np.roll(folded, offset, axis=0)  # row r of `aligned` now matches pattern row r
        soft = aligned.ravel() @ self.keys[key_index].bit_matrix
        # The first frame at pattern row 0 starts at frame index (PERIOD - offset) % PERIOD.
        first = shift + ((PERIOD - offset) % PERIOD) * HOP
        return Verdict(
            p_value=p_value,
            mark_id=payload_code.decode(soft),
            key_index=key_index,
            offset_s=first / ANALYSIS_RATE,
            z_score=float(z),
        )


def _best_offset(folded: np.ndarray, pattern: np.ndarray, mask: np.ndarray) -> tuple[float, int]:
    """z-score and offset o maximising the correlation when folded row r meets pattern row (r+o)."""
    corr = folded @ pattern.T  # [r, q] = folded[r] . pattern[q]
    energy = (folded * folded) @ mask.T
    rows = np.arange(PERIOD)
    cols = (rows[None, :] + rows[:, None]) % PERIOD  # [o, r] -> pattern row for folded row r at offset o
    num = corr[rows[None, :], cols].sum(axis=1)
    den = np.sqrt(energy[rows[None, :], cols].sum(axis=1))
    z = np.divide(num, den, out=np.zeros(PERIOD), where=den > 0)
    o = int(np.argmax(z))
    return float(z[o]), o
