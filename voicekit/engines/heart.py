"""`heart`: hibari-tts's embedded American English voice (Apache-2.0), ONNX on the CPU, 24 kHz.

Besides the waveform, the network's duration predictor tells how long each phoneme lasts; we expose
that tensor as an extra model output (hibari's session does not return it), so word timings come
from the model itself, exact to its 25 ms duration unit, whatever the pace or pitch.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import cached_property
from importlib.metadata import version

import numpy as np

from voicekit.engines.base import Capabilities
from voicekit.errors import EngineUnavailable
from voicekit.timing import PUNCTUATION, WordTiming

HOP = 300  # samples per vocoder frame at 24 kHz (12.5 ms)
_CLAUSE_END = re.compile(r"[,;:\u2014]$")


@dataclass(frozen=True)
class _Word:
    """A run of tokens between spaces, as the text wrote it ("$5.20", "fourth,"), and the span of
    the piece's phoneme string it was read as."""

    text: str
    start: int
    end: int


class HeartEngine:
    name = "heart"
    # Checked: 6 threads on one engine render exactly what one thread does, and 8 threads through
    # Studio.speak rendered 150 requests of 1-30 sentences without a failure.
    capabilities = Capabilities(thread_safe=True, inline_phonemes="misaki", vocoder_frames=True)
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

        model = Hibari(voice="heart", threads=self.threads)
        model.sess = _session_with_durations(model.model_path, self.threads)
        return model

    @property
    def model_version(self) -> str:
        return f"hibari-tts {version('hibari-tts')} voice heart"

    def synthesize(self, sentence: str) -> np.ndarray:
        return self.render(self.vocoder_frames(sentence))

    def vocoder_frames(self, sentence: str, speed: float = 1.0, phonemes: str | None = None
                       ) -> list[tuple[np.ndarray, ...]]:
        """The network's output before the waveform, one tuple per phonemised piece:
        (lh, th, ln, lr, phi, f0), envelopes [601, F] float32 and f0 [F] in Hz, 12.5 ms frames.

        speed: the network's own pace control (its duration predictor; 0.5 slow .. 2 fast).
        phonemes: hibari's alphabet (misaki: IPA with O, A, I, W, Y for the diphthongs), spoken
        instead of the sentence's own phonemisation."""
        return self.timed_frames(sentence, speed, phonemes)[0]

    def timed_frames(self, sentence: str, speed: float = 1.0, phonemes: str | None = None
                     ) -> tuple[list[tuple[np.ndarray, ...]], list[WordTiming]]:
        """vocoder_frames, and when each word starts and ends in the audio they render to (seconds)."""
        model = self._model
        if phonemes is not None:
            pieces = [(phonemes, [_Word(sentence.strip(), 0, len(phonemes))])]
        else:
            pieces = self._pieces(sentence)
        frames_out: list[tuple[np.ndarray, ...]] = []
        words: list[WordTiming] = []
        offset_s = 0.0
        for ps, piece_words in pieces:
            ids, char_of_id = [0], [-1]
            for i, c in enumerate(ps):
                if c in model.vocab:
                    ids.append(model.vocab[c])
                    char_of_id.append(i)
            ids.append(0)
            char_of_id.append(-1)
            if len(ids) < 3:
                continue
            *frames, durations = model.sess.run(
                None, {"ids": np.asarray([ids], np.int64), "speed": np.asarray([speed], np.float32)})
            frames = tuple(o[0] for o in frames)
            seconds = frames[0].shape[-1] * HOP / self.sample_rate
            ends = np.cumsum(durations) * (seconds / max(float(durations.sum()), 1.0))
            starts = np.concatenate([[0.0], ends[:-1]])
            owner = np.asarray(char_of_id)
            for word in piece_words:
                inside = np.flatnonzero((owner >= word.start) & (owner < word.end))
                if len(inside):
                    words.append(WordTiming(word.text, round(offset_s + float(starts[inside[0]]), 4),
                                            round(offset_s + float(ends[inside[-1]]), 4)))
            frames_out.append(frames)
            offset_s += seconds
        return frames_out, words

    def phonemes(self, text: str) -> str:
        """hibari's phonemes (misaki) for `text`, words separated by spaces."""
        from hibari.g2p.normalize import normalize

        model = self._model
        tokens = model.g2p.phonemize_tokens(model.g2p.tokenize(normalize(unicodedata.normalize("NFKC", text))))
        return " ".join(t.phonemes for t in tokens if t.phonemes).strip()

    def phoneme_frames(self, phonemes: str) -> tuple[tuple[np.ndarray, ...], list[tuple[str, int, int]]]:
        """The vocoder frames of one phoneme string (at most hibari's phoneme limit), and which
        frames each of its characters the network kept spans: (character, first frame, end frame)."""
        model = self._model
        kept = [c for c in phonemes if c in model.vocab]
        ids = [0, *(model.vocab[c] for c in kept), 0]
        *frames, durations = model.sess.run(
            None, {"ids": np.asarray([ids], np.int64), "speed": np.asarray([1.0], np.float32)})
        frames = tuple(o[0] for o in frames)
        n = frames[0].shape[-1]
        ends = np.round(np.cumsum(durations) * (n / max(float(durations.sum()), 1.0))).astype(int)
        starts = np.concatenate([[0], ends[:-1]])
        return frames, [(c, int(starts[i + 1]), int(ends[i + 1])) for i, c in enumerate(kept)]

    def render(self, frames: list[tuple[np.ndarray, ...]]) -> np.ndarray:
        """Waveform (24 kHz float32) of vocoder frames, with this engine's fixed noise seed."""
        from hibari import dsp

        rng = np.random.default_rng(self.seed)
        parts = [dsp.synth(*f, rng) for f in frames]
        return np.concatenate(parts).astype(np.float32) if parts else np.zeros(0, np.float32)

    def _pieces(self, text: str) -> list[tuple[str, list[_Word]]]:
        """hibari's phonemisation (sentences, then clauses of a sentence over its phoneme limit),
        keeping which words each phoneme span came from. Words are the text's space-separated runs;
        pronunciations given inline as [word](/phonemes/) are kept. Compatibility characters are
        folded first (NFKC: '¹' -> '1', 'ﬁ' -> 'fi'): hibari reads any str.isdigit() run as a number
        and int() fails on superscripts (found by the API's schemathesis run)."""
        from hibari.g2p.normalize import normalize
        from hibari.tts import MAX_PHONEMES

        model = self._model
        pieces = []
        for sentence in model.split_sentences(unicodedata.normalize("NFKC", text)):
            groups: list[tuple[str, str]] = []  # (text, phonemes) between spaces
            run_text, run_ps = "", ""
            for token in model.g2p.phonemize_tokens(model.g2p.tokenize(normalize(sentence))):
                run_text += token.text
                run_ps += token.phonemes or ""
                if token.whitespace:
                    groups.append((run_text, run_ps))
                    run_text, run_ps = "", ""
            groups.append((run_text, run_ps))
            groups = [(t, p) for t, p in groups if p]
            for clause in _packed(groups, MAX_PHONEMES):
                ps, words = "", []
                for text_run, run_ps in clause:
                    start = len(ps) + (1 if ps else 0)
                    ps = f"{ps} {run_ps}" if ps else run_ps
                    word = text_run.strip(PUNCTUATION)
                    spoken = run_ps.strip(PUNCTUATION)  # a pause read for "," or "?" is not the word's
                    if any(c.isalnum() for c in word) and spoken:
                        lead = run_ps.index(spoken)
                        words.append(_Word(word, start + lead, start + lead + len(spoken)))
                pieces.append((ps, words))
        return pieces


def _packed(groups: list[tuple[str, str]], limit: int) -> list[list[tuple[str, str]]]:
    """Words of a sentence in pieces of at most `limit` phoneme characters, cut after clause
    punctuation as hibari cuts them (a single clause over the limit stays whole)."""
    if sum(len(p) + 1 for _, p in groups) - 1 <= limit:
        return [groups]
    clauses: list[list[tuple[str, str]]] = [[]]
    for group in groups:
        clauses[-1].append(group)
        if _CLAUSE_END.search(group[1]):
            clauses.append([])
    out: list[list[tuple[str, str]]] = []
    size = 0
    for clause in (c for c in clauses if c):
        length = sum(len(p) + 1 for _, p in clause) - 1
        if out and size + length + 1 <= limit:
            out[-1].extend(clause)
            size += length + 1
        else:
            out.append(list(clause))
            size = length
    return out


def _session_with_durations(model_path: str, threads: int):
    """An onnxruntime session of hibari's model that also returns the duration predictor's rounded,
    clipped per-phoneme durations (the Clip after the one Round) as a seventh output."""
    import onnx
    import onnxruntime

    model = onnx.load(model_path)
    producers = {out: node for node in model.graph.node for out in node.output}
    clipped = [node.output[0] for node in model.graph.node
               if node.op_type == "Clip" and producers.get(node.input[0]) is not None
               and producers[node.input[0]].op_type == "Round"]
    if len(clipped) != 1:
        raise EngineUnavailable(f"{model_path} has no single duration tensor; this hibari-tts model is not supported")
    durations = onnx.helper.ValueInfoProto()
    durations.name = clipped[0]
    model.graph.output.append(durations)
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = threads
    options.log_severity_level = 3
    return onnxruntime.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
