"""A watermark key and the pattern it expands to: signs and roles for every (frame row, bin).

The pattern repeats every PERIOD frames (64 x 16 ms = 1.024 s). In each row a keyed 40 % of the bins
carry the constant sync symbol; the others carry one of the 64 channel bits, rotated so every bit gets
the same share of each period. Derived with SHAKE-256: identical on every platform and numpy version.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cached_property

import numpy as np
from scipy import sparse

from detection.watermark import payload as payload_code
from detection.watermark.spectral import N_BINS, bin_of

PERIOD = 64
SYNC_SHARE = 0.4
SYNC_ROLE = -1
CHANNELS = 1 + payload_code.CODED_BITS  # channel 0 = sync, 1 + j = channel bit j
# Frequency bands tested separately, so a mark that survives only in part of the spectrum (a
# low-pass at 500 Hz, a high-pass at 1.5 kHz) is not diluted by the bins an edit removed.
BANDS_HZ = ((200.0, 7000.0), (200.0, 600.0), (200.0, 1500.0), (1500.0, 7000.0), (500.0, 5000.0))


def band_bins(band: int) -> slice:
    """The in-band bins (indices into N_BINS) of tested band `band`."""
    lo, hi = BANDS_HZ[band]
    return slice(bin_of(lo), bin_of(hi))


def band_matrix() -> np.ndarray:
    """(N_BINS, len(BANDS_HZ)) of 0/1: which in-band bins each tested band sums."""
    matrix = np.zeros((N_BINS, len(BANDS_HZ)))
    for b in range(len(BANDS_HZ)):
        matrix[band_bins(b), b] = 1.0
    return matrix


@dataclass(frozen=True)
class WatermarkKey:
    """secret: at least 16 bytes (the studio derives 32 from the registry key with HKDF)."""

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
        """(PERIOD, N_BINS) int: SYNC_ROLE, or the channel bit 0..63 the bin carries."""
        order = np.frombuffer(self._stream(b"roles", PERIOD * N_BINS * 4), "<u4").reshape(PERIOD, N_BINS)
        n_sync = int(round(SYNC_SHARE * N_BINS))
        roles = np.empty((PERIOD, N_BINS), np.int64)
        for row in range(PERIOD):
            perm = np.argsort(order[row], kind="stable")
            roles[row, perm[:n_sync]] = SYNC_ROLE
            data_bins = perm[n_sync:]
            roles[row, data_bins] = (np.arange(len(data_bins)) + row * len(data_bins)) % payload_code.CODED_BITS
        return roles

    def symbols(self, channel_bits: np.ndarray) -> np.ndarray:
        """(PERIOD, N_BINS) of +/-1: the sign each bin is pushed towards for these channel bits."""
        bits = np.asarray(channel_bits, np.float64)
        return self.signs * np.where(self.roles == SYNC_ROLE, 1.0, bits[np.clip(self.roles, 0, None)])

    @cached_property
    def channel_matrix(self) -> sparse.csr_matrix:
        """(len(BANDS_HZ) * CHANNELS, PERIOD * N_BINS), signed one-hot: this @ flattened folded features
        = the correlation of every channel (row b * CHANNELS + c: band b, channel c) in every band."""
        channel = (self.roles + 1).ravel()  # sync -> 0, bit j -> 1 + j
        bins = np.tile(np.arange(N_BINS), PERIOD)
        rows, cols = [], []
        for b in range(len(BANDS_HZ)):
            band = band_bins(b)
            cells = np.nonzero((bins >= band.start) & (bins < band.stop))[0]
            rows.append(b * CHANNELS + channel[cells])
            cols.append(cells)
        cols = np.concatenate(cols)
        return sparse.csr_matrix(
            (self.signs.ravel()[cols], (np.concatenate(rows), cols)),
            shape=(len(BANDS_HZ) * CHANNELS, PERIOD * N_BINS),
        )

    @cached_property
    def sync_spectrum(self) -> np.ndarray:
        """rfft along the rows of the sync pattern: (PERIOD // 2 + 1, N_BINS) complex."""
        return np.fft.rfft(np.where(self.roles == SYNC_ROLE, self.signs, 0.0), axis=0)

    @cached_property
    def sync_mask_spectrum(self) -> np.ndarray:
        return np.fft.rfft((self.roles == SYNC_ROLE).astype(np.float64), axis=0)
