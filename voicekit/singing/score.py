"""A score as voicekit sings it: one voice's notes with their lyric syllables, on a tempo map.

Times are in beats (quarter notes) from the start; the tempo map turns them into seconds. A note's
lyric is one syllable as musicians write it: "hap-" (the word goes on), "py" (the word ends), "_"
or no lyric after a syllable (a melisma: the syllable's vowel carries on to this note). A tie joins
a note to the next one of the same pitch. Rests are gaps between notes.

The small JSON form: {"tempo": 96, "title": "...", "notes": [{"pitch": "A4" | 69 | null,
"start": beats, "duration": beats, "lyric": "syl-", "tie": false, "dynamic": "mf" | "velocity": 80}],
"tempo_changes": [{"beat": 16, "bpm": 80}]}; a pitch of null (or "rest") is a rest; a note's
dynamic (ppp..fff) or MIDI velocity (1-127) sets its loudness, and holds for the notes after it.
"""
from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field, replace
from typing import Any

from voicekit.errors import ScoreError

MELISMA = "_"
DEFAULT_LOUDNESS = 0.63  # mf, MIDI velocity 80
# Dynamic markings as loudness (music21's own scale for them, which MusicXML readers share).
DYNAMICS = {"ppp": 0.1, "pp": 0.2, "p": 0.35, "mp": 0.5, "mf": 0.63, "f": 0.76, "ff": 0.87, "fff": 0.98}
BEATS_PER_MEASURE = 4.0  # for naming measures in errors when a format does not say (JSON)
_NOTE_NAME = re.compile(r"^([A-Ga-g])([#b♯♭]{0,2})(-?\d)$")
_STEPS = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}


@dataclass(frozen=True)
class Note:
    """pitch: MIDI number. lyric: the syllable sung from this note ("" none: a melisma goes on).
    measure: where the score put it (1-based), for error messages."""

    pitch: int
    start: float
    duration: float
    lyric: str = ""
    tie: bool = False
    measure: int = 1
    loudness: float = DEFAULT_LOUDNESS  # 0..1: MIDI velocity / 127, or the dynamic marking in force

    @property
    def end(self) -> float:
        return self.start + self.duration


@dataclass(frozen=True)
class Score:
    notes: tuple[Note, ...]
    tempo: tuple[tuple[float, float], ...] = ((0.0, 120.0),)  # (beat, beats per minute), from beat 0
    title: str = ""
    part: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def seconds(self, beat: float) -> float:
        """The time of `beat` on the tempo map."""
        t, changes = 0.0, list(self.tempo)
        for (b0, bpm), nxt in zip(changes, changes[1:] + [(float("inf"), 0.0)]):
            if beat <= b0:
                break
            t += (min(beat, nxt[0]) - b0) * 60.0 / bpm
        return t

    def fingerprint(self) -> str:
        """SHA-256 of what is sung (notes, tempo map, part): the ledger's record of the score, and
        the seed of the melody's drift."""
        body = json.dumps([[list(map(lambda v: v if not isinstance(v, float) else round(v, 6),
                                     (n.pitch, n.start, n.duration, n.lyric, n.tie))) for n in self.notes],
                           [list(t) for t in self.tempo], self.part], ensure_ascii=False)
        return hashlib.sha256(body.encode()).hexdigest()

    def transposed(self, semitones: int) -> "Score":
        return replace(self, notes=tuple(replace(n, pitch=n.pitch + semitones) for n in self.notes))

    def at_tempo(self, bpm: float) -> "Score":
        """The whole map scaled so that it starts at `bpm` (later changes keep their ratios)."""
        if not 20 <= bpm <= 400:
            raise ScoreError(f"a tempo of {bpm:g} BPM is outside 20-400")
        ratio = bpm / self.tempo[0][1]
        return replace(self, tempo=tuple((b, t * ratio) for b, t in self.tempo))

    def checked(self) -> "Score":
        """The score when it can be sung: notes, lyrics, one note at a time. Raises ScoreError
        naming the part and measure otherwise."""
        where = f"part {self.part!r}" if self.part else "the score"
        if not self.notes:
            raise ScoreError(f"{where} has no notes")
        if not any(n.lyric and n.lyric != MELISMA for n in self.notes):
            raise ScoreError(f"{where} has no lyrics: every note to be sung needs its syllable")
        first = next(n for n in self.notes if n.lyric and n.lyric != MELISMA)
        if first is not self.notes[0] and not self.notes[0].lyric:
            raise ScoreError(f"{where}, measure {self.notes[0].measure}: the first note has no syllable")
        for a, b in zip(self.notes, self.notes[1:]):
            if b.start < a.end - 1e-6:
                raise ScoreError(f"{where}, measure {b.measure}: a note at beat {b.start:g} starts before the one "
                                 f"at beat {a.start:g} ends (overlapping notes in one voice; choose a part)")
        for n in self.notes:
            if n.duration <= 0:
                raise ScoreError(f"{where}, measure {n.measure}: a note of length {n.duration:g} beats")
            if not 0 <= n.pitch <= 127:
                raise ScoreError(f"{where}, measure {n.measure}: pitch {n.pitch} is not a MIDI note")
        return self


def midi_pitch(value: Any, where: str) -> int | None:
    """A MIDI number from 69, "69", "A4", "C#5", "Bb3"; None for a rest (None or "rest")."""
    if value is None or (isinstance(value, str) and value.strip().lower() in ("rest", "r", "")):
        return None
    if isinstance(value, bool):
        raise ScoreError(f"{where}: {value!r} is not a pitch")
    if isinstance(value, (int, float)) and float(value).is_integer():
        return int(value)
    text = str(value).strip()
    if text.isdigit():
        return int(text)
    found = _NOTE_NAME.match(text)
    if not found:
        raise ScoreError(f"{where}: {value!r} is not a pitch (give a MIDI number or a name such as A4, C#5, Bb3)")
    letter, accidentals, octave = found.groups()
    shift = sum(1 if a in "#♯" else -1 for a in accidentals)
    return 12 * (int(octave) + 1) + _STEPS[letter.upper()] + shift


def from_json(data: bytes | str | dict[str, Any]) -> Score:
    """The JSON form (module doc). Raises ScoreError naming the note that is wrong."""
    try:
        doc = data if isinstance(data, dict) else json.loads(data)
    except (ValueError, UnicodeDecodeError) as e:
        raise ScoreError(f"the score is not valid JSON: {e}") from e
    if not isinstance(doc, dict) or not isinstance(doc.get("notes"), list):
        raise ScoreError('a JSON score is an object with a "notes" list')
    tempo = _number(doc.get("tempo", 120), "tempo")
    changes = [(0.0, tempo)]
    for i, change in enumerate(doc.get("tempo_changes") or []):
        if not isinstance(change, dict):
            raise ScoreError(f"tempo change {i + 1} is not an object")
        changes.append((_number(change.get("beat"), f"tempo change {i + 1}'s beat"),
                        _number(change.get("bpm"), f"tempo change {i + 1}'s bpm")))
    notes = []
    loudness = DEFAULT_LOUDNESS
    for i, raw in enumerate(doc["notes"]):
        where = f"note {i + 1}"
        if not isinstance(raw, dict):
            raise ScoreError(f"{where} is not an object")
        start = _number(raw.get("start"), f"{where}'s start", positive=False)
        measure = int(start // BEATS_PER_MEASURE) + 1
        pitch = midi_pitch(raw.get("pitch"), f"{where} (measure {measure})")
        if pitch is None:
            continue
        lyric = raw.get("lyric") or ""
        if not isinstance(lyric, str):
            raise ScoreError(f"{where} (measure {measure}): the lyric must be text")
        loudness = _loudness(raw, loudness, f"{where} (measure {measure})")
        notes.append(Note(pitch, start, _number(raw.get("duration"), f"{where}'s duration"), lyric.strip(),
                          bool(raw.get("tie", False)), measure, loudness))
    return Score(tuple(sorted(notes, key=lambda n: n.start)), tempo_map(changes),
                 title=str(doc.get("title", "")), part=str(doc.get("part", "")))


def _loudness(raw: dict[str, Any], current: float, where: str) -> float:
    if "dynamic" in raw:
        if raw["dynamic"] not in DYNAMICS:
            raise ScoreError(f"{where}: the dynamic {raw['dynamic']!r} is not one of {', '.join(DYNAMICS)}")
        return DYNAMICS[raw["dynamic"]]
    if "velocity" in raw:
        velocity = raw["velocity"]
        if isinstance(velocity, bool) or not isinstance(velocity, int) or not 1 <= velocity <= 127:
            raise ScoreError(f"{where}: velocity {velocity!r} is not a MIDI velocity (1-127)")
        return velocity / 127
    return current


def _number(value: Any, what: str, positive: bool = True) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ScoreError(f"{what} must be a number, got {value!r}")
    if value < 0 or (positive and value == 0):
        raise ScoreError(f"{what} must be {'positive' if positive else 'zero or more'}, got {value!r}")
    return float(value)


def tempo_map(changes: list[tuple[float, float]]) -> tuple[tuple[float, float], ...]:
    """Sorted (beat, bpm) changes, one per beat, starting at beat 0 (the first tempo back-filled)."""
    by_beat: dict[float, float] = {}
    for beat, bpm in sorted(changes, key=lambda c: c[0]):
        if not 20 <= bpm <= 400:
            raise ScoreError(f"a tempo of {bpm:g} BPM at beat {beat:g} is outside 20-400")
        by_beat[beat] = bpm
    ordered = sorted(by_beat.items())
    if not ordered:
        return ((0.0, 120.0),)
    if ordered[0][0] > 0:
        ordered.insert(0, (0.0, ordered[0][1]))
    return tuple(ordered)
