"""The engine a cloned profile speaks with: its base voice, converted by the profile's fitted,
signed VoiceConversion.

Two ways to convert: in hibari's vocoder domain for `heart` (before the waveform exists, almost
free), and through the WORLD vocoder (analysis, conversion, resynthesis) for any other engine.
"""
from __future__ import annotations

import hashlib
import json
from typing import Any, Callable, Protocol

import numpy as np

from consent.details import FittedVoice
from voicekit.cloning.conversion import (
    VOICED_HZ,
    VoiceConversion,
    convert_vocoder_frames,
    convert_world,
    vocoder_features,
    world_features,
)
from voicekit.engines.base import Capabilities, Engine
from voicekit.errors import EngineUnavailable
from voicekit.timing import WordTiming

CONVERTIBLE_BASES = ("heart", "joe")
WORLD_FRAME_MS = 5.0
VOCODER_FRAME_MS = 12.5  # hibari's frame period
# WORLD's resynthesis costs quality that vocoder-domain conversion does not (bench/cloning.py: with
# joe nearer the target by up to 0.12, cloning from heart still scored as high or higher, with a
# lower word error rate and at 100x instead of 6x real time; on 2026-11-22 flite kal16, with joe
# nearer by 0.154, cloned through joe to 0.725 SECS and WER 0.30, through heart to 0.750 and 0.15),
# so a WORLD base must be this much nearer.
WORLD_MARGIN = 0.20
# Noise level of a whispered frame below its harmonic envelope (nepers): one harmonic's energy is
# spread over the ~10 bins (200 Hz) between harmonics of a typical voice, 1/sqrt(10) in amplitude.
WHISPER_NOISE_NEPERS = 1.15


def choose_base(nearness: dict[str, float], renderers: dict[str, "Renderer"]) -> str:
    """The base voice to fit from: the nearest, once WORLD bases are handicapped by WORLD_MARGIN."""
    return max(nearness, key=lambda n: nearness[n] - (WORLD_MARGIN if isinstance(renderers[n], WorldRenderer) else 0))


class Renderer(Protocol):
    """Speech of one base engine, prepared once per sentence and rendered under any conversion."""

    engine: Engine

    def prepare(self, sentence: str, speed: float = 1.0) -> Any: ...
    def prepare_timed(self, sentence: str, speed: float = 1.0) -> tuple[Any, list[WordTiming] | None]: ...
    def voiced_f0(self, prepared: Any) -> np.ndarray: ...
    def features(self, prepared: Any) -> tuple[np.ndarray, np.ndarray, float]: ...
    def unvoiced(self, prepared: Any) -> Any: ...
    def render(self, prepared: Any, conversion: VoiceConversion) -> np.ndarray: ...


class VocoderRenderer:
    """heart: its network's vocoder frames, converted before its own waveform synthesis."""

    def __init__(self, engine) -> None:
        self.engine = engine

    def prepare(self, sentence: str, speed: float = 1.0) -> list[tuple[np.ndarray, ...]]:
        return self.engine.vocoder_frames(sentence, speed)

    def prepare_timed(self, sentence: str, speed: float = 1.0, phonemes: str | None = None
                      ) -> tuple[list[tuple[np.ndarray, ...]], list[WordTiming]]:
        return self.engine.timed_frames(sentence, speed, phonemes)

    def voiced_f0(self, prepared: list[tuple[np.ndarray, ...]]) -> np.ndarray:
        return np.concatenate([f[5][f[5] > VOICED_HZ] for f in prepared] or [np.zeros(0)])

    def features(self, prepared: list[tuple[np.ndarray, ...]]) -> tuple[np.ndarray, np.ndarray, float]:
        """Spectral shape per frame [F, bands], which frames are voiced, and the frame period (ms)."""
        return (np.concatenate([vocoder_features(f) for f in prepared]),
                np.concatenate([f[5] > VOICED_HZ for f in prepared]), VOCODER_FRAME_MS)

    def unvoiced(self, prepared: list[tuple[np.ndarray, ...]]) -> list[tuple[np.ndarray, ...]]:
        """Whispered: no pulses; the noise branch takes the harmonic envelope's level, less the
        spread of a harmonic's energy over the bins between harmonics."""
        out = []
        for lh, th, ln, lr, phi, f0 in prepared:
            ln = np.logaddexp(ln, lh - np.float32(WHISPER_NOISE_NEPERS)).astype(np.float32)
            out.append((lh, th, ln, lr, phi, np.zeros_like(f0)))
        return out

    def render(self, prepared: list[tuple[np.ndarray, ...]], conversion: VoiceConversion) -> np.ndarray:
        return self.engine.render([convert_vocoder_frames(f, conversion) for f in prepared])


class WorldRenderer:
    """Any engine: its waveform analysed by WORLD (DIO + StoneMask, CheapTrick, D4C, 5 ms frames),
    converted, and resynthesised."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def prepare(self, sentence: str, speed: float = 1.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return self.prepare_timed(sentence, speed)[0]

    def prepare_timed(self, sentence: str, speed: float = 1.0
                      ) -> tuple[tuple[np.ndarray, np.ndarray, np.ndarray], list[WordTiming] | None]:
        """speed != 1 re-times WORLD's frames (pitch and timbre kept), for engines without a pace
        control; word timings (when the engine gives them) are re-timed with them."""
        import pyworld

        if self.engine.capabilities.word_durations:
            x, words = self.engine.synthesize_timed(sentence)
        else:
            x, words = self.engine.synthesize(sentence), None
        x = x.astype(np.float64)
        fs = self.engine.sample_rate
        f0, times = pyworld.dio(x, fs, frame_period=WORLD_FRAME_MS)
        f0 = pyworld.stonemask(x, f0, times, fs)
        frames = f0, pyworld.cheaptrick(x, f0, times, fs), pyworld.d4c(x, f0, times, fs)
        if speed == 1.0:
            return frames, words
        picks = np.round(np.arange(0, len(f0) - 0.5, speed)).astype(int).clip(0, len(f0) - 1)
        retimed = tuple(np.ascontiguousarray(a[picks]) for a in frames)
        return retimed, None if words is None else [w.scaled(1 / speed) for w in words]

    def voiced_f0(self, prepared: tuple[np.ndarray, ...]) -> np.ndarray:
        return prepared[0][prepared[0] > VOICED_HZ]

    def features(self, prepared: tuple[np.ndarray, ...]) -> tuple[np.ndarray, np.ndarray, float]:
        f0, sp, _ = prepared
        return world_features(sp, self.engine.sample_rate), f0 > VOICED_HZ, WORLD_FRAME_MS

    def unvoiced(self, prepared: tuple[np.ndarray, ...]) -> tuple[np.ndarray, ...]:
        """Whispered: WORLD makes every frame without f0 from noise shaped by the envelope."""
        f0, sp, ap = prepared
        return np.zeros_like(f0), sp, ap

    def render(self, prepared: tuple[np.ndarray, ...], conversion: VoiceConversion) -> np.ndarray:
        import pyworld

        f0, sp, ap = convert_world(*prepared, self.engine.sample_rate, conversion)
        return pyworld.synthesize(f0, sp, ap, self.engine.sample_rate, WORLD_FRAME_MS).astype(np.float32)


def renderer_for(engine: Engine) -> Renderer:
    return VocoderRenderer(engine) if engine.capabilities.vocoder_frames else WorldRenderer(engine)


class ClonedVoice:
    """Engine protocol: the base voice's speech under the profile's conversion."""

    name = "clone"

    def __init__(self, renderer: Renderer, conversion: VoiceConversion) -> None:
        self.renderer = renderer
        self.conversion = conversion

    @classmethod
    def from_fitted(cls, voice: FittedVoice | None, engine: Callable[[str], Engine]) -> "ClonedVoice":
        """voice: a verified clone profile's fitted voice; engine: base engine name -> engine."""
        if voice is None or voice.base not in CONVERTIBLE_BASES:
            raise EngineUnavailable("this profile has no fitted voice; enroll the speaker again to fit one")
        return cls(renderer_for(engine(voice.base)), VoiceConversion.from_dict(voice.conversion))

    @property
    def sample_rate(self) -> int:
        return self.renderer.engine.sample_rate

    @property
    def capabilities(self) -> Capabilities:
        """The base voice's pronunciation and thread safety (the conversion itself, WORLD and numpy,
        keeps no shared state); its timings come through the renderer, not `synthesize_timed`."""
        base = self.renderer.engine.capabilities
        return Capabilities(thread_safe=base.thread_safe, inline_phonemes=base.inline_phonemes)

    @property
    def model_version(self) -> str:
        digest = hashlib.sha256(json.dumps(self.conversion.as_dict(), sort_keys=True).encode()).hexdigest()[:12]
        return f"{self.renderer.engine.model_version} + conversion {digest}"

    def synthesize(self, sentence: str) -> np.ndarray:
        return self.renderer.render(self.renderer.prepare(sentence), self.conversion)
