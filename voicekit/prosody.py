"""Speech under prosody (rate, pitch, volume) and given pronunciations, through any engine.

Pitch and rate are changed where they sound best, never by resampling the waveform:
- `heart`, and clones built on it: the network's own pace control, and f0 in its vocoder frames;
- any other engine: unchanged when the prosody is neutral, otherwise WORLD analysis, re-timed frames
  and shifted f0, resynthesised.
Volume is a gain on the result (peaks kept below full scale).
"""
from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from voicekit import audio
from voicekit.cloning.conversion import VOICED_HZ, VoiceConversion
from voicekit.cloning.engine import ClonedVoice, renderer_for
from voicekit.engines.base import Engine
from voicekit.text.ssml import Prosody

PEAK = 0.98
# IPA (as SSML's <phoneme> and pronunciation lexicons write it) -> hibari's misaki alphabet.
_IPA_TO_MISAKI = (("d͡ʒ", "ʤ"), ("t͡ʃ", "ʧ"), ("dʒ", "ʤ"), ("tʃ", "ʧ"), ("oʊ", "O"), ("əʊ", "Q"), ("eɪ", "A"),
                  ("aɪ", "I"), ("aʊ", "W"), ("ɔɪ", "Y"), ("ɝ", "ɜɹ"), ("r", "ɹ"), ("g", "ɡ"), ("ɾ", "T"), ("͡", ""))


def ipa_to_misaki(ipa: str) -> str:
    for a, b in _IPA_TO_MISAKI:
        ipa = ipa.replace(a, b)
    return ipa


def render(engine: Engine, sentence: str, prosody: Prosody = Prosody(), ipa: str | None = None) -> np.ndarray:
    """float32 samples at engine.sample_rate. ipa: the pronunciation of `sentence`, used by engines
    that take phonemes (heart); others speak the text."""
    if isinstance(engine, ClonedVoice):
        renderer, conversion = engine.renderer, engine.conversion
    else:
        renderer, conversion = renderer_for(engine), VoiceConversion()
    takes_phonemes = ipa is not None and hasattr(renderer.engine, "vocoder_frames")
    if prosody.neutral and not takes_phonemes:
        return engine.synthesize(sentence)
    if takes_phonemes:
        prepared = renderer.engine.vocoder_frames(sentence, prosody.rate, phonemes=ipa_to_misaki(ipa))
    else:
        prepared = renderer.prepare(sentence, prosody.rate)
    semitones = prosody.pitch_st + _hz_as_semitones(prosody.pitch_hz, renderer.voiced_f0(prepared))
    samples = renderer.render(prepared, replace(conversion, f0_shift=conversion.f0_shift + semitones))
    return apply_volume(samples, prosody.volume_db)


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


def trim_edges(samples: np.ndarray, sample_rate: int, start: bool, end: bool) -> np.ndarray:
    """Cut leading (start) and trailing (end) silence below SILENCE_DB down to EDGE_KEEP_S."""
    if not (start or end):
        return samples
    loud = np.flatnonzero(audio.frame_levels_db(samples, sample_rate, FRAME_S) > SILENCE_DB)
    if len(loud) == 0:
        return samples
    frame, keep = int(FRAME_S * sample_rate), int(EDGE_KEEP_S * sample_rate)
    first = max(0, loud[0] * frame - keep) if start else 0
    last = min(len(samples), (loud[-1] + 1) * frame + keep) if end else len(samples)
    return samples[first:last]
