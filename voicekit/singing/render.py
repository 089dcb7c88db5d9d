"""Phrases of syllables on notes -> sung audio, in the voice's own frames (voicekit.singing.voices).

Per word: the voice says it once; its phonemes are split into syllables (one vowel nucleus each,
consonants between nuclei to the following syllable but the first of a cluster). Each syllable's
vowel starts on its note's beat and carries it to the end, its nucleus read slowly across the note; its onset consonants keep their natural length (up to ONSET_MAX_S) and sound before the
beat, taken from the previous note or the rest; its final consonants close the note. f0 follows the
notes: a short portamento from a note sung legato, a vibrato that sets in after VIBRATO_DELAY_S on
long notes, and a slow drift, all seeded by the score so the same request sings the same way.
Each note's loudness (its dynamic or velocity) scales its amplitude, and a quiet breath fills each
rest of BREATH_REST_S or more before the next phrase.
The output begins LEAD_S before the score's first beat, so a first consonant has room.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace

import numpy as np

from voicekit.singing.plan import Phrase, Segment, Syllable
from voicekit.singing.score import DEFAULT_LOUDNESS
from voicekit.singing.voices import HeartSinger, Spoken, WorldSinger

LEAD_S = 0.3
TAIL_S = 0.25
ONSET_MAX_S = 0.22
CODA_SHARE = 0.35  # final consonants take at most this share of a syllable's time
MIN_VOWEL_S = 0.04
PORTAMENTO_S = 0.06
VIBRATO_DELAY_S, VIBRATO_RAMP_S, VIBRATO_HZ, VIBRATO_CENTS = 0.3, 0.25, 5.5, 18.0
DRIFT_CENTS = 4.0
FADE_S = 0.005
HEARD_SEARCH_S = 0.12
BREATH_REST_S, BREATH_S, BREATH_DB = 0.6, 0.35, -30.0
STEADY_NEPERS = 0.7
# Phonemes that form a syllable's nucleus (misaki's and espeak-ng's vowels, misaki's diphthong
# letters A I O W Y), and marks that belong with the vowel they touch.
VOWELS = set("AIOWYaeiouyæɑɒɔəɛɜɪʊʌɐɚɝᵊᵻɨʉøœɤɯɘɵ")
MARKS = set("ˈˌːˑ̃ʲʰ")


@dataclass(frozen=True)
class _Parts:
    """One syllable's source frames: onset [onset, body), body [body, coda) with the nucleus to
    loop [loop_a, loop_b), coda [coda, end)."""

    onset: int
    body: int
    loop_a: int
    loop_b: int
    coda: int
    end: int


def midi_hz(pitch: float) -> float:
    return 440.0 * 2 ** ((pitch - 69) / 12)


def sing(phrases: list[Phrase], singer: HeartSinger | WorldSinger, seed_text: str) -> np.ndarray:
    """float32 mono at singer.sample_rate: every phrase placed at its time, LEAD_S of lead-in."""
    if not phrases:
        return np.zeros(0, np.float32)
    rate, frame_s = singer.sample_rate, singer.frame_s
    out = np.zeros(int((LEAD_S + phrases[-1].end_s + TAIL_S) * rate) + 1, np.float32)
    drift = _drift(seed_text)
    spoken: dict[str, Spoken] = {}
    for phrase in phrases:
        segments = [seg for w in phrase.words for s in w.syllables for seg in s.segments]
        syllables = [s for w in phrase.words for s in w.syllables]
        position = 0
        for word in phrase.words:
            said = spoken.get(word.text) or spoken.setdefault(word.text, singer.word(word.text))
            parts = _syllable_parts(said, len(word.syllables))
            mine = syllables[position: position + len(word.syllables)]
            before = syllables[position - 1] if position else None
            after = syllables[position + len(word.syllables)] if position + len(word.syllables) < len(syllables) else None
            position += len(word.syllables)
            first_frame, index, vowel = _timeline(mine, parts, before, after, frame_s)
            frames = singer.take(said.frames, index)
            times = (first_frame + np.arange(len(index))) * frame_s  # score seconds
            voiced = (singer.f0(frames) > 0) | vowel
            f0 = np.where(voiced, _melody(times, segments, drift), 0.0)
            wave = singer.render(singer.with_f0(frames, f0, vowel))
            wave *= np.interp(np.arange(len(wave)) / rate, times - times[0], _dynamics(times, segments)).astype(np.float32)
            _place(out, _faded(wave, rate), int(round((LEAD_S + first_frame * frame_s) * rate)))
    _breathe(out, phrases, rate, seed_text)
    return out


def _dynamics(times: np.ndarray, segments: list[Segment]) -> np.ndarray:
    """Amplitude at score times from each note's loudness, relative to mezzo-forte (the studio's
    loudness stage sets the level of the whole; this keeps the notes' differences)."""
    starts = np.array([s.start_s for s in segments])
    which = np.clip(np.searchsorted(starts, times, side="right") - 1, 0, len(segments) - 1)
    return np.array([s.loudness for s in segments])[which] / DEFAULT_LOUDNESS


def _breathe(out: np.ndarray, phrases: list[Phrase], rate: int, seed_text: str) -> None:
    """A quiet breath (band-passed noise, BREATH_DB under the singing) in each rest of at least
    BREATH_REST_S before a phrase, ending before the phrase's first consonant."""
    from scipy.signal import butter, sosfilt

    sung = out[np.abs(out) > 1e-4]
    if not len(sung):
        return
    level = float(np.sqrt(np.mean(sung ** 2))) * 10 ** (BREATH_DB / 20)
    rng = np.random.default_rng(int.from_bytes(hashlib.sha256(b"breath" + seed_text.encode()).digest()[:8], "big"))
    band = butter(2, [500, 3500], btype="band", fs=rate, output="sos")
    for before, phrase in zip(phrases, phrases[1:]):
        rest = phrase.start_s - before.end_s
        if rest < BREATH_REST_S:
            continue
        length = min(BREATH_S, rest - ONSET_MAX_S - 0.15)
        end = LEAD_S + phrase.start_s - ONSET_MAX_S - 0.05
        noise = sosfilt(band, rng.standard_normal(int(length * rate))) * np.hanning(int(length * rate))
        noise *= level / max(float(np.sqrt(np.mean(noise ** 2))), 1e-9)
        _place(out, noise.astype(np.float32), int((end - length) * rate))


def _syllable_parts(said: Spoken, count: int) -> list[_Parts]:
    """Split a word's phonemes into `count` syllables. More nuclei than syllables: neighbours share a
    syllable (its longest nucleus is looped); fewer: the last nucleus is sung again for the rest."""
    spans = said.phonemes
    if not spans:
        n = len(said.level)
        return [_Parts(0, 0, *_steady(said.level, 0, n), n, n)] * count
    nuclei: list[tuple[int, int]] = []  # (first span, last span) of each run of vowels and marks
    i = 0
    while i < len(spans):
        j = i
        while j < len(spans) and (spans[j][0][:1] in VOWELS or spans[j][0][:1] in MARKS):
            j += 1
        if j > i and any(spans[k][0][:1] in VOWELS for k in range(i, j)):
            nuclei.append((i, j - 1))
            i = j
        else:
            i += 1
    if not nuclei:  # a word with no vowel ("hmm"): sing all of it
        nuclei = [(0, len(spans) - 1)]
    nuclei_starts = _heard_starts(said, [spans[n[0]][1] for n in nuclei], [spans[n[1]][2] for n in nuclei])
    groups = [list(g) for g in np.array_split(np.arange(len(nuclei)), min(count, len(nuclei)))]
    bodies = []
    for g in groups:
        first, last = nuclei[g[0]], nuclei[g[-1]]
        longest = max((nuclei[k] for k in g), key=lambda n: spans[n[1]][2] - spans[n[0]][1])
        bodies.append((nuclei_starts[g[0]], spans[last[1]][2],
                       *_steady(said.level, spans[longest[0]][1], spans[longest[1]][2]), first[0], last[1]))
    parts = []
    for k, (b0, b1, l0, l1, first_span, last_span) in enumerate(bodies):
        if k == 0:
            onset = min(spans[0][1], b0)
        else:
            gap = list(range(bodies[k - 1][5] + 1, first_span))
            onset = min(spans[gap[1]][1] if len(gap) >= 2 else (spans[gap[0]][1] if gap else b0), b0)
        if k + 1 < len(bodies):
            nxt = bodies[k + 1]
            gap = list(range(last_span + 1, nxt[4]))
            end = min(spans[gap[1]][1] if len(gap) >= 2 else (spans[gap[0]][1] if gap else b1), nxt[0])
        else:
            end = spans[-1][2]
        parts.append(_Parts(onset, b0, l0, l1, b1, max(end, b1)))
    if len(parts) < count:  # more syllables than vowels: the last vowel again, the word's end on the last
        last = parts[-1]
        again = replace(last, onset=last.body, end=last.coda)
        parts[-1] = replace(last, end=last.coda)
        parts += [again] * (count - len(parts) - 1) + [replace(last, onset=last.body)]
    return parts


def _heard_starts(said: Spoken, starts: list[int], ends: list[int]) -> list[int]:
    """Where each nucleus's vowel is heard to start: the first frame, from HEARD_SEARCH_S before the
    aligner's boundary, whose F1-F2 band power reaches half the nucleus's median. Aligners place a
    vowel up to 100 ms late or early (Piper's durations most), and the vowel, not its boundary, is
    what must land on the beat."""
    search = int(round(HEARD_SEARCH_S / said.frame_s))
    heard = []
    floor = 0
    for a, b in zip(starts, ends):
        lo = max(floor, a - search)
        inside = said.vowel_band[a:max(b, a + 1)]
        level = float(np.median(inside)) if len(inside) else 0.0
        window = np.arange(lo, max(b, a + 1))
        loud = window[said.vowel_band[window] >= 0.5 * level] if level > 0 else window[:0]
        start = int(loud[0]) if len(loud) else a
        heard.append(start)
        floor = max(b, start + 1)
    return heard


def _steady(level: np.ndarray, a: int, b: int) -> tuple[int, int]:
    """The loud part of frames [a, b): around the loudest frame, those within STEADY_NEPERS of it
    (a word's last vowel fades in speech; sung, it holds)."""
    if b - a < 3:
        return a, b
    part = level[a:b]
    peak = int(np.argmax(part))
    loud = part >= part[peak] - STEADY_NEPERS
    lo, hi = peak, peak + 1
    while lo > 0 and loud[lo - 1]:
        lo -= 1
    while hi < len(part) and loud[hi]:
        hi += 1
    return a + lo, a + hi


def _timeline(syllables: list[Syllable], parts: list[_Parts], before: Syllable | None, after: Syllable | None,
              frame_s: float) -> tuple[int, np.ndarray, np.ndarray]:
    """The word's first output frame (score time / frame_s), the source frame of every output frame
    from there, and which of them are vowel (always voiced)."""
    index: list[np.ndarray] = []
    vowel: list[np.ndarray] = []
    start_frame = None
    cursor = None
    held = 0
    for k, (syl, part) in enumerate(zip(syllables, parts)):
        previous = syllables[k - 1] if k else before
        following = syllables[k + 1] if k + 1 < len(syllables) else after
        room_before = (syl.start_s - previous.end_s) if previous is not None else LEAD_S
        touching = previous is not None and room_before < 0.02
        onset_s = min((part.body - part.onset) * frame_s, ONSET_MAX_S,
                      0.5 * (previous.end_s - previous.start_s) if touching else max(room_before, 0.0))
        coda_s = min((part.end - part.coda) * frame_s, CODA_SHARE * (syl.end_s - syl.start_s))
        next_onset = 0.0
        if k + 1 < len(parts) and following is not None and following.start_s - syl.end_s < 0.02:
            nxt = parts[k + 1]
            next_onset = min((nxt.body - nxt.onset) * frame_s, ONSET_MAX_S, 0.5 * (syl.end_s - syl.start_s))
        body_s = syl.end_s - syl.start_s - coda_s - next_onset
        if body_s < MIN_VOWEL_S:  # a short note: the consonants give way
            squeeze = max(0.0, (syl.end_s - syl.start_s - MIN_VOWEL_S) / max(coda_s + next_onset, 1e-9))
            coda_s, next_onset = coda_s * min(1.0, squeeze), next_onset * min(1.0, squeeze)
            body_s = max(MIN_VOWEL_S, syl.end_s - syl.start_s - coda_s - next_onset)
        a = int(round((syl.start_s - onset_s) / frame_s))
        if cursor is not None:
            a = max(a, cursor)
        v = int(round(syl.start_s / frame_s))
        if v <= a and onset_s > 0:
            v = a + 1
        c = max(v + 1, int(round((syl.start_s + body_s) / frame_s)))
        e = max(c, int(round((syl.start_s + body_s + coda_s) / frame_s)))
        if start_frame is None:
            start_frame = a
        if cursor is not None and a > cursor:  # a short rest inside the word: its last sound held
            index.append(np.full(a - cursor, held))
            vowel.append(np.zeros(a - cursor, bool))
        index.append(_stretched(part.onset, part.body, v - a))
        vowel.append(np.zeros(v - a, bool))
        index.append(_held(part, c - v))
        vowel.append(np.ones(c - v, bool))
        index.append(_stretched(part.coda, part.end, e - c))
        vowel.append(np.zeros(e - c, bool))
        cursor = e
        held = int(index[-1][-1]) if len(index[-1]) else part.end - 1
    return int(start_frame or 0), np.concatenate(index).astype(int), np.concatenate(vowel)


def _stretched(a: int, b: int, n: int) -> np.ndarray:
    """n frames read evenly from source frames [a, b)."""
    if n <= 0:
        return np.zeros(0, int)
    if b <= a:
        return np.full(n, max(a - 1, 0))
    return (a + np.floor(np.arange(n) * (b - a) / n)).astype(int)


def _held(part: _Parts, n: int) -> np.ndarray:
    """n frames of the vowel: its natural start, then the nucleus's middle read slowly once across
    the rest of the note, then the body's natural end. (Looping back and forth through the nucleus
    was tried: its formants then move at the loop's rate, a 5-8 Hz wah.)"""
    if n <= 0:
        return np.zeros(0, int)
    natural = part.coda - part.body
    if n <= natural:
        return _stretched(part.body, part.coda, n)
    a, b = part.loop_a, part.loop_b
    if b - a >= 3:
        margin = (b - a) // 4
        a, b = a + margin, b - margin
    head, tail = np.arange(part.body, a), np.arange(b, part.coda)
    middle_n = n - len(head) - len(tail)
    if middle_n <= 0 or b <= a:
        return _stretched(part.body, part.coda, n)
    return np.concatenate([head, _stretched(a, b, middle_n), tail]).astype(int)


def _melody(times: np.ndarray, segments: list[Segment], drift: np.ndarray) -> np.ndarray:
    """f0 (Hz) at score times: each note's pitch, with portamento, vibrato and drift."""
    starts = np.array([s.start_s for s in segments])
    which = np.clip(np.searchsorted(starts, times, side="right") - 1, 0, len(segments) - 1)
    pitch = np.array([s.pitch for s in segments], float)[which]
    since = times - starts[which]
    cents = np.zeros(len(times))
    for k in range(1, len(segments)):
        prev, cur = segments[k - 1], segments[k]
        if cur.start_s - prev.end_s > 0.02 or cur.pitch == prev.pitch:
            continue
        span = min(PORTAMENTO_S, 0.25 * (cur.end_s - cur.start_s))
        inside = (which == k) & (since < span)
        x = since[inside] / span
        cents[inside] += (prev.pitch - cur.pitch) * 100 * 0.5 * (1 + np.cos(np.pi * x))
    length = np.array([s.end_s - s.start_s for s in segments])[which]
    depth = VIBRATO_CENTS * np.clip((since - VIBRATO_DELAY_S) / VIBRATO_RAMP_S, 0, 1) * (length > 2 * VIBRATO_DELAY_S)
    cents += depth * np.sin(2 * np.pi * VIBRATO_HZ * np.maximum(since - VIBRATO_DELAY_S, 0))
    cents += DRIFT_CENTS * np.interp(times, np.arange(len(drift)) * 0.5, drift)
    return midi_hz(0) * 2 ** ((pitch * 100 + cents) / 1200)


def _drift(seed_text: str) -> np.ndarray:
    """A smooth random walk in [-1, 1], one value per 0.5 s, fixed by the score."""
    rng = np.random.default_rng(int.from_bytes(hashlib.sha256(seed_text.encode()).digest()[:8], "big"))
    walk = np.cumsum(rng.normal(0, 0.35, 4096))
    return np.tanh(walk - np.convolve(walk, np.ones(9) / 9, mode="same"))


def _faded(wave: np.ndarray, rate: int) -> np.ndarray:
    n = min(int(FADE_S * rate), len(wave) // 2)
    if n > 0:
        ramp = np.linspace(0, 1, n, dtype=np.float32)
        wave = wave.copy()
        wave[:n] *= ramp
        wave[-n:] *= ramp[::-1]
    return wave


def _place(out: np.ndarray, wave: np.ndarray, at: int) -> None:
    at = max(at, 0)
    n = min(len(wave), len(out) - at)
    if n > 0:
        out[at: at + n] += wave[:n]
