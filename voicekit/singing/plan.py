"""A checked score as what is sung: phrases (runs of notes between rests) of words of syllables,
each syllable on one or more notes (a melisma), tied notes joined, times in seconds."""
from __future__ import annotations

import re
from dataclasses import dataclass

from voicekit.errors import ScoreError
from voicekit.singing.score import DEFAULT_LOUDNESS, MELISMA, Score

PHRASE_GAP_S = 0.12  # a rest at least this long ends a phrase (a breath); shorter gaps are articulation
_WORD_CHARS = re.compile(r"[^\w']+")


@dataclass(frozen=True)
class Segment:
    """One note a syllable holds (ties joined): MIDI pitch, start and end in seconds."""

    pitch: int
    start_s: float
    end_s: float
    loudness: float = DEFAULT_LOUDNESS


@dataclass(frozen=True)
class Syllable:
    text: str
    segments: tuple[Segment, ...]

    @property
    def start_s(self) -> float:
        return self.segments[0].start_s

    @property
    def end_s(self) -> float:
        return self.segments[-1].end_s


@dataclass(frozen=True)
class Word:
    syllables: tuple[Syllable, ...]

    @property
    def text(self) -> str:
        return "".join(s.text for s in self.syllables)


@dataclass(frozen=True)
class Phrase:
    words: tuple[Word, ...]

    @property
    def start_s(self) -> float:
        return self.words[0].syllables[0].start_s

    @property
    def end_s(self) -> float:
        return self.words[-1].syllables[-1].end_s


def phrases(score: Score) -> list[Phrase]:
    """Raises ScoreError for a word with nothing to say ("--" or punctuation alone)."""
    syllables: list[tuple[str, list[Segment], bool]] = []  # text, its notes, whether it ends the word
    tied = False
    for note in score.notes:
        segment = Segment(note.pitch, score.seconds(note.start), score.seconds(note.end), note.loudness)
        lyric = note.lyric
        if tied and syllables and syllables[-1][1][-1].pitch == note.pitch:
            last = syllables[-1][1]
            last[-1] = Segment(last[-1].pitch, last[-1].start_s, segment.end_s, last[-1].loudness)
        elif not lyric or lyric == MELISMA:
            if not syllables:
                raise ScoreError(f"part {score.part or 'of the score'}, measure {note.measure}: "
                                 "a melisma before any syllable")
            syllables[-1][1].append(segment)
        else:
            continues = lyric.endswith("-")
            text = _WORD_CHARS.sub("", lyric.rstrip("-"))
            if not text:
                raise ScoreError(f"part {score.part or 'of the score'}, measure {note.measure}: "
                                 f"the lyric {lyric!r} has no letters to sing")
            syllables.append((text, [segment], not continues))
        tied = note.tie
    out: list[Phrase] = []
    words: list[Word] = []
    current: list[Syllable] = []
    previous_end = None
    for text, segments, ends_word in syllables:
        syllable = Syllable(text, tuple(segments))
        if previous_end is not None and syllable.start_s - previous_end >= PHRASE_GAP_S:
            if current:  # a rest inside a word ends the word there
                words.append(Word(tuple(current)))
                current = []
            out.append(Phrase(tuple(words)))
            words = []
        current.append(syllable)
        if ends_word:
            words.append(Word(tuple(current)))
            current = []
        previous_end = syllable.end_s
    if current:
        words.append(Word(tuple(current)))
    if words:
        out.append(Phrase(tuple(words)))
    return out
