"""A checked request's audio, a sentence at a time, at the request's rate: each sentence through
its voice's engine under its prosody and style, pauses and SSML marks placed, word timings kept.
Nothing here marks or releases audio; the studio hands what this yields to the release."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterator

import numpy as np

from voicekit import audio, prosody
from voicekit.errors import EmptyText, TooLong
from voicekit.studio.request import MAX_RENDERED_S, Request
from voicekit.studio.voices import Voices
from voicekit.text.chunking import sentences
from voicekit.text.say_as import long_numbers
from voicekit.text.ssml import Mark, Pause
from voicekit.timing import ForcedAligner, WordTiming, fitted_to_audio, text_words

FIRST_CHUNK_S = 1.0  # a stream's first chunk ends at the first word gap after this


@dataclass
class Segment:
    """A sentence's audio at the request's rate, with the pauses that follow it; word and mark
    positions within it (words in seconds, marks in samples)."""

    samples: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))
    words: list[WordTiming] = field(default_factory=list)
    marks: dict[str, int] = field(default_factory=dict)
    spoken: bool = False
    gaps: list[int] = field(default_factory=list)  # samples between words, where the audio may be cut

    def split(self, at_s: float, sample_rate: int) -> list["Segment"]:
        """Cut at the first gap between words after `at_s` seconds (none: kept whole)."""
        cut = next((g for g in self.gaps if g >= at_s * sample_rate), None)
        if cut is None or cut >= len(self.samples):
            return [self]
        head_s = cut / sample_rate
        return [
            Segment(self.samples[:cut], [w for w in self.words if w.start < head_s],
                    {n: a for n, a in self.marks.items() if a < cut}, True),
            Segment(self.samples[cut:], [w.shifted(-head_s) for w in self.words if w.start >= head_s],
                    {n: a - cut for n, a in self.marks.items() if a >= cut}, True),
        ]

    def joined(self, other: "Segment", sample_rate: int) -> "Segment":
        """This segment followed by `other` (a stream carries a piece the gate refused into the next)."""
        shift = len(self.samples)
        return Segment(np.concatenate([self.samples, other.samples]),
                       self.words + [w.shifted(shift / sample_rate) for w in other.words],
                       self.marks | {n: a + shift for n, a in other.marks.items()}, True,
                       self.gaps + [g + shift for g in other.gaps])


def segments(request: Request, voices: Voices, aligner: Callable[[], ForcedAligner],
             word_timings: bool) -> Iterator[Segment]:
    """The plan's audio a sentence at a time. Pauses and marks ride on the sentence before
    them (those before the first sentence, on the first), so no segment is silence alone.
    Speech beside a break loses the engine's own edge silence there, so 1 s sounds as 1 s.
    Raises TooLong as soon as the audio passes MAX_RENDERED_S (memory and work stay bounded)."""
    plan, rate = request.plan, request.options.sample_rate
    limit = round(MAX_RENDERED_S * rate)
    current, released, total = Segment(), False, 0
    for i, item in enumerate(plan):
        if isinstance(item, Mark):
            current.marks[item.name] = len(current.samples)
        elif isinstance(item, Pause):
            current.samples = np.concatenate([current.samples, np.zeros(round(item.seconds * rate), np.float32)])
        else:
            voice = item.voice or request.voice
            engine, lexicon = request.engines[voice], request.lexicons[voice]
            texts = [item.text] if item.ipa is not None else sentences(item.text)
            for k, sentence in enumerate(texts):
                spoken = sentence if item.ipa is not None else lexicon.apply(
                    long_numbers(sentence), engine.capabilities.inline_phonemes)
                with voices.rendering(engine):
                    rendered = prosody.render(engine, spoken, item.prosody, item.ipa, request.style)
                samples = audio.resample(rendered.samples, engine.sample_rate, rate)
                samples, cut = prosody.trim_edges(samples, rate, start=k == 0 and _next_to_pause(plan, i, -1),
                                                  end=k == len(texts) - 1 and _next_to_pause(plan, i, 1))
                found = rendered.words
                if found is None and word_timings:
                    found = aligner().align(rendered.samples, engine.sample_rate, spoken)
                if found is not None:
                    found = fitted_to_audio(found, rendered.samples, engine.sample_rate)
                if current.spoken and len(current.samples):
                    total += len(current.samples)
                    _check_length(total, limit)
                    yield current
                    released = True
                    current = Segment()
                shift = (len(current.samples) - cut) / rate
                current.samples = np.concatenate([current.samples, samples])
                current.gaps = [round((a.end + b.start) / 2 * rate + shift * rate)
                                for a, b in zip(found or [], (found or [])[1:])]
                current.words = [w.shifted(shift) for w in _named(found, sentence)] if word_timings else []
                current.spoken = True
                _check_length(total + len(current.samples), limit)
    if not released and not len(current.samples):
        raise EmptyText("the voice found nothing it can pronounce in the text")
    if len(current.samples):
        yield current


def _check_length(samples: int, limit: int) -> None:
    if samples > limit:
        raise TooLong(f"the speech runs past {MAX_RENDERED_S:.0f} s, the most one request renders "
                      "(split the text, or send it as an audiobook, whose chapters are split)")


def first_split(pieces: Iterator[Segment], sample_rate: int) -> Iterator[Segment]:
    """The segments, the first cut after FIRST_CHUNK_S so that playback starts sooner (watermarking
    and checking a shorter piece)."""
    for i, segment in enumerate(pieces):
        yield from segment.split(FIRST_CHUNK_S, sample_rate) if i == 0 else [segment]


def placed(pieces: list[Segment], sample_rate: int) -> tuple[list[WordTiming], dict[str, float]]:
    """Words and marks of consecutive segments, in seconds from the start of the first."""
    words: list[WordTiming] = []
    marks: dict[str, float] = {}
    offset = 0
    for segment in pieces:
        words.extend(w.shifted(offset / sample_rate) for w in segment.words)
        marks.update({name: round((offset + at) / sample_rate, 3) for name, at in segment.marks.items()})
        offset += len(segment.samples)
    return words, marks


def _named(words: list[WordTiming] | None, sentence: str) -> list[WordTiming]:
    """Timings named by the sentence's own words when they are as many (a lexicon's inline
    pronunciation becomes its word again); the engine's spoken words otherwise (an alias)."""
    if words is None:
        return []
    runs = text_words(sentence)
    if len(runs) != len(words):
        return words
    return [WordTiming(run, w.start, w.end) for run, w in zip(runs, words)]


def _next_to_pause(plan: list, i: int, step: int) -> bool:
    j = i + step
    while 0 <= j < len(plan) and isinstance(plan[j], Mark):
        j += step
    return 0 <= j < len(plan) and isinstance(plan[j], Pause)
