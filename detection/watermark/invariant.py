"""The invariant layer of the keyed watermark: found after pitch shifts, tempo and speed changes.

Why this design (measured in shared/notes/watermark-sync.md and on issue 17's clips):
- The keyed-v1 pattern changes every 16 ms frame at fixed STFT bins. A pitch shift moves the bins,
  and a tempo change (WSOLA, as SoX and every audio editor does it) re-cuts the audio in ~80 ms
  segments, so even told the exact factors the v1 correlation falls to noise (z ~3).
- This layer is a keyed +/-1 pattern over cells of 1/3 semitone on a log-frequency axis (1-6.3 kHz)
  and 128 ms in time, repeating every 2.048 s. On a log axis a pitch shift is a translation, and
  128 ms cells outlast WSOLA's re-cutting, so pitch (frequency only), tempo (time only) and speed (both) are
  separate axes of one search: the time scale is tried on a grid fine enough that the pattern
  drifts by under a frame over the window, and every frequency shift and circular offset is read
  off one 2-D FFT correlation per scale.
- Only 1-6.3 kHz: speech's energy lies below 1 kHz, so a gain there costs the most SI-SNR and PESQ
  (and below ~400 Hz the cells are narrower than an STFT bin). At the same gain, starting at 1 kHz
  instead of 150 Hz kept about 73 % of the z for about 7 dB more SI-SNR, so the gain could rise from
  0.06 to 0.15 Np: on the tuning clips z under pitch/tempo/speed went from 7.2-7.9 to 14.3-15.3,
  the layer alone from 27.3 to 30.8 dB SI-SNR and PESQ-wb 4.22 to 4.31. Low-pass edits are the
  payload layer's to survive.
- Features are log band energies (1/6 semitone bands) with the spectral envelope (1.5 semitones)
  and each band's mean removed, clipped at twice their median size so harmonic peaks and onsets do
  not swamp the sum: a third more z on speech than a 3-semitone envelope and no clipping.
- The statistic is sum(P * A) / sqrt(sum(A^2)) over the cells A of the audio and the key's signs P.
  Given the audio, audio that never saw the key makes this a sum of independent random signs, so
  Hoeffding's bound p <= exp(-z^2 / 2) holds for any audio; it is multiplied by every test made.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from functools import cache

import numpy as np
import scipy.fft
from scipy.ndimage import uniform_filter1d

from detection.watermark.pattern import WatermarkKey
from detection.watermark.spectral import frame_gain_shape, summed_frames, windowed_frames

RATE = 16000
N_FFT = 2048
HOP = 512
F_LO, F_HI = 1000.0, 6300.0  # why not lower: see above
PER_SEMITONE = 3  # pattern elements per semitone
BANDS_PER_ELEMENT = 2
BLOCK = 4  # frames per pattern cell (128 ms)
PERIOD_BLOCKS = 16  # cells per period (2.048 s)
MAX_SHIFT_SEMITONES = 4.0  # pitch +/-3 semitones and speed 0.8-1.25 (+/-3.9 semitones)
MIN_SCALE, MAX_SCALE = 0.78, 1.28  # time-scale factors searched (tempo or speed)
WHITEN_SEMITONES = 1.5
CLIP_MEDIANS = 2.0
WINDOW_S = 10.0  # audio is scanned in windows this long (the scale grid is per window)
MAX_WINDOWS = 4  # longer audio: this many windows, spread over it, keep detection's cost bounded

ELEMENTS = int(np.floor(PER_SEMITONE * 12 * np.log2(F_HI / F_LO)))
BANDS_PER_SEMITONE = PER_SEMITONE * BANDS_PER_ELEMENT
MAX_SHIFT = int(round(MAX_SHIFT_SEMITONES * BANDS_PER_SEMITONE))  # in bands
N_BANDS = ELEMENTS * BANDS_PER_ELEMENT + 2 * MAX_SHIFT
PERIOD_FRAMES = BLOCK * PERIOD_BLOCKS
_WINDOW = np.sqrt(0.5 - 0.5 * np.cos(2 * np.pi * np.arange(N_FFT) / N_FFT))
_FFT_BANDS = scipy.fft.next_fast_len(N_BANDS)
_OLA_SCALE = HOP / (N_FFT / 2)  # sqrt-Hann analysis and synthesis at 75 % overlap sum to N_FFT / (2 HOP)
_LOG_FLOOR = 1e-10
SHAPE_LIMIT = 2.0  # the gain moves within [strength / SHAPE_LIMIT, strength * SHAPE_LIMIT] by frame


@dataclass(frozen=True)
class Finding:
    """The strongest alignment found: z, how many tests the scan made, the key that matched, the
    time scale (1.15 = played 15 % faster), the pitch shift in cents, and the time scale's
    resolution (the scale grid's step in the window it was found in)."""

    z: float
    n_tests: int
    key_index: int | None
    time_scale: float
    pitch_cents: float
    scale_step: float = 0.0

    @property
    def p_value(self) -> float:
        return 1.0 if self.z <= 0 else min(1.0, self.n_tests * float(np.exp(-0.5 * self.z * self.z)))


def pattern(key: WatermarkKey) -> np.ndarray:
    """(PERIOD_BLOCKS, ELEMENTS) of +/-1, from the key alone."""
    raw = np.frombuffer(hashlib.shake_256(b"voicekit-invariant-layer-v2/" + key.secret).digest(
        PERIOD_BLOCKS * ELEMENTS), np.uint8)
    return np.where(raw & 1, 1.0, -1.0).reshape(PERIOD_BLOCKS, ELEMENTS)


def residual(x: np.ndarray, key: WatermarkKey, strength: float) -> np.ndarray:
    """What to add to x (float at 16 kHz) to mark it: each bin scaled by exp(+/-strength) by the sign
    of its (cell, element). A gain, so the mark sits under the speech and silence stays silent."""
    x = np.asarray(x, np.float64)
    spectrum = np.fft.rfft(_frames(x), axis=1)
    if len(spectrum) == 0:
        return np.zeros(len(x))
    element, inband = _bin_elements()
    signs = pattern(key)[(np.arange(len(spectrum)) // BLOCK) % PERIOD_BLOCKS][:, element[inband]]
    gains = np.zeros(spectrum.shape)
    gains[:, inband] = np.expm1(strength * signs * _frame_shape(spectrum[:, inband])[:, None])
    return summed_frames(np.fft.irfft(spectrum * gains, n=N_FFT, axis=1) * _WINDOW * _OLA_SCALE, HOP, len(x))


def scan(x: np.ndarray, keys: list[WatermarkKey]) -> Finding:
    """The strongest z over every window, time scale, pitch shift, offset and key of x (float at
    16 kHz); the test count is fixed by the length of x alone."""
    features = _features(np.asarray(x, np.float64))
    windows = _windows(len(features))
    patterns = [np.conj(_spectrum(_lattice(pattern(key)))) for key in keys]
    mask = np.conj(_spectrum(_lattice_mask()))
    best = Finding(0.0, 0, None, 1.0, 0.0)
    n_tests = 0
    for start, stop in windows:
        window = features[start:stop]
        for scale in _scales(len(window)):
            cells = _cell_sums(_fold(window, scale))
            energy = _correlation(_spectrum(cells * cells), mask)
            n_tests += energy.size * len(keys)
            cells_spectrum = _spectrum(cells)
            for key_index, lattice in enumerate(patterns):
                z = np.divide(_correlation(cells_spectrum, lattice), np.sqrt(energy), out=np.zeros(energy.shape),
                              where=energy > 0)
                offset, shift = np.unravel_index(int(np.argmax(z)), z.shape)
                if z[offset, shift] > best.z:
                    cents = (shift - MAX_SHIFT) * 100.0 / BANDS_PER_SEMITONE
                    best = Finding(float(z[offset, shift]), 0, key_index, float(scale), cents, 1.0 / len(window))
    return replace(best, n_tests=n_tests)


def _frame_shape(inband: np.ndarray) -> np.ndarray:
    """(T,) the gain's frame factor (spectral.frame_gain_shape) from the in-band spectrum. At 0.12 Np
    on issue 17's tuning clips it moved the layer from 29.5 to 33.4 dB SI-SNR, z after a 3-semitone
    shift from 14.0 to 15.1, for PESQ-wb 4.24 instead of 4.29."""
    return frame_gain_shape(np.sum(np.abs(inband) ** 2, axis=1), SHAPE_LIMIT)


# -- analysis ---------------------------------------------------------------------------------------
def _frames(x: np.ndarray) -> np.ndarray:
    return windowed_frames(x, 0, _WINDOW, HOP)


@cache
def _bin_elements() -> tuple[np.ndarray, np.ndarray]:
    """The pattern element of every rfft bin, and which bins lie in an element."""
    freqs = np.arange(N_FFT // 2 + 1) * RATE / N_FFT
    element = np.floor(PER_SEMITONE * 12 * np.log2(np.maximum(freqs, 1e-3) / F_LO)).astype(int)
    return element, (element >= 0) & (element < ELEMENTS)


@cache
def _band_weights() -> np.ndarray:
    """(bins, N_BANDS): each band's mean power is this matrix applied to a power spectrum; band
    MAX_SHIFT starts at F_LO. A band narrower than a bin takes its share of that bin."""
    freqs = np.arange(N_FFT // 2 + 1) * RATE / N_FFT
    edges = F_LO * 2 ** ((np.arange(N_BANDS + 1) - MAX_SHIFT) / (12 * BANDS_PER_SEMITONE))
    half = RATE / N_FFT / 2
    overlap = np.clip(np.minimum(freqs[None] + half, edges[1:, None]) - np.maximum(freqs[None] - half, edges[:-1, None]),
                      0.0, None)
    return (overlap / np.maximum(overlap.sum(axis=1, keepdims=True), 1e-12)).T


def _features(x: np.ndarray) -> np.ndarray:
    """(T, N_BANDS) whitened, clipped log band energies."""
    power = np.abs(np.fft.rfft(_frames(x), axis=1)) ** 2
    if len(power) == 0:
        return np.zeros((0, N_BANDS))
    logs = np.log(power @ _band_weights() + _LOG_FLOOR)
    width = int(round(WHITEN_SEMITONES * BANDS_PER_SEMITONE)) | 1
    logs -= uniform_filter1d(logs, width, axis=1, mode="nearest")
    logs -= logs.mean(axis=0, keepdims=True)
    limit = CLIP_MEDIANS * (np.median(np.abs(logs)) + 1e-12)
    return np.clip(logs, -limit, limit)


def _windows(n_frames: int) -> list[tuple[int, int]]:
    size = int(WINDOW_S * RATE / HOP)
    if n_frames <= size:
        return [(0, n_frames)] if n_frames >= PERIOD_FRAMES else []
    starts = np.linspace(0, n_frames - size, min(MAX_WINDOWS, -(-n_frames // size))).astype(int)
    return [(int(s), int(s) + size) for s in starts]


def _scales(n_frames: int) -> np.ndarray:
    """Time scales from MIN_SCALE to MAX_SCALE, log-spaced so that neighbours drift apart by at most
    one frame over n_frames (half a frame from the nearest, a quarter of a cell)."""
    steps = int(np.ceil(np.log(MAX_SCALE / MIN_SCALE) * n_frames))
    return np.exp(np.linspace(np.log(MIN_SCALE), np.log(MAX_SCALE), steps + 1))


def _fold(features: np.ndarray, scale: float) -> np.ndarray:
    """(PERIOD_FRAMES, N_BANDS): frame t of audio played `scale` times as fast sits at pattern frame
    t * scale; each pattern frame sums the frames that fall on it."""
    slots = np.floor(np.arange(len(features)) * scale).astype(int) % PERIOD_FRAMES
    order = np.argsort(slots, kind="stable")
    present, starts = np.unique(slots[order], return_index=True)
    folded = np.zeros((PERIOD_FRAMES, features.shape[1]))
    folded[present] = np.add.reduceat(features[order], starts, axis=0)
    return folded


def _cell_sums(folded: np.ndarray) -> np.ndarray:
    """Sum over a cell (BLOCK frames, circular; BANDS_PER_ELEMENT bands) starting at every (frame, band)."""
    cells = sum(np.roll(folded, -k, axis=0) for k in range(BLOCK))
    return sum(np.pad(cells[:, k:], ((0, 0), (0, k))) for k in range(BANDS_PER_ELEMENT))


@cache
def _lattice_mask() -> np.ndarray:
    return np.abs(_lattice(np.ones((PERIOD_BLOCKS, ELEMENTS))))


def _lattice(signs: np.ndarray) -> np.ndarray:
    """(PERIOD_FRAMES, ELEMENTS * BANDS_PER_ELEMENT): each cell's sign at the cell's first frame and band."""
    out = np.zeros((PERIOD_FRAMES, ELEMENTS * BANDS_PER_ELEMENT))
    out[::BLOCK, ::BANDS_PER_ELEMENT] = signs
    return out


def _spectrum(a: np.ndarray) -> np.ndarray:
    """2-D FFT over one period of frames and _FFT_BANDS bands: wide enough that no shift used wraps
    (a lattice entry at band b < ELEMENTS * BANDS_PER_ELEMENT meets band b + s' < N_BANDS)."""
    return scipy.fft.rfft2(a, s=(PERIOD_FRAMES, _FFT_BANDS))


def _correlation(spectrum: np.ndarray, conj_lattice_spectrum: np.ndarray) -> np.ndarray:
    """(PERIOD_FRAMES, 2 * MAX_SHIFT + 1): sum over the lattice of cells[(t - o) % P, MAX_SHIFT + s + b]
    * lattice[t, b] at offset o and shift s (index s + MAX_SHIFT), from the cells' spectrum and the
    lattice's conjugate spectrum (circular in time)."""
    # corr[d, s'] = sum_t,b cells[t + d, b + s'] lattice[t, b]; offset o reads d = -o.
    corr = scipy.fft.irfft2(spectrum * conj_lattice_spectrum, s=(PERIOD_FRAMES, _FFT_BANDS))[:, : 2 * MAX_SHIFT + 1]
    return corr[(-np.arange(PERIOD_FRAMES)) % PERIOD_FRAMES]


def _correlate(cells: np.ndarray, lattice: np.ndarray) -> np.ndarray:
    """_correlation from the arrays themselves."""
    return _correlation(_spectrum(cells), np.conj(_spectrum(lattice)))
