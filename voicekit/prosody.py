"""Speech under prosody (rate, pitch, volume), a speaking style and given pronunciations, through any engine.

Pitch and rate are changed where they sound best, never by resampling the waveform:
- `heart`, and clones built on it: the network's own pace control, and f0 in its vocoder frames;
- any other engine: unchanged when the prosody is neutral, otherwise WORLD analysis, re-timed frames
  and shifted f0, resynthesised.
Volume is a gain on the result (peaks kept below full scale). A style's pitch range, tilt and
breathiness join the voice's own conversion; its whisper removes voicing (voicekit.styles).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from voicekit import audio
from voicekit.cloning.conversion import VOICED_HZ, VoiceConversion
from voicekit.cloning.engine import ClonedVoice, VocoderRenderer, renderer_for
from voicekit.engines.base import Engine
from voicekit.styles import NEUTRAL, Style
from voicekit.text.lexicon import ipa_to_misaki
from voicekit.text.ssml import Prosody
from voicekit.timing import WordTiming

PEAK = 0.98


@dataclass(frozen=True)
class Rendered:
    """samples at the engine's rate; words: when each word is heard in them, or None when the
    engine cannot tell (coqui), for the caller to align if it needs them."""

    samples: np.ndarray
    words: list[WordTiming] | None


def render(engine: Engine, sentence: str, prosody: Prosody = Prosody(), ipa: str | None = None,
           style: Style = NEUTRAL) -> Rendered:
    """Speech of `sentence` under `prosody` (which already holds the style's rate, pitch level and
    energy) and the style's voice quality. ipa: the pronunciation of `sentence`, used by engines
    that take phonemes (heart); others speak the text."""
    if isinstance(engine, ClonedVoice):
        renderer, conversion = engine.renderer, engine.conversion
    else:
        renderer, conversion = renderer_for(engine), VoiceConversion()
    vocoder = isinstance(renderer, VocoderRenderer)
    if not vocoder and prosody.neutral and style.neutral and conversion == VoiceConversion():
        if engine.capabilities.word_durations:
            return Rendered(*engine.synthesize_timed(sentence))
        return Rendered(engine.synthesize(sentence), None)
    if vocoder:
        prepared, words = renderer.prepare_timed(sentence, prosody.rate, None if ipa is None else ipa_to_misaki(ipa))
    else:
        prepared, words = renderer.prepare_timed(sentence, prosody.rate)
    semitones = prosody.pitch_st + _hz_as_semitones(prosody.pitch_hz, renderer.voiced_f0(prepared))
    if style.whisper:
        prepared = renderer.unvoiced(prepared)
    conversion = replace(conversion, f0_shift=conversion.f0_shift + semitones,
                         f0_range=conversion.f0_range * style.pitch_range,
                         breath_db=conversion.breath_db + style.breath_db,
                         eq_3k_db=conversion.eq_3k_db + style.tilt_db, eq_7k_db=conversion.eq_7k_db + style.tilt_db)
    return Rendered(apply_volume(renderer.render(prepared, conversion), prosody.volume_db), words)


def _hz_as_semitones(hz: float, voiced_f0: np.ndarray) -> float:
    """An f0 offset in Hz as semitones at this sentence's median pitch (SSML's "+20Hz")."""
    voiced = voiced_f0[voiced_f0 > VOICED_HZ]
    if hz == 0 or len(voiced) == 0:
        return 0.0
    median = float(np.median(voiced))
    return 12 * math.log2(max(median + hz, 20.0) / median)


def apply_volume(samples: np.ndarray, volume_db: float) -> np.ndarray:
    if volume_db == 0:
        return samples
    if volume_db == -math.inf:
        return np.zeros_like(samples)
    louder = samples * np.float32(10 ** (volume_db / 20))
    peak = float(np.max(np.abs(louder))) if len(louder) else 0.0
    return (louder * (PEAK / peak) if peak > PEAK else louder).astype(np.float32)


EDGE_KEEP_S = 0.04
FRAME_S = 0.01
SILENCE_DB = -50.0


def trim_edges(samples: np.ndarray, sample_rate: int, start: bool, end: bool) -> tuple[np.ndarray, int]:
    """Cut leading (start) and trailing (end) silence below SILENCE_DB down to EDGE_KEEP_S;
    returns the samples kept and how many were cut from the start."""
    if not (start or end):
        return samples, 0
    loud = np.flatnonzero(audio.frame_levels_db(samples, sample_rate, FRAME_S) > SILENCE_DB)
    if len(loud) == 0:
        return samples, 0
    frame, keep = int(FRAME_S * sample_rate), int(EDGE_KEEP_S * sample_rate)
    first = max(0, loud[0] * frame - keep) if start else 0
    last = min(len(samples), (loud[-1] + 1) * frame + keep) if end else len(samples)
    return samples[first:last], first
