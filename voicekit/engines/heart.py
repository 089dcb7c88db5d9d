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

    def vocoder_frames(self, sentence: str, speed: float = 1.0, phonemes: str | None = None
                       ) -> list[tuple[np.ndarray, ...]]:
        """The network's output before the waveform, one tuple per phonemised piece:
        (lh, th, ln, lr, phi, f0), envelopes [601, F] float32 and f0 [F] in Hz, 12.5 ms frames.

        speed: the network's own pace control (its duration predictor; 0.5 slow .. 2 fast).
        phonemes: hibari's alphabet (misaki: IPA with O, A, I, W, Y for the diphthongs), spoken
        instead of the sentence's own phonemisation."""
        model = self._model
        out = []
        for piece in ([phonemes] if phonemes is not None else model.phonemize(sentence)):
            ids = model.ids(piece)
            if len(ids) < 3:
                continue
            result = model.sess.run(None, {"ids": np.asarray([ids], np.int64), "speed": np.asarray([speed], np.float32)})
            out.append(tuple(o[0] for o in result))
        return out

    def render(self, frames: list[tuple[np.ndarray, ...]]) -> np.ndarray:
        """Waveform (24 kHz float32) of vocoder frames, with this engine's fixed noise seed."""
        from hibari import dsp

        rng = np.random.default_rng(self.seed)
        parts = [dsp.synth(*f, rng) for f in frames]
        return np.concatenate(parts).astype(np.float32) if parts else np.zeros(0, np.float32)
