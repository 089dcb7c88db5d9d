"""Fit a VoiceConversion to a consented speaker, at enrollment.

Start from what can be measured (the pitch ratio of the references to the base voice, and the
vocal-tract ratio that pitch ratio makes plausible), then search the eight parameters with Powell's
method, maximising resemblyzer similarity between converted base speech and the enrollment part of
the references. Bounds keep the search physical: an unconstrained search finds warps that keep the
embedding close while the words turn to mush. The fit is then checked on held-out references and
for intelligibility (pocketsphinx word error rate), and pulled back towards no conversion if the
words drift.
"""
from __future__ import annotations

import threading
import time
import weakref
from dataclasses import dataclass, replace
from typing import Any, Callable

import numpy as np

from voicekit.cloning.classes import SoundClasses, learn
from voicekit.cloning.conversion import EQ_CENTRES_HZ, VoiceConversion, envelope_centres_hz, world_features

FIT_SENTENCES = (
    "The old lighthouse keeper climbed the winding stairs every evening to light the lamp.",
    "She packed a small bag with bread, cheese and apples before setting out at dawn.",
)
CHECK_SENTENCES = (
    "Rain had fallen all week, and the river was running high under the stone bridge.",
    "He wrote a long letter to his sister and walked to the post office.",
)
# Formant frequencies follow vocal-tract length, which varies far less than pitch between voices:
# about a quarter of the log pitch ratio, within +/- 8 %.
WARP_PER_PITCH = 0.25
WARP_SLACK = 0.08
MAX_WER_LOSS = 0.05
# The envelope correction is measured only where the references carry sound (a telephone recording
# stops near 4 kHz); above that the base voice keeps its own spectrum, so a narrowband recording
# does not teach the clone to sound like a telephone line.
BANDWIDTH_FLOOR_DB = 45.0
MAX_ENVELOPE_DB = 12.0
HELD_OUT_SHARE = 0.25


@dataclass(frozen=True)
class FitReport:
    """SECS: resemblyzer cosine of converted (or base) speech with the enrollment / held-out parts."""

    secs_base: float
    secs_fitted: float
    heldout_secs_base: float
    heldout_secs_fitted: float
    wer_base: float
    wer_fitted: float
    blend: float
    evaluations: int
    seconds: float
    fitting_s: float = 0.0  # seconds of the person's speech fitted on
    held_out_s: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {k: round(float(v), 4) for k, v in self.__dict__.items()}


# What a base voice sounds like unconverted is the same for every person fitted from it: its
# sentences prepared, their embedding and their word error rate. Kept per engine (weakly: a studio
# that goes drops them) so that each enrollment does not read the base voices again (about 5 s of
# a 25 s enrollment did).
_BASE_READINGS: "weakref.WeakKeyDictionary[Any, dict]" = weakref.WeakKeyDictionary()
_BASE_READINGS_LOCK = threading.Lock()


def _base_reading(renderer, key: tuple, compute: Callable[[], Any]) -> Any:
    with _BASE_READINGS_LOCK:
        readings = _BASE_READINGS.setdefault(renderer.engine, {})
        if key in readings:
            return readings[key]
    value = compute()  # outside the lock: two first enrollments at once both compute, alike
    with _BASE_READINGS_LOCK:
        return readings.setdefault(key, value)


def _prepared(renderer) -> tuple[list, list]:
    """The base voice's fit sentences and its check sentences (one list each), prepared."""
    return _base_reading(renderer, ("prepared",), lambda: (
        [renderer.prepare(s) for s in FIT_SENTENCES], [[renderer.prepare(s)] for s in CHECK_SENTENCES]))


def _speech(renderer, prepared: list, conversion: "VoiceConversion") -> np.ndarray:
    from voicekit.audio import resample

    return resample(np.concatenate([renderer.render(p, conversion) for p in prepared]),
                    renderer.engine.sample_rate, 16000)


def _base_embedding(renderer, embed: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    return _base_reading(renderer, ("embedding", embed),
                         lambda: embed(_speech(renderer, _prepared(renderer)[0], VoiceConversion())))


def world_f0(samples16k: np.ndarray, frame_ms: float = 10.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """16 kHz speech as float64, its f0 per frame (0 where unvoiced) and the frame times: WORLD's
    DIO refined by StoneMask."""
    import pyworld

    x = samples16k.astype(np.float64)
    f0, t = pyworld.dio(x, 16000, frame_period=frame_ms)
    return x, pyworld.stonemask(x, f0, t, 16000), t


def log_f0_stats(f0: np.ndarray) -> tuple[float, float]:
    """Median and spread (std) of log-f0 over the voiced frames of a 10 ms f0 track."""
    voiced = np.log(f0[f0 > 40])
    if len(voiced) < 10:
        raise ValueError("too little voiced speech to measure pitch")
    return float(np.median(voiced)), float(np.std(voiced))


def median_log_f0(samples16k: np.ndarray) -> tuple[float, float]:
    """Median and spread (std) of log-f0 over voiced frames of 16 kHz speech."""
    return log_f0_stats(world_f0(samples16k)[1])


def average_spectrum_db(samples16k: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Frequencies (Hz) and the mean power spectrum in dB of 16 kHz speech (512-point Hann frames)."""
    n, hop = 512, 256
    count = max(1, (len(samples16k) - n) // hop)
    frames = np.stack([samples16k[i * hop:i * hop + n] for i in range(count)]) * np.hanning(n)
    power = np.mean(np.abs(np.fft.rfft(frames, axis=1)) ** 2, axis=0)
    return np.fft.rfftfreq(n, 1 / 16000), 10 * np.log10(power + 1e-12)


def bandwidth_hz(samples16k: np.ndarray) -> tuple[float, float]:
    """The lowest and highest frequencies whose mean power is within BANDWIDTH_FLOOR_DB of the peak."""
    freqs, db = average_spectrum_db(samples16k)
    inside = freqs[(db >= db.max() - BANDWIDTH_FLOOR_DB) & (freqs >= 50)]
    return float(inside.min()), float(inside.max())


def measured_envelope(person: np.ndarray, base: np.ndarray, bandwidth: tuple[float, float]) -> tuple[float, ...]:
    """Per-band dB that takes the base voice's average spectrum to the person's, level removed,
    zero outside the person's bandwidth."""
    freqs, person_db = average_spectrum_db(person)
    _, base_db = average_spectrum_db(base)
    centres = envelope_centres_hz()
    edges = np.concatenate([[0.0], (centres[1:] + centres[:-1]) / 2, [8000.0]])
    diff = np.array([np.mean((person_db - base_db)[(freqs >= a) & (freqs < b)] if np.any((freqs >= a) & (freqs < b))
                             else 0.0) for a, b in zip(edges[:-1], edges[1:])])
    inside = (centres >= bandwidth[0]) & (centres <= bandwidth[1])
    diff = np.where(inside, diff - diff[inside].mean(), 0.0)
    return tuple(float(x) for x in np.clip(diff, -MAX_ENVELOPE_DB, MAX_ENVELOPE_DB))


def world_shapes(samples16k: np.ndarray, frame_ms: float) -> tuple[np.ndarray, np.ndarray]:
    """WORLD's spectral shape per frame of 16 kHz speech [T, bands], and its f0 per frame."""
    import pyworld

    x, f0, t = world_f0(samples16k, frame_ms)
    return world_features(pyworld.cheaptrick(x, f0, t, 16000), 16000), f0


def sound_classes(renderer, prepared: list, conversion: VoiceConversion, person: np.ndarray) -> SoundClasses:
    """Class corrections (voicekit.cloning.classes) of the base voice's fit sentences, globally
    converted, towards the person (their voiced frames' shapes, from world_shapes)."""
    from voicekit.audio import resample

    own, base_world = [], []
    for p in prepared:
        features, voiced, frame_ms = renderer.features(p)
        rendered = resample(renderer.render(p, conversion), renderer.engine.sample_rate, 16000)
        world, _ = world_shapes(rendered, frame_ms)
        n = min(len(features), len(world))
        own.append(features[:n][voiced[:n]])
        base_world.append(world[:n][voiced[:n]])
    return learn(np.concatenate(own), np.concatenate(base_world), person)


def _bounds(start: VoiceConversion, bandwidth: tuple[float, float]) -> list[tuple[float, float]]:
    pitch_ratio = start.f0_shift * np.log(2) / 12
    warp_centre = np.exp(WARP_PER_PITCH * pitch_ratio)
    eq = [(-9.0, 9.0) if bandwidth[0] <= centre <= bandwidth[1] else (-0.01, 0.01) for centre in EQ_CENTRES_HZ]
    return [
        (start.f0_shift - 2.0, start.f0_shift + 2.0),
        (max(0.5, start.f0_range * 0.7), min(2.0, start.f0_range * 1.3)),
        (warp_centre * (1 - WARP_SLACK), warp_centre * (1 + WARP_SLACK)),
        *eq,
        (-6.0, 6.0),
    ]


def fit_conversion(
    renderer,
    enrollment: np.ndarray,
    held_out: np.ndarray,
    embed: Callable[[np.ndarray], np.ndarray],
    transcribe: Callable[[np.ndarray], str],
    max_evaluations: int = 90,
    frame_level: bool = True,
) -> tuple[VoiceConversion, FitReport]:
    """renderer: the base voice (voicekit.cloning.engine.renderer_for). enrollment, held_out: the person's speech,
    float32 mono 16 kHz. embed: 16 kHz audio -> unit embedding. transcribe: 16 kHz audio -> words.
    frame_level: learn the class corrections (voicekit.cloning.classes); False fits the global
    conversion alone (bench/cloning.py compares the two)."""
    from scipy.optimize import minimize

    started = time.perf_counter()
    fit_frames, check_frames = _prepared(renderer)

    def speech(prepared: list, c: VoiceConversion) -> np.ndarray:
        return _speech(renderer, prepared, c)

    target, held = embed(enrollment), embed(held_out)
    base_f0 = np.concatenate([renderer.voiced_f0(p) for p in fit_frames])
    person_shapes, person_f0 = world_shapes(enrollment, 10.0)  # one analysis: the pitch and the classes
    person_median, person_spread = log_f0_stats(person_f0)
    shift = 12 * (person_median - float(np.median(np.log(base_f0)))) / np.log(2)
    spread = person_spread / max(float(np.std(np.log(base_f0))), 1e-3)
    start = VoiceConversion(f0_shift=shift, f0_range=float(np.clip(spread, 0.7, 1.4)),
                            warp=float(np.exp(WARP_PER_PITCH * shift * np.log(2) / 12)))
    bandwidth = bandwidth_hz(enrollment)
    start = replace(start, envelope_db=measured_envelope(enrollment, speech(fit_frames, start), bandwidth))
    if frame_level:
        start = replace(start, classes=sound_classes(renderer, fit_frames, start, person_shapes[person_f0 > 0]))
    bounds = _bounds(start, bandwidth)
    evaluations = 0

    def loss(v: np.ndarray) -> float:
        nonlocal evaluations
        evaluations += 1
        return -float(np.dot(embed(speech(fit_frames, start.with_vector(v))), target))

    result = minimize(loss, start.vector(), method="Powell", bounds=bounds,
                      options={"maxfev": max_evaluations, "xtol": 1e-2, "ftol": 1e-3})
    fitted = start.with_vector(np.clip(result.x, [b[0] for b in bounds], [b[1] for b in bounds]))

    def wer(c: VoiceConversion) -> float:
        errors = words = 0
        for text, frames in zip(CHECK_SENTENCES, check_frames):
            errors_here, n = word_errors(text, transcribe(speech(frames, c)))
            errors, words = errors + errors_here, words + n
        return errors / words

    wer_base = _base_reading(renderer, ("wer", transcribe), lambda: wer(VoiceConversion()))
    blend, wer_fitted = 1.0, wer(fitted)
    while wer_fitted > wer_base + MAX_WER_LOSS and blend > 0.3:
        blend -= 0.25
        wer_fitted = wer(fitted.blended(blend))
    chosen = fitted.blended(blend) if blend < 1.0 else fitted
    base, fitted_embedding = _base_embedding(renderer, embed), embed(speech(fit_frames, chosen))
    report = FitReport(
        secs_base=float(np.dot(base, target)),
        secs_fitted=float(np.dot(fitted_embedding, target)),
        heldout_secs_base=float(np.dot(base, held)),
        heldout_secs_fitted=float(np.dot(fitted_embedding, held)),
        wer_base=wer_base, wer_fitted=wer_fitted, blend=blend, evaluations=evaluations,
        seconds=time.perf_counter() - started, fitting_s=len(enrollment) / 16000, held_out_s=len(held_out) / 16000,
    )
    return chosen, report


def base_similarity(renderer, person: np.ndarray, embed: Callable[[np.ndarray], np.ndarray]) -> float:
    """How close the unconverted base voice is to the person (the fit sentences, resemblyzer cosine)."""
    return float(np.dot(_base_embedding(renderer, embed), person))


def split_held_out(speech16k: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The first three quarters of the voiced speech to fit on, the last quarter to check."""
    cut = int(len(speech16k) * (1 - HELD_OUT_SHARE))
    return speech16k[:cut], speech16k[cut:]


def word_errors(reference: str, hypothesis: str) -> tuple[int, int]:
    """Word-level edit distance and the reference's word count."""
    from consent.phonemes import words_of

    ref, hyp = words_of(reference), words_of(hypothesis)
    row = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        prev, row[0] = row[0], i
        for j, h in enumerate(hyp, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (r != h))
    return row[-1], len(ref)
