"""How a song is played: key, mode, tempo, metre, chords, groove, instruments and levels.

Presets (`voicekit song --style NAME`; any field can be changed on top, `Style.changed`):

    ballad  C major,  72 BPM, 4/4, I vi IV V,   piano arpeggios, strings pad, finger bass, soft kit
    pop     G major, 112 BPM, 4/4, I V vi IV,   piano on the beat, warm pad, finger bass, backbeat kit
    folk    D major,  96 BPM, 3/4, I IV I V,    steel-string guitar strummed, acoustic bass, waltz kit
    lofi    A minor,  80 BPM, 4/4, i VI III VII (with sevenths), electric piano, pad, swung hats

Chords are Roman numerals in the key ("vi", "V7", "bVII", "iv7") or chord names ("Am7", "F",
"C/G"); one per bar, repeated through each section. Instruments are General MIDI programs,
played by the FluidSynth SoundFont (voicekit.music.synth).
"""
from __future__ import annotations

import re
import warnings
from dataclasses import dataclass, field, fields, replace
from functools import lru_cache
from typing import Any

from voicekit.errors import SongError

GROOVES = ("ballad", "pop", "waltz", "lofi")
METRES = {"2/4": 2, "3/4": 3, "4/4": 4}
MODES = ("major", "minor")
_KEY = re.compile(r"^[A-G][#b]?$")


@dataclass(frozen=True)
class Style:
    """gains_db: each stem's level in the mix; pans: -1 (left) .. 1 (right); swing: how late the
    off-beat eighths fall, as a share of an eighth (0 straight)."""

    name: str
    key: str
    mode: str
    tempo: float
    metre: str
    progression: tuple[str, ...]
    groove: str
    keys_program: int  # the chord instrument (piano, guitar, electric piano)
    pad_program: int
    bass_program: int
    keys_pattern: str  # "arpeggio", "beats", "strum", "offbeat"
    swing: float = 0.0
    gains_db: dict[str, float] = field(default_factory=lambda: dict(vocals=0.0, drums=-9.0, bass=-8.0, chords=-10.0))
    pans: dict[str, float] = field(default_factory=lambda: dict(vocals=0.0, drums=0.0, bass=0.0, chords=0.25))

    @property
    def beats_per_bar(self) -> int:
        return METRES[self.metre]

    def changed(self, **changes: Any) -> "Style":
        """This style with some fields set (None values ignored), checked. Raises SongError."""
        known = {f.name for f in fields(self)}
        unknown = sorted(set(changes) - known)
        if unknown:
            raise SongError(f"a style has no field {unknown[0]!r}; its fields: {', '.join(sorted(known))}")
        given = {k: v for k, v in changes.items() if v is not None}
        if isinstance(given.get("progression"), str):
            given["progression"] = tuple(given["progression"].replace(",", " ").replace("-", " ").split())
        return replace(self, **given).checked()

    def checked(self) -> "Style":
        if not _KEY.match(self.key):
            raise SongError(f"key {self.key!r}: give a note name such as C, F#, Bb")
        if self.mode not in MODES:
            raise SongError(f"mode {self.mode!r}: use major or minor")
        if not isinstance(self.tempo, (int, float)) or not 40 <= self.tempo <= 220:
            raise SongError(f"a song tempo of {self.tempo!r} BPM is outside 40-220")
        if self.metre not in METRES:
            raise SongError(f"time signature {self.metre!r}: use one of {', '.join(METRES)}")
        if self.groove not in GROOVES:
            raise SongError(f"groove {self.groove!r}: use one of {', '.join(GROOVES)}")
        if not 1 <= len(self.progression) <= 16:
            raise SongError("a chord progression needs 1 to 16 chords")
        for program in (self.keys_program, self.pad_program, self.bass_program):
            if not 0 <= program <= 127:
                raise SongError(f"instrument {program}: General MIDI programs are 0-127")
        for chord in self.progression:
            chord_pitches(chord, self.key, self.mode)
        return self

    def as_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)} | {"progression": list(self.progression)}


PRESETS: dict[str, Style] = {
    "ballad": Style("ballad", "C", "major", 72, "4/4", ("I", "vi", "IV", "V"), "ballad",
                    keys_program=0, pad_program=48, bass_program=33, keys_pattern="arpeggio"),
    "pop": Style("pop", "G", "major", 112, "4/4", ("I", "V", "vi", "IV"), "pop",
                 keys_program=0, pad_program=89, bass_program=33, keys_pattern="beats"),
    "folk": Style("folk", "D", "major", 96, "3/4", ("I", "IV", "I", "V"), "waltz",
                  keys_program=25, pad_program=48, bass_program=32, keys_pattern="strum"),
    "lofi": Style("lofi", "A", "minor", 80, "4/4", ("i7", "VI7", "III7", "VII7"), "lofi",
                  keys_program=4, pad_program=89, bass_program=33, keys_pattern="offbeat", swing=0.33),
}


def style_named(name: str, **changes: Any) -> Style:
    """A preset with `changes` on top; raises SongError for an unknown name or a bad change."""
    if name not in PRESETS:
        raise SongError(f"unknown style {name!r}; use one of {', '.join(PRESETS)}")
    return PRESETS[name].changed(**changes)


def tonic_pitch_class(key: str) -> int:
    steps = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
    return (steps[key[0]] + {"#": 1, "b": -1}.get(key[1:], 0)) % 12


@lru_cache(maxsize=512)
def chord_pitches(chord: str, key: str, mode: str) -> tuple[int, ...]:
    """The chord's pitch classes, root first: a Roman numeral in the key or a chord name, read by
    music21. Raises SongError for anything it cannot read."""
    from music21 import harmony, key as m21key, roman

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if chord[:1] in "ABCDEFG":
                read = harmony.ChordSymbol(chord.replace("b", "-") if len(chord) > 1 and chord[1] == "b" else chord)
            else:
                read = roman.RomanNumeral(chord, m21key.Key(key.replace("b", "-"), mode))
            pitches = [p.pitchClass for p in read.pitches]
            root = read.root().pitchClass
    except Exception as e:  # music21 raises several unrelated classes for a figure it cannot read
        raise SongError(f"chord {chord!r} is neither a Roman numeral in {key} {mode} nor a chord name "
                        f"({type(e).__name__})") from None
    if not pitches:
        raise SongError(f"chord {chord!r} has no notes")
    ordered = [root] + [p for p in dict.fromkeys(pitches) if p != root]
    return tuple(ordered)
