"""The notes each voice can sing, and the check a transposed score must pass."""
from __future__ import annotations

from voicekit.errors import OutOfRange
from voicekit.singing.score import Score

# MIDI ranges, about a twelfth each around where the voice speaks: heart (speaking near A3) sings a
# mezzo's G3-C6 range less its top; joe (speaking near A2) a baritone's F2-G4.
RANGES = {"heart": (55, 79), "joe": (41, 67)}
_NAMES = ["C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B"]


def note_name(pitch: int) -> str:
    return f"{_NAMES[pitch % 12]}{pitch // 12 - 1}"


def check_range(score: Score, base: str, transpose: int) -> None:
    """Raise OutOfRange naming the first notes outside `base`'s range and by how much."""
    low, high = RANGES[base]
    outside = [n for n in score.notes if not low <= n.pitch <= high]
    if not outside:
        return
    worst_low = min((n.pitch for n in outside if n.pitch < low), default=None)
    worst_high = max((n.pitch for n in outside if n.pitch > high), default=None)
    hint = []
    if worst_high is not None:
        hint.append(f"{note_name(worst_high)} is {worst_high - high} semitones above its top ({note_name(high)})")
    if worst_low is not None:
        hint.append(f"{note_name(worst_low)} is {low - worst_low} semitones below its bottom ({note_name(low)})")
    first = outside[0]
    where = f"part {score.part!r}, " if score.part else ""
    shift = f" after transposing by {transpose:+d}" if transpose else ""
    raise OutOfRange(f"{len(outside)} notes are outside the {base} voice's range{shift} ({where}first in measure "
                     f"{first.measure}): {'; '.join(hint)}. Transpose the score (--transpose)")
