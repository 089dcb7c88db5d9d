"""How both watermark backends touch the audio: a residual computed at the model's rate, resampled to
the audio's rate and added, so nothing above the model's Nyquist frequency changes."""
from __future__ import annotations

import numpy as np
import soxr


def resample(x: np.ndarray, rate_in: float, rate_out: float) -> np.ndarray:
    """float64 samples at rate_out (Hz; fractional rates are fine, for time-scale searches); soxr HQ."""
    x = np.asarray(x, np.float64)
    if rate_in == rate_out or len(x) == 0:
        return x
    return soxr.resample(x, rate_in, rate_out, quality="HQ")


def add_residual(audio: np.ndarray, residual: np.ndarray, residual_rate: int, sample_rate: int) -> np.ndarray:
    """audio (float32 at sample_rate) + residual (at residual_rate) -> float32, same length, clipped to [-1, 1]."""
    residual = resample(residual, residual_rate, sample_rate)
    out = np.asarray(audio, np.float64).copy()
    n = min(len(out), len(residual))
    out[:n] += residual[:n]
    return np.clip(out, -1.0, 1.0).astype(np.float32)
