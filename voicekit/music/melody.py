"""A melody for a lyrics sheet: rhythm from the syllables' stress, pitches from the chords.

Rhythm: each line is a phrase of 2 bars (4 when it has many syllables or stresses) on an eighth-
note grid. A dynamic program places the syllables so that stressed ones land on strong beats (the
downbeat, then beat 3 of 4/4), unstressed ones between beats, the gaps stay even, and the last
syllable lands on a strong beat of the last bar and is held to one eighth before the line ends,
which leaves the breath.

Pitch: scale degrees of the key within the voice's comfortable range. A strong or stressed note
takes a chord tone of its bar near the last note and near the line's arch (up, then down); the
others move by step. Every line ends on a chord tone; a section's last line ends on the tonic over
the tonic chord (a cadence). The chorus sits higher than the verse.

Repetition: each line's choices come from a generator seeded by (seed, section kind, line number
in the section, the line's stress pattern), so a chorus sung again with the same words gets the
same melody, and a later verse whose lines scan like the first verse's gets its tune.
"""
from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

import numpy as np

from voicekit.music.lyrics import PRIMARY, SECONDARY, Line, Section
from voicekit.music.style import Style, chord_pitches, tonic_pitch_class
from voicekit.music.tracks import Track
from voicekit.singing.score import Note, Score

INTRO_BARS = 2
OUTRO_BARS = 2
SCALES = {"major": (0, 2, 4, 5, 7, 9, 11), "minor": (0, 2, 3, 5, 7, 8, 10)}
SECTION_LIFT = {"chorus": 2, "bridge": 1, "pre-chorus": 1}  # degrees above the verse's centre
SECTION_LOUDNESS = {"chorus": 0.76, "bridge": 0.7}  # f in the chorus, mf elsewhere (score.DYNAMICS)
MAX_LEAP = 4  # scale degrees (a fifth)


@dataclass(frozen=True)
class SungNote:
    """One syllable of the melody. start/duration in beats from the song's start."""

    pitch: int
    start: float
    duration: float
    text: str
    ends_word: bool
    stress: int
    section: str
    degree: int  # scale degree from the tonic (0), octaves included: the harmony is built on it


@dataclass(frozen=True)
class SectionSpan:
    label: str
    kind: str
    first_bar: int
    bars: int


@dataclass(frozen=True)
class Composition:
    """A song's melody and harmony: one chord figure per bar, from the intro to the outro."""

    style: Style
    chords: tuple[str | None, ...]  # None: no chord in force (a score's bars before its first symbol)
    melody: Score
    notes: tuple[SungNote, ...]  # the composed syllables with their stress; () for a given score
    sections: tuple[SectionSpan, ...]
    seed: int
    title: str = ""
    accompaniment: tuple[Track, ...] = ()  # a score's own parts, played instead of bass and chords

    @property
    def bars(self) -> int:
        return len(self.chords)

    @property
    def beats(self) -> float:
        return self.bars * self.style.beats_per_bar

    def seconds(self) -> float:
        return self.beats * 60.0 / self.style.tempo

    def harmony_score(self) -> Score | None:
        """A third above the melody (two scale degrees) in every chorus; None without a chorus
        (or for a given score, whose harmony parts are its own)."""
        home = _home(self.style, (0, 127))
        chorus = [n for n in self.notes if n.section == "chorus"]
        if not chorus:
            return None
        above = [SungNote(_pitch(home, self.style.mode, n.degree + 2), n.start, n.duration, n.text, n.ends_word,
                          n.stress, n.section, n.degree + 2) for n in chorus]
        return Score(tuple(_note(n, self.style) for n in above), ((0.0, float(self.style.tempo)),),
                     title=self.title, part="harmony").checked()

    def stressed_on_strong_beats(self, strength: int = 3) -> float | None:
        """Share of primary-stressed syllables that start where `metric_weight` is at least
        `strength` (3: beats 1 and 3 of 4/4, the downbeat of 3/4; 2: any beat); None for a given score."""
        stressed = [n for n in self.notes if n.stress == PRIMARY]
        strong = [n for n in stressed if metric_weight(round(n.start * 2), self.style.beats_per_bar) >= strength]
        return len(strong) / len(stressed) if stressed else None


def _note(n: SungNote, style: Style) -> Note:
    return Note(n.pitch, n.start, n.duration, n.text + ("" if n.ends_word else "-"),
                measure=int(n.start // style.beats_per_bar) + 1, loudness=SECTION_LOUDNESS.get(n.section, 0.63))


def metric_weight(eighth: int, beats_per_bar: int) -> int:
    """4 the downbeat; 3 the bar's middle beat in 4/4; 2 another beat; 0 between beats."""
    q = eighth % (2 * beats_per_bar)
    if q == 0:
        return 4
    if beats_per_bar == 4 and q == 4:
        return 3
    return 2 if q % 2 == 0 else 0


def compose(sections: tuple[Section, ...], style: Style, pitch_range: tuple[int, int], seed: int = 0,
            title: str = "") -> Composition:
    """The melody and chords for `sections` in `style`, within `pitch_range` (MIDI, inclusive)."""
    bpb = style.beats_per_bar
    slots = 2 * bpb
    tonic = "i" if style.mode == "minor" else "I"
    home = _home(style, pitch_range)
    lo, hi = pitch_range[0] + 2, pitch_range[1] - 3
    chords: list[str] = [style.progression[k % len(style.progression)] for k in range(INTRO_BARS)]
    notes: list[SungNote] = []
    spans: list[SectionSpan] = []
    for section in sections:
        first_bar = len(chords)
        for number, line in enumerate(section.lines):
            bars = _bars_for(line, bpb)
            line_first = len(chords)
            for k in range(bars):
                chords.append(style.progression[(line_first - first_bar + k) % len(style.progression)])
            cadence = number == len(section.lines) - 1
            if cadence:
                chords[-1] = tonic
            rng = np.random.default_rng(_line_seed(seed, section.kind, number, line))
            positions = _rhythm(line, bars, bpb, rng)
            degrees = _pitches(line, positions, chords[line_first:], style, home, (lo, hi),
                               SECTION_LIFT.get(section.kind, 0), cadence, rng)
            ends = list(positions[1:]) + [bars * slots - 1]
            for syllable, at, end, degree in zip(line.syllables, positions, ends, degrees):
                length = min(end - at, 6) if end != bars * slots - 1 else end - at
                notes.append(SungNote(_pitch(home, style.mode, degree), (line_first * slots + at) / 2, length / 2,
                                      syllable.text, syllable.ends_word, syllable.stress, section.kind, degree))
        spans.append(SectionSpan(section.label, section.kind, first_bar, len(chords) - first_bar))
    chords += [tonic] * OUTRO_BARS
    melody = Score(tuple(_note(n, style) for n in notes), ((0.0, float(style.tempo)),), title=title, part="melody")
    return Composition(style, tuple(chords), melody.checked(), tuple(notes), tuple(spans), seed, title)


def from_score(score: Score, chords: tuple[str | None, ...], style: Style, seed: int,
               accompaniment: tuple[Track, ...] = ()) -> Composition:
    """A given score as a song: its melody and bar-by-bar chords, with OUTRO_BARS of its last chord."""
    last = next((c for c in reversed(chords) if c is not None), None)
    chords = tuple(chords) + (last,) * OUTRO_BARS
    return Composition(style, chords, score, (), (SectionSpan("score", "score", 0, len(chords)),), seed,
                       score.title, accompaniment)


def _bars_for(line: Line, bpb: int) -> int:
    """2 bars, or 4 for a line with more syllables than 70 % of 2 bars' eighths, or more stresses
    than their beats (less the breath)."""
    stressed = sum(s == PRIMARY for s in line.stresses)
    if len(line.syllables) <= round(0.7 * 4 * bpb) and stressed <= 2 * bpb - 1:  # room to move, a beat each
        return 2
    return 4


def _line_seed(seed: int, kind: str, number: int, line: Line) -> int:
    text = f"{seed}|{kind}|{number}|{''.join(map(str, line.stresses))}"
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")


def _rhythm(line: Line, bars: int, bpb: int, rng: np.random.Generator) -> list[int]:
    """Eighth-note positions of the syllables, by dynamic programming over the line's grid."""
    slots = 2 * bpb
    grid = bars * slots - 2  # the last eighth is the breath; the last syllable starts before it
    n = len(line.syllables)
    weights = np.array([metric_weight(p, bpb) for p in range(grid)], float)
    jitter = rng.normal(0.0, 0.25, size=(n, grid))
    place = np.empty((n, grid))
    for i, stress in enumerate(line.stresses):
        if stress == PRIMARY:
            place[i] = 3.0 * weights - np.where(weights == 0, 6.0, 0.0)
        elif stress == SECONDARY:
            place[i] = 1.5 * weights
        else:
            place[i] = -np.where(weights >= 3, 3.0, 0.0)
    place += jitter
    place[0] -= 0.7 * np.maximum(0, np.arange(grid) - 2)  # a line starts near its first beat
    last_bar = np.arange(grid) >= (bars - 1) * slots
    place[n - 1] += np.where(last_bar & (weights >= 3), 4.0, np.where(last_bar, 0.0, -4.0))
    gap_cost = {1: -0.5, 2: 0.0, 3: -0.4, 4: -0.6}
    best = np.full((n, grid), -np.inf)
    back = np.zeros((n, grid), int)
    best[0] = place[0]
    for i in range(1, n):
        for p in range(i, grid):
            previous = np.arange(i - 1, p)
            gaps = p - previous
            score = best[i - 1, previous] + np.array([gap_cost.get(int(g), -0.6 - 1.5 * (g - 4)) for g in gaps])
            k = int(np.argmax(score))
            best[i, p] = score[k] + place[i, p]
            back[i, p] = previous[k]
    positions = [int(np.argmax(best[n - 1]))]
    for i in range(n - 1, 0, -1):
        positions.append(int(back[i, positions[-1]]))
    return positions[::-1]


def _home(style: Style, pitch_range: tuple[int, int]) -> int:
    """The tonic's MIDI pitch nearest 40 % up the range: degree 0 of the melody."""
    target = pitch_range[0] + 0.4 * (pitch_range[1] - pitch_range[0])
    pc = tonic_pitch_class(style.key)
    return min((p for p in range(128) if p % 12 == pc), key=lambda p: abs(p - target))


def _pitch(home: int, mode: str, degree: int) -> int:
    scale = SCALES[mode]
    return home + scale[degree % 7] + 12 * (degree // 7)


def _pitches(line: Line, positions: list[int], bar_chords: list[str], style: Style, home: int,
             span: tuple[int, int], lift: int, cadence: bool, rng: np.random.Generator) -> list[int]:
    bpb = style.beats_per_bar
    allowed = [d for d in range(-14, 15) if span[0] <= _pitch(home, style.mode, d) <= span[1]]
    centre = min(allowed, key=lambda d: abs(d - (2 + lift)))
    n = len(positions)
    previous = centre
    out: list[int] = []
    for i, (at, stress) in enumerate(zip(positions, line.stresses)):
        chord = set(chord_pitches(bar_chords[at // (2 * bpb)], style.key, style.mode))
        tones = [d for d in allowed if _pitch(home, style.mode, d) % 12 in chord and abs(d - previous) <= MAX_LEAP]
        arch = centre + 3.0 * math.sin(math.pi * i / max(1, n - 1))
        last = i == n - 1
        if last and cadence:
            tonics = [d for d in allowed if d % 7 == 0] or allowed
            choice = min(tonics, key=lambda d: abs(d - previous) + 0.5 * abs(d - centre))
        elif (last or stress == PRIMARY or metric_weight(at, bpb) >= 3) and tones:
            choice = min(tones, key=lambda d: abs(d - previous) + 0.7 * abs(d - arch) + rng.uniform(0, 1.2))
        else:
            steps = [d for d in (previous - 1, previous, previous + 1, previous + 2, previous - 2) if d in allowed]
            again = len(out) >= 2 and out[-1] == out[-2]  # a third repeat in a row drones
            choice = min(steps or allowed, key=lambda d: abs(d - arch) + (3.0 if again else 1.0) * (d == previous)
                         + 0.5 * (abs(d - previous) == 2) + rng.uniform(0, 0.9))
        out.append(choice)
        previous = choice
    return out
