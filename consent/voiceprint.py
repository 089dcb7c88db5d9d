"""Who is speaking, and is there enough clean speech to say: voice activity (webrtcvad), reference
quality (voiced time, clipping, signal-to-noise) and speaker embeddings (resemblyzer, GE2E).

All audio here is float32 mono at VOICEPRINT_RATE (16 kHz), the rate both models expect.
"""
from __future__ import annotations

import importlib
import warnings
from dataclasses import dataclass
from functools import cached_property
from types import ModuleType

import numpy as np

VOICEPRINT_RATE = 16000
VAD_FRAME = 480  # 30 ms at 16 kHz, a frame size webrtcvad accepts
VAD_AGGRESSIVENESS = 2
CLIP_LEVEL = 0.999
SEGMENT_S = 5.0  # speaker-consistency segments of the references


@dataclass(frozen=True)
class SpeechQuality:
    """voiced_s: seconds webrtcvad calls speech. clipped_fraction: share of samples at full scale.
    snr_db: mean power of voiced frames over that of the quietest tenth of frames (capped at 100 dB)."""

    duration_s: float
    voiced_s: float
    clipped_fraction: float
    snr_db: float


def _quietly_imported(name: str) -> ModuleType:
    """`name` imported with the warnings of its own import silenced: webrtcvad imports the
    deprecated pkg_resources and resemblyzer a deprecated scipy namespace. They are about those
    packages' code, not the caller's, and would print on every `voicekit enroll`."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="pkg_resources is deprecated", category=UserWarning)
        warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"resemblyzer\.")
        return importlib.import_module(name)


def voiced_frames(samples: np.ndarray, rate: int = VOICEPRINT_RATE) -> np.ndarray:
    """One bool per 30 ms frame: is it speech? samples: float32 mono at `rate` (8, 16, 32 or 48 kHz,
    the rates webrtcvad takes)."""
    webrtcvad = _quietly_imported("webrtcvad")
    vad = webrtcvad.Vad(VAD_AGGRESSIVENESS)
    frame = VAD_FRAME * rate // VOICEPRINT_RATE
    n = len(samples) // frame
    pcm = (np.clip(samples[: n * frame], -1.0, 1.0) * 32767).astype("<i2")
    return np.array([vad.is_speech(pcm[i * frame:(i + 1) * frame].tobytes(), rate) for i in range(n)], dtype=bool)


def voiced_audio(samples: np.ndarray) -> np.ndarray:
    """Only the frames webrtcvad calls speech, joined: what speaker embeddings should hear."""
    voiced = voiced_frames(samples)
    frames = samples[: len(voiced) * VAD_FRAME].reshape(len(voiced), VAD_FRAME)
    return frames[voiced].reshape(-1)


def speech_quality(samples: np.ndarray) -> SpeechQuality:
    """samples: float32 mono at 16 kHz."""
    voiced = voiced_frames(samples)
    n = len(voiced)
    frames = samples[: n * VAD_FRAME].reshape(n, VAD_FRAME).astype(np.float64) if n else np.zeros((0, VAD_FRAME))
    power = (frames ** 2).mean(axis=1)
    if voiced.any():
        noise = float(np.mean(np.sort(power)[: max(1, n // 10)]))
        snr = 10 * np.log10(float(power[voiced].mean()) / max(noise, 1e-12))
    else:
        snr = 0.0
    clipped = float(np.mean(np.abs(samples) >= CLIP_LEVEL)) if len(samples) else 0.0
    return SpeechQuality(
        duration_s=len(samples) / VOICEPRINT_RATE,
        voiced_s=float(voiced.sum()) * VAD_FRAME / VOICEPRINT_RATE,
        clipped_fraction=clipped,
        snr_db=float(min(snr, 100.0)),
    )


class SpeakerEncoder:
    """resemblyzer's GE2E encoder (weights inside its wheel), loaded on first use, on the CPU.

    Embeddings are 256 floats with unit norm; similarity is their dot product (cosine), in [0, 1] in
    practice: same voice about 0.85-0.95, different voices 0.4-0.7.
    """

    def __init__(self, threads: int = 1) -> None:
        """threads: torch's intra-op threads, set when the encoder loads. torch keeps one pool per
        process, so this sets it for every torch model in the process; resemblyzer's small LSTM runs
        faster on one thread than on two (0.087 s against 0.138 s per 10 s of speech on a 2-core
        machine), and concurrent requests use the other cores."""
        self.threads = threads

    @cached_property
    def _encoder(self):
        import torch

        torch.set_num_threads(self.threads)
        return _quietly_imported("resemblyzer").VoiceEncoder("cpu", verbose=False)

    def embed(self, samples: np.ndarray) -> np.ndarray:
        """samples: float32 mono at 16 kHz, at least about 1 s of speech."""
        preprocess_wav = _quietly_imported("resemblyzer").preprocess_wav
        return self._encoder.embed_utterance(preprocess_wav(samples, VOICEPRINT_RATE)).astype(np.float32)

    def embed_segments(self, samples: np.ndarray, seconds: float = SEGMENT_S) -> list[np.ndarray]:
        """One embedding per `seconds` of audio (the last, short piece joins the one before); give it
        voiced audio (voiced_audio) so every segment is speech."""
        size = int(seconds * VOICEPRINT_RATE)
        bounds = list(range(0, len(samples), size))
        if len(bounds) > 1 and len(samples) - bounds[-1] < size // 2:
            bounds.pop()
        ends = bounds[1:] + [len(samples)]
        return [self.embed(samples[a:b]) for a, b in zip(bounds, ends)]


def similarity(a: np.ndarray, b: np.ndarray) -> float:
    """Cosine similarity of two embeddings."""
    return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))


def centroid(embeddings: list[np.ndarray]) -> np.ndarray:
    """The unit-norm mean embedding: the voice the profile stands for."""
    mean = np.mean(embeddings, axis=0)
    return (mean / np.linalg.norm(mean)).astype(np.float32)
