"""The consent statement: a fresh phrase to read, and the check that it was read, unnegated.

The phrase names the person and ends with random words (a nonce), so an old recording or one made
for somebody else does not pass. What was said is found by free-vocabulary recognition with the
English model inside the pocketsphinx wheel, never by decoding against the phrase itself (a
grammar of the phrase alone "hears" the phrase in "I do not consent"). The transcript is then
compared with the phrase phoneme by phoneme (consent.phonemes), and any negation rejects: one in
the transcript; one found by a pass that spots negating key phrases ("do not", "never",
"withdraw"...; data/negations.kws); or a negated phrase ("... I don't agree ...") that fits the
audio better than the phrase itself when both are force-aligned. The last two are there because free
recognition sometimes hears "don't agree" as "would agree".
"""
from __future__ import annotations

import secrets
import threading
from dataclasses import asdict, dataclass, replace
from functools import cached_property
from importlib import resources
from typing import Any

import numpy as np

from consent.phonemes import Lexicon, align, words_of

RECOGNISER_RATE = 16000
NONCE_WORDS = 3
# The name stands in a sentence of its own, so its last sounds cannot run into "agree": read as
# "I, Lauren Nguyen, agree", a final nasal made "...n agree" fit "don't agree" (issue 16).
STATEMENT = "My name is {name}. I agree that voicekit may create a synthetic version of my voice."
# "voicekit" is not in the dictionary; this is how it is said.
SPOKEN_FORMS = {"voicekit": ("voice", "kit")}
# A negation word heard in place of similar phrase sounds ("isn't that" for "a synthetic") is a
# recognition error; one heard over inserted sounds ("do not agree") is what was said. A word is
# excused when under a third of its phonemes are insertions and the rest cost at most this on average.
EXCUSED_NEGATION_COST = 0.5
NEGATIONS = frozenset(
    "not no never nor neither don't doesn't didn't won't wouldn't can't cannot couldn't isn't aren't "
    "wasn't weren't shouldn't refuse refused refuses withdraw withdrawn withdraws deny denied "
    "decline declined disagree disagreed revoke revoked object reject nobody none nothing unwilling".split()
)


# Negated readings tried against the phrase by forced alignment: (text replaced, replacement);
# an empty text appends the replacement.
NEGATED_VARIANTS = (
    ("agree", "don't agree"), ("agree", "do not agree"), ("agree", "never agree"), ("agree", "disagree"),
    ("agree", "refuse"),
    ("may create", "may not create"), ("may create", "may never create"),
    ("", "I do not agree."), ("", "I withdraw my consent."), ("", "No."),
)


def nonce_vocabulary() -> tuple[str, ...]:
    """Two- and three-syllable concrete nouns, all in the CMU dictionary, that read aloud easily."""
    text = resources.files("consent").joinpath("data/nonce_words.txt").read_text(encoding="utf-8")
    return tuple(w for w in text.split() if w)


def draw_nonce(count: int = NONCE_WORDS) -> tuple[str, ...]:
    """Distinct random words from the vocabulary (about 7.7 bits each)."""
    pool = list(nonce_vocabulary())
    return tuple(pool.pop(secrets.randbelow(len(pool))) for _ in range(count))


def consent_phrase(name: str, nonce: tuple[str, ...]) -> str:
    return f"{STATEMENT.format(name=name)} My words are: {', '.join(nonce)}."


@dataclass(frozen=True)
class StatementThresholds:
    """Minimum alignment scores: of the whole reading, of the nonce words on average and each, and
    of the name's words on average. Calibrated by bench/consent.py: a replayed reading (another
    challenge's nonce) scores about 0.15-0.45 on its nonce words, a genuine one 0.7-1."""

    phrase: float = 0.65
    nonce_mean: float = 0.6
    nonce_each: float = 0.15
    name: float = 0.45


@dataclass(frozen=True)
class StatementCheck:
    """What was heard and how it compares with the phrase (scores in [0, 1], 1 = exact)."""

    transcript: str
    phrase_score: float
    nonce_scores: tuple[float, ...]
    name_score: float
    negations: tuple[str, ...]
    thresholds: StatementThresholds
    spotted: tuple[str, ...] = ()
    negated_fits: tuple[str, ...] = ()

    def failures(self) -> list[str]:
        """Why the statement is refused, one reason each; empty when it is accepted."""
        t = self.thresholds
        out = []
        if self.negations or self.spotted or self.negated_fits:
            found = ", ".join(dict.fromkeys(self.negations + self.spotted + self.negated_fits))
            out.append(f"the statement contains a negation ({found}); heard: {self.transcript!r}")
        if self.phrase_score < t.phrase:
            out.append(f"the statement does not match the phrase (score {self.phrase_score:.2f}, "
                       f"needs {t.phrase:.2f}); "
                       f"heard: {self.transcript!r}")
        nonce_mean = float(np.mean(self.nonce_scores)) if self.nonce_scores else 0.0
        missing = [i + 1 for i, s in enumerate(self.nonce_scores) if s < t.nonce_each]
        if nonce_mean < t.nonce_mean or missing:
            detail = f"; word(s) {missing} below {t.nonce_each:.2f}" if missing else ""
            out.append(f"the challenge words were not heard (mean score {nonce_mean:.2f}, "
                       f"needs {t.nonce_mean:.2f}{detail}); heard: {self.transcript!r}")
        if self.name_score < t.name:
            out.append(f"the name was not heard (score {self.name_score:.2f}, needs {t.name:.2f})")
        return out

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["nonce_scores"] = [round(s, 3) for s in self.nonce_scores]
        d["phrase_score"], d["name_score"] = round(self.phrase_score, 3), round(self.name_score, 3)
        return d


class StatementChecker:
    """Recognises a reading and scores it against the phrase it was meant to be.

    The recogniser (about 0.15 s per second of speech on one core) and the dictionary load on first use.
    """

    def __init__(self, thresholds: StatementThresholds = StatementThresholds()) -> None:
        self.thresholds = thresholds
        # pocketsphinx decoders keep each utterance in themselves: two requests using one at once
        # got each other's transcripts, and crashed the server (issue 15). One request at a time.
        self._lock = threading.RLock()

    @cached_property
    def lexicon(self) -> Lexicon:
        return Lexicon.packaged()

    @cached_property
    def _decoder(self):
        from pocketsphinx import Decoder

        return Decoder(samprate=RECOGNISER_RATE, loglevel="FATAL")

    @cached_property
    def _spotter(self):
        from pocketsphinx import Decoder

        keyphrases = resources.files("consent").joinpath("data/negations.kws")
        with resources.as_file(keyphrases) as path:
            return Decoder(samprate=RECOGNISER_RATE, loglevel="FATAL", kws=str(path))

    @cached_property
    def _aligner(self):
        from pocketsphinx import Decoder

        return Decoder(samprate=RECOGNISER_RATE, loglevel="FATAL")

    def transcribe(self, samples: np.ndarray) -> str:
        """samples: float32 mono at 16 kHz in [-1, 1]. Returns lower-case words."""
        with self._lock:
            hypothesis = _decode(self._decoder, samples).hyp()
            return hypothesis.hypstr if hypothesis is not None else ""

    def spot_negations(self, samples: np.ndarray) -> tuple[str, ...]:
        """Negating key phrases found in the reading (float32 mono, 16 kHz)."""
        with self._lock:
            segments = list(_decode(self._spotter, samples).seg() or [])
            return tuple(dict.fromkeys(segment.word.strip() for segment in segments))

    def negated_fits(self, samples: np.ndarray, phrase: str) -> tuple[str, ...]:
        """The negated variants of `phrase` (NEGATED_VARIANTS) that fit the reading better than the
        phrase itself, by forced-alignment path score. A genuine reading fits the phrase best."""
        plain = self._alignment_score(samples, phrase)
        fits = []
        for old, new in NEGATED_VARIANTS:
            variant = phrase.replace(old, new, 1) if old else f"{phrase} {new}"
            if self._alignment_score(samples, variant) > plain:
                fits.append(f"fits {new!r}")
        return tuple(fits)

    def check(self, samples: np.ndarray, name: str, nonce: tuple[str, ...]) -> StatementCheck:
        """samples: the reading, float32 mono at 16 kHz."""
        result = self.compare(self.transcribe(samples), name, nonce)
        return replace(result, spotted=self.spot_negations(samples),
                       negated_fits=self.negated_fits(samples, consent_phrase(name, nonce)))

    def _alignment_score(self, samples: np.ndarray, text: str) -> float:
        """pocketsphinx's path score of `text` forced onto the audio; -inf when it cannot be aligned."""
        words = self._spoken(words_of(text))
        with self._lock:
            for word in words:
                if self._aligner.lookup_word(word) is None:
                    self._aligner.add_word(word, " ".join(self.lexicon.phones(word)), True)
            self._aligner.set_align_text(" ".join(words))
            hypothesis = _decode(self._aligner, samples).hyp()
            return float(hypothesis.score) if hypothesis is not None else float("-inf")

    def compare(self, transcript: str, name: str, nonce: tuple[str, ...]) -> StatementCheck:
        """Score a transcript against the phrase for `name` and `nonce`."""
        expected = self._spoken(words_of(consent_phrase(name, nonce)))
        heard_words = words_of(transcript)
        heard_phones = [self.lexicon.phones(w) for w in heard_words]
        alignment = align([self.lexicon.phones(w) for w in expected], tuple(p for w in heard_phones for p in w))
        name_words = self._spoken(words_of(name))
        nonce_index = [len(expected) - len(nonce) + i for i in range(len(nonce))]
        name_start = len(self._spoken(words_of(STATEMENT.split("{name}")[0])))
        name_index = range(name_start, name_start + len(name_words))
        return StatementCheck(
            transcript=transcript,
            phrase_score=alignment.score,
            nonce_scores=tuple(alignment.word_scores[i] for i in nonce_index),
            name_score=float(np.mean([alignment.word_scores[i] for i in name_index])) if name_words else 0.0,
            negations=_negations(heard_words, heard_phones, alignment.heard_costs),
            thresholds=self.thresholds,
        )

    @staticmethod
    def _spoken(words: list[str]) -> list[str]:
        return [part for w in words for part in SPOKEN_FORMS.get(w, (w,))]


def _decode(decoder, samples: np.ndarray):
    pcm = (np.clip(samples, -1.0, 1.0) * 32767).astype("<i2").tobytes()
    decoder.start_utt()
    decoder.process_raw(pcm, full_utt=True)
    decoder.end_utt()
    return decoder


def _negations(words: list[str], phones: list[tuple[str, ...]], costs: tuple[float | None, ...]) -> tuple[str, ...]:
    """The negation words heard, less those that only stand in for similar phrase sounds."""
    found, start = [], 0
    for word, word_phones in zip(words, phones):
        own = costs[start:start + len(word_phones)]
        start += len(word_phones)
        if word not in NEGATIONS:
            continue
        substituted = [c for c in own if c is not None]
        excused = (len(own) - len(substituted)) * 3 < len(own) and bool(substituted) and \
            sum(substituted) / len(substituted) <= EXCUSED_NEGATION_COST
        if not excused:
            found.append(word)
    return tuple(found)
