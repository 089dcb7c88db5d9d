"""What every watermark backend offers: a payload in, marked audio out; audio in, a calibrated verdict."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, Sequence

import numpy as np


@dataclass(frozen=True)
class Verdict:
    """The outcome of looking for a mark.

    p_value: probability of a statistic at least this strong in audio that carries no mark of ours
        (an upper bound: Hoeffding's inequality, Bonferroni-corrected over every alignment and key tried).
    mark_id: the mark the verdict names: the decoded payload (blind detection) or the best-matching
        candidate (`match`, `verify`); None when there is none.
    payload_id: what the payload bits decode to at the best alignment (Reed-Solomon), or None.
    key_index: which of the keys given to the detector matched best (0 = the current key).
    offset_s: where, in the input's time, the first full watermark period starts.
    scale: the playback speed at which the mark was found (1.25 = played 25 % fast); for a mark found
        by the invariant layer, the time scale alone (a tempo change keeps the pitch).
    pitch_cents: the pitch shift at which the invariant layer found the mark (0 for the payload layer).
    spans: (start_s, end_s) stretches of the input that carry the mark on their own.
    soft_bits: blind detection's soft payload bits at the best alignment (positive means 1), for
        list decoding (`payload.candidates`); () when the backend has none.
    """

    p_value: float
    mark_id: int | None
    key_index: int | None
    offset_s: float | None
    z_score: float
    payload_id: int | None = None
    scale: float = 1.0
    spans: tuple[tuple[float, float], ...] = ()
    soft_bits: tuple[float, ...] = ()
    pitch_cents: float = 0.0

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

    def match(self, samples: np.ndarray, sample_rate: int, candidates: Sequence[int], plan: int | None = None
              ) -> Verdict:
        """Test for any of several marks; the p-value counts every candidate, or `plan` of them
        when the candidates were picked from a larger set fixed in advance (list decoding)."""
        ...
