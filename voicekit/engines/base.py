"""The one engine protocol: a sentence in, float32 mono samples at the engine's own rate out."""
from __future__ import annotations

from typing import Protocol

import numpy as np


class Engine(Protocol):
    name: str
    sample_rate: int  # Hz of what synthesize returns
    licence: str

    @property
    def model_version(self) -> str:
        """Names the exact model files, recorded in every output's provenance."""
        ...

    def synthesize(self, sentence: str) -> np.ndarray:
        """One sentence (or clause) -> float32 mono samples in [-1, 1] at self.sample_rate."""
        ...
