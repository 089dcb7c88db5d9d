"""When each word is heard in the released audio.

`heart` (and clones built on it) report timings from the network's own duration predictor. Other
engines (joe, coqui) give no durations, so their audio is force-aligned to the known text with
pocketsphinx's English model (the wheel's CMU dictionary, espeak-ng for words it lacks): the words
are known, only their boundaries are searched, in 10 ms frames.
"""
from __future__ import annotations

import hashlib
import re
import threading
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from voicekit import audio
from voicekit.errors import EngineUnavailable

ALIGNER_RATE = 16000
FRAME_S = 0.01
# pocketsphinx puts boundaries early: by 0.05 s (median) against Piper's own phoneme durations, whose
# edges match the silences around breaks within 0.03 s, and by 0.07 s against heart's
# (bench/expressive.py, 2026-11-22). Its times are moved this much later.
ALIGNER_EARLY_S = 0.05
PUNCTUATION = ".,;:!?\"'()[]{}\u2014\u2026\u201c\u201d\u2018\u2019"
_SILENCES = frozenset({"<s>", "</s>", "<sil>", "[NOISE]", "[SPEECH]"})


_RUN = re.compile(r"\[\[.*?\]\]|\S+")


def text_words(text: str) -> list[str]:
    """The words timings are named by: whitespace-separated runs holding a letter or digit, less
    surrounding punctuation; a Piper inline [[ phonemes ]] block is one word, kept as written."""
    runs = (run if run.startswith("[[") else run.strip(PUNCTUATION) for run in _RUN.findall(text))
    return [run for run in runs if any(c.isalnum() for c in run)]


class TimingUnavailable(EngineUnavailable):
    """The words could not be located in the audio."""


@dataclass(frozen=True)
class WordTiming:
    """A word as the text wrote it, and when it starts and ends (seconds into the audio)."""

    word: str
    start: float
    end: float

    def shifted(self, seconds: float) -> "WordTiming":
        return WordTiming(self.word, round(self.start + seconds, 4), round(self.end + seconds, 4))

    def scaled(self, factor: float) -> "WordTiming":
        return WordTiming(self.word, round(self.start * factor, 4), round(self.end * factor, 4))

    def as_dict(self) -> dict[str, float | str]:
        return {"word": self.word, "start": round(self.start, 3), "end": round(self.end, 3)}


class ForcedAligner:
    """Locates the words of a known text in speech. One alignment at a time: the pocketsphinx
    decoder keeps the utterance in itself, and streams of several requests share it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()

    @cached_property
    def _lexicon(self):
        from consent.phonemes import Lexicon

        return Lexicon.packaged()

    @cached_property
    def _decoder(self):
        from pocketsphinx import Decoder

        return Decoder(samprate=ALIGNER_RATE, loglevel="FATAL")

    def align(self, samples: np.ndarray, sample_rate: int, text: str) -> list[WordTiming]:
        """Timings of the whitespace-separated runs of `text` that contain a letter or digit."""
        runs = text_words(text)
        if not runs:
            return []
        with self._lock:
            return self._align(samples, sample_rate, text, runs)

    def _align(self, samples: np.ndarray, sample_rate: int, text: str, runs: list[str]) -> list[WordTiming]:
        decoder = self._decoder
        names = []
        for run in runs:
            name = _dictionary_name(run)
            if decoder.lookup_word(name) is None:
                phones = self._lexicon.phones(run.lower())  # CMU, else read by espeak-ng ("$5.20", "3/4")
                if not phones:
                    raise TimingUnavailable(f"cannot tell how {run!r} is pronounced")
                decoder.add_word(name, " ".join(phones), True)
            names.append(name)
        decoder.set_align_text(" ".join(names))
        pcm = (np.clip(audio.resample(samples, sample_rate, ALIGNER_RATE), -1, 1) * 32767).astype("<i2")
        decoder.start_utt()
        decoder.process_raw(pcm.tobytes(), full_utt=True)
        decoder.end_utt()
        found = [(s.start_frame, s.end_frame) for s in decoder.seg() or [] if s.word not in _SILENCES]
        if decoder.hyp() is None or len(found) != len(runs):
            raise TimingUnavailable(f"could not align {len(runs)} words to the audio (found {len(found)})")
        return [WordTiming(run, round(a * FRAME_S + ALIGNER_EARLY_S, 4), round((b + 1) * FRAME_S + ALIGNER_EARLY_S, 4))
                for run, (a, b) in zip(runs, found)]


QUIET_BELOW_PEAK_DB = 45.0  # a 10 ms frame this far below the loudest is silence


def fitted_to_audio(words: list[WordTiming], samples: np.ndarray, sample_rate: int) -> list[WordTiming]:
    """Word edges moved to where the sound starts and stops: model durations are exact inside a
    sentence but not at its edges (heart's first pad holds the first word's onset, its last phoneme
    the trailing silence). A start moves back over sound that no earlier word claims and forward
    over silence; an end likewise, never across a neighbour."""
    if not words:
        return words
    loud = audio.frame_levels_db(samples, sample_rate, FRAME_S)
    loud = loud > (np.max(loud) - QUIET_BELOW_PEAK_DB if len(loud) else 0)
    frames = len(loud)
    out: list[WordTiming] = []
    for i, word in enumerate(words):
        start = min(frames, int(word.start / FRAME_S))
        end = min(frames, max(start, int(np.ceil(word.end / FRAME_S))))
        floor = int(np.ceil(out[-1].end / FRAME_S)) if out else 0
        ceiling = min(frames, int(words[i + 1].start / FRAME_S)) if i + 1 < len(words) else frames
        while start > floor and loud[start - 1]:
            start -= 1
        while start < end and not loud[start]:
            start += 1
        while end < ceiling and loud[end]:
            end += 1
        while end > start and not loud[end - 1]:
            end -= 1
        if end <= start:  # no sound of its own (a word the engine slurred into the next): keep as reported
            out.append(word)
        else:
            out.append(WordTiming(word.word, round(start * FRAME_S, 4), round(end * FRAME_S, 4)))
    return out


def _dictionary_name(run: str) -> str:
    """A pocketsphinx dictionary word for a run of text: itself when it is a plain word."""
    plain = run.lower()
    return plain if re.fullmatch(r"[a-z]+(?:'[a-z]+)*", plain) else "x" + hashlib.sha1(plain.encode()).hexdigest()[:12]
