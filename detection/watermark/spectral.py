"""The time-frequency view the keyed watermark lives in: 16 kHz, 512-point sqrt-Hann frames, hop 256.

Everything is analysed at 16 kHz so any output rate, and any resampling on the way, looks the same.
"""
from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from scipy.ndimage import uniform_filter1d

from detection.watermark.residual import resample

ANALYSIS_RATE = 16000
N_FFT = 512
HOP = N_FFT // 2
BAND_HZ = (200.0, 7000.0)
BIN_LO = int(np.ceil(BAND_HZ[0] * N_FFT / ANALYSIS_RATE))
BIN_HI = int(np.floor(BAND_HZ[1] * N_FFT / ANALYSIS_RATE)) + 1
N_BINS = BIN_HI - BIN_LO
WHITEN_BINS = 9
_LOG_FLOOR = 1e-6
AUDIBLE_FLOOR = 1e-5  # frames 50 dB below the loudest count as silence (no host cancellation, no shaping)
WINDOW = np.sqrt(0.5 - 0.5 * np.cos(2 * np.pi * np.arange(N_FFT) / N_FFT))  # sqrt-Hann: OLA sums to 1


def bin_of(hz: float) -> int:
    """Index into the N_BINS in-band bins of the bin nearest `hz`, clipped to the band."""
    return int(np.clip(round(hz * N_FFT / ANALYSIS_RATE) - BIN_LO, 0, N_BINS))


def to_analysis_rate(samples: np.ndarray, sample_rate: float) -> np.ndarray:
    """float samples at sample_rate (Hz; may be fractional during a time-scale search) -> float64 at 16 kHz."""
    return resample(samples, sample_rate, ANALYSIS_RATE)


def frames(x: np.ndarray, start: int) -> np.ndarray:
    """(T, N_FFT) windowed frames of x beginning at sample `start`, hop HOP."""
    return windowed_frames(x, start, WINDOW, HOP)


def windowed_frames(x: np.ndarray, start: int, window: np.ndarray, hop: int) -> np.ndarray:
    """(T, len(window)) frames of x beginning at sample `start`, `hop` apart, each times `window`."""
    size = len(window)
    if len(x) - start < size:
        return np.zeros((0, size))
    # A strided view, not an index array: 15x less work, and the detector frames the whole clip
    # SUB_SHIFTS times per scale.
    return sliding_window_view(x[start:], size)[::hop] * window


def overlap_add(spectrum: np.ndarray, delta: np.ndarray, length: int) -> np.ndarray:
    """The time signal (length samples at 16 kHz) that scales each in-band bin of `spectrum` by exp(delta)."""
    gains = np.zeros(spectrum.shape)
    gains[:, BIN_LO:BIN_HI] = np.expm1(delta)
    return summed_frames(np.fft.irfft(spectrum * gains, n=N_FFT, axis=1) * WINDOW, HOP, length)


def summed_frames(pieces: np.ndarray, hop: int, length: int) -> np.ndarray:
    """Overlap-add: piece t added at sample t * hop of a signal `length` samples long (the pieces
    are frames of a signal that long, so each fits)."""
    out = np.zeros(length)
    for t, piece in enumerate(pieces):
        out[t * hop: t * hop + len(piece)] += piece
    return out


def frame_gain_shape(energy: np.ndarray, limit: float) -> np.ndarray:
    """(T,) multipliers of a layer's gain from each frame's energy: 1 / sqrt(the energy relative to
    the median audible frame), within [1 / limit, limit]; ones when nothing is audible.

    Why (both layers): SI-SNR weighs a gain by the energy it scales, while the detectors count every
    cell alike, loud or quiet, so gain moved from loud frames to quiet ones is nearly free in z."""
    audible = energy > AUDIBLE_FLOOR * energy.max(initial=0.0)
    if not audible.any():
        return np.ones(len(energy))
    relative = np.maximum(energy / np.median(energy[audible]), 1e-12)
    return np.clip(relative ** -0.5, 1 / limit, limit)


def whitened_log_magnitude(power: np.ndarray) -> np.ndarray:
    """(T, N_BINS) from (T, N_FFT/2+1) power: log-magnitude minus its local mean across frequency,
    which removes the spectral envelope and leaves the fine structure the mark modulates."""
    logmag = 0.5 * np.log(power + _LOG_FLOOR ** 2)
    smooth = uniform_filter1d(logmag, WHITEN_BINS, axis=1, mode="nearest")
    return (logmag - smooth)[:, BIN_LO:BIN_HI]


def power_spectrum(x: np.ndarray, start: int) -> np.ndarray:
    return np.abs(np.fft.rfft(frames(x, start), axis=1)) ** 2


def detection_features(x: np.ndarray, start: int) -> np.ndarray:
    """(T, N_BINS): what the detector correlates with the pattern, for frames starting at `start`.

    Plain whitened log-magnitude: weighing bins by their estimated SNR was tried and lost power under
    every edit measured (noise included), so every bin counts the same.
    """
    return whitened_log_magnitude(power_spectrum(x, start))
