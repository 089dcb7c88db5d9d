"""What singing needs of a voice: a word's frames with the span of every phoneme, frames taken in any
order, f0 set per frame, and the waveform of frames.

heart (and clones fitted on it) sing in hibari's own vocoder frames (12.5 ms), before any waveform
exists; joe (and its clones) through WORLD (5 ms frames of DIO/StoneMask, CheapTrick and D4C over
the engine's speech). A clone's conversion is applied to the sung frames with the score's f0 kept
(its own f0 mapping would move the melody).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from voicekit.cloning.conversion import VoiceConversion, convert_vocoder_frames, convert_world
from voicekit.cloning.engine import WORLD_FRAME_MS, ClonedVoice, VocoderRenderer
from voicekit.engines.base import Engine
from voicekit.engines.heart import HOP as HEART_HOP
from voicekit.errors import EngineUnavailable

SUNG_PERIODIC_HZ, SUNG_APERIODICITY = 4000.0, 0.05
SUNG_NOISE_NEPERS = 1.0
SUNG_RESIDUAL_NEPERS = 1.0
VOWEL_BAND_HZ = (700.0, 2000.0)
Frames = Any  # heart: (lh, th, ln, lr, phi, f0), time on the last axis; WORLD: (f0, sp, ap), time first


@dataclass(frozen=True)
class Spoken:
    """A word as the voice says it: its frames, and (phoneme, first frame, end frame) per phoneme."""

    frames: Frames
    phonemes: list[tuple[str, int, int]]
    level: np.ndarray  # log amplitude per frame (nepers, any offset): where the vowel is steady and loud
    vowel_band: np.ndarray  # power per frame in VOWEL_BAND_HZ (F1 and F2): where a vowel starts
    frame_s: float


class HeartSinger:
    def __init__(self, engine: Engine, conversion: VoiceConversion | None = None) -> None:
        self.engine = engine
        self.base_name = engine.name
        self.conversion = conversion
        self.sample_rate = engine.sample_rate
        self.frame_s = HEART_HOP / engine.sample_rate

    def word(self, text: str) -> Spoken:
        frames, spans = self.engine.phoneme_frames(self.engine.phonemes(text))
        bins = np.fft.rfftfreq(2 * (frames[0].shape[0] - 1), 1 / self.sample_rate)
        band = (bins >= VOWEL_BAND_HZ[0]) & (bins <= VOWEL_BAND_HZ[1])
        return Spoken(frames, spans, np.log(np.exp(frames[0]).mean(axis=0) + 1e-9),
                      np.exp(2 * frames[0][band]).mean(axis=0), self.frame_s)

    def take(self, frames: Frames, index: np.ndarray) -> Frames:
        """Frames in the order `index` gives. A frame used again gets fresh phases for its
        deterministic residual (phi): the same phases every 12.5 ms would buzz at 80 Hz."""
        lh, th, ln, lr, phi, f0 = (np.ascontiguousarray(a[..., index]) for a in frames)
        again = np.ones(len(index), bool)
        again[np.unique(index, return_index=True)[1]] = False
        if again.any():
            rng = np.random.default_rng(len(index))
            phi[:, again] = rng.uniform(-np.pi, np.pi, (phi.shape[0], int(again.sum()))).astype(phi.dtype)
        return lh, th, ln, lr, phi, f0

    def f0(self, frames: Frames) -> np.ndarray:
        return frames[5]

    def with_f0(self, frames: Frames, f0: np.ndarray, vowel: np.ndarray) -> Frames:
        """A sung vowel's noise is kept SUNG_NOISE_NEPERS under its harmonics (a word-final or
        reduced vowel is breathy in speech and would be sung as a whisper), and its residual (lr,
        phi: the spoken harmonics' fine structure, at the spoken f0) SUNG_RESIDUAL_NEPERS down, so
        the harmonics are the new f0's. Not further: the energy between the harmonics carries the
        watermark, and with the residual 3 Np down a held note's blind detection fell from p ~1e-24
        to ~1e-5 and the gate refused some songs; at 1 Np it is ~1e-10, voicing errors 1-7 %."""
        lh, th, ln, lr, phi, _ = frames
        ln, lr = ln.copy(), lr.copy()
        ln[:, vowel] = np.minimum(ln[:, vowel], lh[:, vowel] - np.float32(SUNG_NOISE_NEPERS))
        lr[:, vowel] -= np.float32(SUNG_RESIDUAL_NEPERS)
        return lh, th, ln, lr, phi, f0.astype(np.float32)

    def render(self, frames: Frames) -> np.ndarray:
        if self.conversion is not None:
            frames = (*convert_vocoder_frames(frames, self.conversion)[:5], frames[5])
        return self.engine.render([frames])


class WorldSinger:
    def __init__(self, engine: Engine, conversion: VoiceConversion | None = None) -> None:
        if not engine.capabilities.phoneme_spans:
            raise EngineUnavailable(f"the voice engine {engine.name!r} gives no phoneme durations, so it cannot sing")
        self.engine = engine
        self.base_name = engine.name
        self.conversion = conversion
        self.sample_rate = engine.sample_rate
        self.frame_s = WORLD_FRAME_MS / 1000

    def word(self, text: str) -> Spoken:
        import pyworld

        samples, spans = self.engine.phoneme_spans(text)
        x = samples.astype(np.float64)
        f0, times = pyworld.dio(x, self.sample_rate, frame_period=WORLD_FRAME_MS)
        f0 = pyworld.stonemask(x, f0, times, self.sample_rate)
        frames = (f0, pyworld.cheaptrick(x, f0, times, self.sample_rate), pyworld.d4c(x, f0, times, self.sample_rate))
        per_frame = self.sample_rate * self.frame_s
        bins = np.linspace(0, self.sample_rate / 2, frames[1].shape[1])
        band = (bins >= VOWEL_BAND_HZ[0]) & (bins <= VOWEL_BAND_HZ[1])
        return Spoken(frames, [(p, int(round(a / per_frame)), int(round(b / per_frame))) for p, a, b in spans],
                      0.5 * np.log(frames[1].mean(axis=1) + 1e-16), frames[1][:, band].mean(axis=1), self.frame_s)

    def take(self, frames: Frames, index: np.ndarray) -> Frames:
        return tuple(np.ascontiguousarray(a[index]) for a in frames)

    def f0(self, frames: Frames) -> np.ndarray:
        return frames[0]

    def with_f0(self, frames: Frames, f0: np.ndarray, vowel: np.ndarray) -> Frames:
        """A sung vowel is periodic below SUNG_PERIODIC_HZ whatever D4C heard in the spoken one
        (a reduced vowel, "to" as [tə], is half breath in speech and would be sung as noise)."""
        f0_, sp, ap = frames
        ap = ap.copy()
        top = int(SUNG_PERIODIC_HZ / (self.sample_rate / 2) * (ap.shape[1] - 1))
        ap[vowel, :top] = np.minimum(ap[vowel, :top], SUNG_APERIODICITY)
        return f0.astype(np.float64), sp, ap

    def render(self, frames: Frames) -> np.ndarray:
        import pyworld

        f0, sp, ap = frames
        if self.conversion is not None:
            _, sp, ap = convert_world(f0, sp, ap, self.sample_rate, self.conversion)
        return pyworld.synthesize(f0, sp, ap, self.sample_rate, WORLD_FRAME_MS).astype(np.float32)


def singer_for(engine: Engine) -> HeartSinger | WorldSinger:
    """The singer for a house engine or a clone of one; raises EngineUnavailable for an engine
    that cannot say which frames hold which phoneme (coqui model voices)."""
    if isinstance(engine, ClonedVoice):
        base = engine.renderer.engine
        kind = HeartSinger if isinstance(engine.renderer, VocoderRenderer) else WorldSinger
        return kind(base, engine.conversion)
    if engine.capabilities.vocoder_frames:
        return HeartSinger(engine)
    return WorldSinger(engine)
