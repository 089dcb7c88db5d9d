"""What every watermark backend offers: a payload in, marked audio out; audio in, a calibrated verdict."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np


@dataclass(frozen=True)
class Verdict:
    """The outcome of looking for a mark.

    p_value: probability of a statistic at least this strong in audio that carries no mark of ours
        (an upper bound: Hoeffding's inequality, Bonferroni-corrected over every alignment and key tried).
    mark_id: the decoded 32-bit payload, or None when it could not be decoded.
    key_index: which of the keys given to the detector matched best (0 = the current key).
    offset_s: where, in the input's time, the first full watermark frame starts.
    """

    p_value: float
    mark_id: int | None
    key_index: int | None
    offset_s: float | None
    z_score: float

    def watermarked(self, threshold: float) -> bool:
        return self.p_value <= threshold


class Watermarker(Protocol):
    """A watermark backend (the built-in keyed mark, AudioSeal, ...)."""

    name: str

    def embed(self, samples: np.ndarray, sample_rate: int, mark_id: int) -> np.ndarray:
        """float32 mono samples in [-1, 1] at sample_rate -> marked samples of the same length and rate."""
        ...

    def detect(self, samples: np.ndarray, sample_rate: int) -> Verdict:
        """Blind: float32 mono samples at sample_rate -> a verdict over every key this watermarker holds."""
        ...

    def verify(self, samples: np.ndarray, sample_rate: int, mark_id: int) -> Verdict:
        """Test for one mark given in advance (the gate's question); p-value for that mark alone."""
        ...
