"""`heart`: hibari-tts's embedded American English voice (Apache-2.0), ONNX on the CPU, 24 kHz."""
from __future__ import annotations

from functools import cached_property
from importlib.metadata import version

import numpy as np


class HeartEngine:
    name = "heart"
    sample_rate = 24000
    licence = "Apache-2.0 (hibari-tts, voice 'heart')"

    def __init__(self, threads: int = 1, seed: int = 0) -> None:
        """threads: onnxruntime threads (one core renders ~100x real time). seed: fixes the vocoder
        noise so the same text renders to the same samples."""
        self.threads = threads
        self.seed = seed

    @cached_property
    def _model(self):
        from hibari import Hibari

        return Hibari(voice="heart", threads=self.threads)

    @property
    def model_version(self) -> str:
        return f"hibari-tts {version('hibari-tts')} voice heart"

    def synthesize(self, sentence: str) -> np.ndarray:
        return np.asarray(self._model(sentence, seed=self.seed), np.float32)
