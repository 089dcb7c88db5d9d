"""The consent statement: a fresh phrase to read, and the check that it was read, unnegated.

The phrase names the person and ends with random words (a nonce), so an old recording or one made
for somebody else does not pass. The reading is decoded twice with the English model inside the
pocketsphinx wheel:

- free-vocabulary recognition says what was said, compared with the phrase phoneme by phoneme
  (consent.phonemes); a negation word it hears rejects, unless it only stands in for sounds of the
  person's name or for similar phrase sounds (recognition errors);
- a constrained pass (consent.constrained) decodes the reading against the phrase and its negated
  forms, and the challenge words against the whole word list; a negated form it chooses rejects, and
  so does a reading it cannot follow at all. It decodes twice: with the name as any run of phonemes,
  so that a name's sounds cannot lend themselves to a negation, and with the name's pronunciations,
  so that how much worse they fit than the free run says whether the name was said.

Decoding against the phrase alone would "hear" the phrase in "I do not consent"; free recognition
alone hears "don't" in "Dunne" and "cannot" in a strange "voicekit" (issue 16).
"""
from __future__ import annotations

import itertools
import secrets
import threading
from dataclasses import asdict, dataclass, replace
from functools import cached_property, lru_cache
from importlib import resources
from typing import Any

import numpy as np

from consent.constrained import (PHONE_WORD_PREFIX, VARIANT_MARK, ConstrainedReading, consent_grammar, name_grammar,
                                 parse, transitions)
from consent.phonemes import Alignment, Lexicon, align, words_of
from consent.voiceprint import VAD_FRAME, voiced_frames

RECOGNISER_RATE = 16000
NONCE_WORDS = 4
# The name stands in a sentence of its own, so its last sounds cannot run into "agree": read as
# "I, Lauren Nguyen, agree", a final nasal made "...n agree" fit "don't agree" (issue 16).
STATEMENT = "My name is {name}. I agree that voicekit may create a synthetic version of my voice."
# "voicekit" is not in the dictionary; this is how it is said.
SPOKEN_FORMS = {"voicekit": ("voice", "kit")}
# A negation word heard in place of similar phrase sounds ("isn't that" for "a synthetic") is a
# recognition error; one heard over inserted sounds ("do not agree") is what was said. A word is
# excused when under a third of its phonemes are insertions and the rest cost at most this on average.
EXCUSED_NEGATION_COST = 0.5
# "object" is not in the list: free recognition hears the noun in odd pronunciations of "voicekit";
# "I object" is one of the constrained pass's negated forms instead.
NEGATIONS = frozenset(
    "not no never nor neither don't doesn't didn't won't wouldn't can't cannot couldn't isn't aren't "
    "wasn't weren't shouldn't refuse refused refuses withdraw withdrawn withdraws deny denied "
    "decline declined disagree disagreed revoke revoked objected reject nobody none nothing unwilling".split()
)
FRAMES_PER_S = 100  # pocketsphinx's segment frames
OUTSIDE_MARGIN_S = 0.15  # how far speech may run past the aligned phrase before it counts as outside
# How many pronunciations of a whole name (one per word, combined) the constrained pass tries.
MAX_NAME_VARIANTS = 16
NAME_PAD_FRAMES = 10  # the name is scored on its frames as the reading placed them, and this many each side


@lru_cache(maxsize=1)
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
    """What a reading must reach. phrase and name: scores of the free transcript against the phrase
    and against the name's words. name_lr: the most that any run of phonemes may beat the name's
    own pronunciations by, per frame of the name as the reading placed it (acoustic log-likelihood,
    StatementChecker._name_fit). Tuned on bench/consent_names.py's readings (6 voices, 26 genuine):
    genuine names came to -2.8 to -0.8 (median -1.5), save one at -0.24 and two flite readings of
    "Lauren Nguyen" (1.3, 2.5); the same readings offered for another name (22 decoded) to -0.62
    to 5.4 (median 1.1), the lowest two -0.62 and -0.24. The name passes on
    that fit or on its transcript score alone; that score is weak evidence (a short name's phonemes
    are found inside other names: "Ann Lee" scored 0.75 in a reading of "Sean Flynn"), hence the
    high bar. nonce_missing: how many challenge words may go unheard; a word
    is heard when the constrained pass heard it exactly (or, for a transcript alone, when it scores
    nonce_each). Calibrated by bench/consent.py: a replayed reading (another challenge's words) scores
    about 0.15-0.45 on its challenge words, a genuine one 0.7-1, and the constrained pass hears a
    replay's words as its own, so with 4 words from 207 and one allowed to go unheard, a replay
    passes about 4 times in 207**3 (5e-7). outside_speech_s: voiced seconds allowed outside the
    aligned phrase (speech_outside); genuine readings by 6 voices had at most 0.03 s, a "No." that
    flite's kal16 voice appended and both passes folded into the last word 0.27-0.30 s."""

    phrase: float = 0.65
    nonce_each: float = 0.6
    nonce_missing: int = 1
    name: float = 0.8
    name_lr: float = -0.7
    outside_speech_s: float = 0.15


@dataclass(frozen=True)
class StatementCheck:
    """What was heard and how it compares with the phrase (scores in [0, 1], 1 = exact)."""

    transcript: str
    phrase_score: float
    nonce_scores: tuple[float, ...]
    name_score: float
    negations: tuple[str, ...]
    thresholds: StatementThresholds
    expected_nonce: tuple[str, ...] = ()
    outside: tuple[str, ...] = ()  # words heard before or after the phrase
    constrained: ConstrainedReading | None = None
    speech_outside_s: float = 0.0  # voiced seconds before or after the phrase as the second pass aligned it

    def failures(self) -> list[str]:
        """Why the statement is refused, one reason each; empty when it is accepted."""
        t, out = self.thresholds, []
        negated = self.negations + (self.constrained.negated if self.constrained else ())
        if negated:
            out.append(f"the statement contains a negation ({', '.join(dict.fromkeys(negated))}); "
                       f"heard: {self.transcript!r}")
        if not self.outside and self.speech_outside_s > t.outside_speech_s:
            out.append(f"something was said before or after the phrase ({self.speech_outside_s:.2f} s of speech "
                       "outside it); read the phrase alone")
        if self.outside:
            out.append(f"something was said before or after the phrase ({' '.join(self.outside)!r}); "
                       f"read the phrase alone; heard: {self.transcript!r}")
        if self.constrained is not None and self.constrained.words is None:
            out.append(f"the reading does not follow the phrase; heard: {self.transcript!r}")
        if self.phrase_score < t.phrase:
            out.append(f"the statement does not match the phrase (score {self.phrase_score:.2f}, "
                       f"needs {t.phrase:.2f}); heard: {self.transcript!r}")
        missing = self.missing_nonce()
        if len(missing) > t.nonce_missing:
            out.append(f"the challenge words were not heard (word(s) {missing}); heard: {self.transcript!r}")
        if not self.name_heard():
            fit = f", fit {self.constrained.name_lr:.2f}, needs {t.name_lr:.2f} or less" if self.constrained else ""
            out.append(f"the name was not heard (score {self.name_score:.2f}, needs {t.name:.2f}{fit})")
        return out

    def name_heard(self) -> bool:
        """The name's own pronunciations explain its frames nearly as well as any run of phonemes,
        or, for a transcript alone, the transcript holds it."""
        if self.constrained is not None and self.constrained.name_lr <= self.thresholds.name_lr:
            return True
        return self.name_score >= self.thresholds.name

    def missing_nonce(self) -> list[int]:
        """The challenge words (1-based) not heard: not heard exactly by the constrained pass or, for a
        transcript alone, scoring under nonce_each."""
        if self.constrained is None:
            return [i + 1 for i, score in enumerate(self.nonce_scores) if score < self.thresholds.nonce_each]
        heard = self.constrained.nonce
        return [i + 1 for i, word in enumerate(self.expected_nonce) if i >= len(heard) or heard[i] != word]

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
    def _constrained_decoder(self):
        from pocketsphinx import Decoder

        # No lattice: reading out the segments of a decode with the phoneme loop built one and took
        # 3.8 s; without it 0.2 s, with the same negations and challenge words on 38 readings.
        return Decoder(samprate=RECOGNISER_RATE, loglevel="FATAL", bestpath=False)

    @cached_property
    def _name_decoder(self):
        from pocketsphinx import Decoder

        return Decoder(samprate=RECOGNISER_RATE, loglevel="FATAL")

    def transcribe(self, samples: np.ndarray) -> str:
        """samples: float32 mono at 16 kHz in [-1, 1]. Returns lower-case words."""
        with self._lock:
            hypothesis = _decode(self._decoder, samples).hyp()
            return hypothesis.hypstr if hypothesis is not None else ""

    def constrained(self, samples: np.ndarray, name: str, nonce: tuple[str, ...]) -> ConstrainedReading:
        """The second pass: the reading decoded against the phrase and its negated forms
        (consent.constrained), the challenge words against the whole word list, twice: with the name
        as any run of phonemes (what was said, negations included, with the name's sounds free to
        be anything) and with the name's own pronunciations (how well the name fits)."""
        phrase, name_span, nonce_span = self._phrase_parts(name, nonce)
        name_words = tuple(phrase[i] for i in name_span)
        variants = tuple(self.name_variants(list(name_words)))
        vocabulary = nonce_vocabulary()
        looped, loop_segments = self._decode_grammar(
            samples, consent_grammar(phrase, name_span, nonce_span, vocabulary, variants, name_as_loop=True))
        if looped is None:
            return ConstrainedReading(None, (), ())
        named, name_segments = self._decode_grammar(
            samples, consent_grammar(phrase, name_span, nonce_span, vocabulary, variants))
        spoken = [seg for seg in loop_segments if not _is_filler(seg.word)]
        span = (spoken[0].start_frame / FRAMES_PER_S, (spoken[-1].end_frame + 1) / FRAMES_PER_S) if spoken else None
        said = [seg for seg in name_segments if seg.word.partition(VARIANT_MARK)[0] in name_words]
        name_lr = float("inf")
        if named is not None and said:
            start = max(said[0].start_frame - NAME_PAD_FRAMES, 0) * RECOGNISER_RATE // FRAMES_PER_S
            end = (said[-1].end_frame + 1 + NAME_PAD_FRAMES) * RECOGNISER_RATE // FRAMES_PER_S
            name_lr = self._name_fit(samples[start:end], (name_words,) + variants)
        return ConstrainedReading(tuple(w for p in looped for w in p.words),
                                  tuple(" ".join(p.words) for p in looped if p.negated),
                                  tuple(p.words[0] for p in looped if p.nonce), name_lr, span)

    def _name_fit(self, samples: np.ndarray, names: tuple[tuple[str, ...], ...]) -> float:
        """How much better per frame any run of phonemes explains `samples` (the name as the
        reading placed it) than the best of the name's pronunciations: an acoustic log-likelihood
        ratio, decoded with a lattice (its word scores are the rescored ones) on the name alone."""
        scores = []
        for as_loop in (True, False):
            paths, segments = self._decode_grammar(samples, name_grammar(names, as_loop), self._name_decoder)
            if paths is None:
                return float("inf")
            scores.append(_log_acoustic(segments))
        return (scores[0] - scores[1]) / (len(samples) / RECOGNISER_RATE * FRAMES_PER_S)

    def _decode_grammar(self, samples: np.ndarray, slots: list, decoder=None) -> tuple[list | None, list]:
        """The paths the decoder took through `slots` (None when it found none that follows them)
        and its word segments."""
        final, arcs = transitions(slots)
        decoder = decoder or self._constrained_decoder
        with self._lock:
            new = [w for w in dict.fromkeys(arc[3] for arc in arcs if len(arc) == 4) if decoder.lookup_word(w) is None]
            for k, word in enumerate(new):  # the search is rebuilt once, after the last word
                decoder.add_word(word, " ".join(self._token_phones(word)), k == len(new) - 1)
            decoder.add_fsg("consent", decoder.create_fsg("consent", 0, final, arcs))
            decoder.activate_search("consent")
            hypothesis = _decode(decoder, samples).hyp()
            segments = list(decoder.seg() or ())  # None: nothing decoded
        words = tuple(hypothesis.hypstr.split()) if hypothesis is not None and hypothesis.hypstr else None
        return (parse(words, slots) if words is not None else None), segments

    def name_variants(self, name_words: list[str]) -> list[tuple[str, ...]]:
        """The name's words under each combination of their pronunciations (the first one plain, the
        others as "word~k" tokens), at most MAX_NAME_VARIANTS."""
        per_word = [[w if k == 0 else f"{w}{VARIANT_MARK}{k}" for k in range(len(self.lexicon.pronunciations(w)))]
                    for w in name_words]
        return list(itertools.islice(itertools.product(*per_word), MAX_NAME_VARIANTS))

    def _token_phones(self, token: str) -> tuple[str, ...]:
        if token.startswith(PHONE_WORD_PREFIX):
            return (token[len(PHONE_WORD_PREFIX):].upper(),)
        word, _, k = token.partition(VARIANT_MARK)
        return self.lexicon.pronunciations(word)[int(k)] if k else self.lexicon.phones(word)

    def check(self, samples: np.ndarray, name: str, nonce: tuple[str, ...]) -> StatementCheck:
        """samples: the reading, float32 mono at 16 kHz."""
        result = self.compare(self.transcribe(samples), name, nonce)
        reading = self.constrained(samples, name, nonce)
        return replace(result, constrained=reading, speech_outside_s=speech_outside(samples, reading.span_s))

    def compare(self, transcript: str, name: str, nonce: tuple[str, ...]) -> StatementCheck:
        """Score a transcript against the phrase for `name` and `nonce` (the first pass alone)."""
        expected, name_span, nonce_span = self._phrase_parts(name, nonce)
        heard_words = words_of(transcript)
        heard_phones = [self.lexicon.phones(w) for w in heard_words]
        alignment = align([self.lexicon.phones(w) for w in expected], tuple(p for w in heard_phones for p in w))
        return StatementCheck(
            transcript=transcript,
            phrase_score=alignment.score,
            nonce_scores=tuple(alignment.word_scores[i] for i in nonce_span),
            name_score=float(np.mean([alignment.word_scores[i] for i in name_span])) if name_span else 0.0,
            negations=_negations(heard_words, heard_phones, alignment, name_span),
            thresholds=self.thresholds,
            expected_nonce=tuple(nonce),
            outside=_outside(heard_words, heard_phones, alignment),
        )

    @classmethod
    def _phrase_parts(cls, name: str, nonce: tuple[str, ...]) -> tuple[list[str], range, range]:
        """The phrase's spoken words, and where the name's and the challenge words stand in them."""
        expected = cls._spoken(words_of(consent_phrase(name, nonce)))
        name_start = len(cls._spoken(words_of(STATEMENT.split("{name}")[0])))
        name_span = range(name_start, name_start + len(cls._spoken(words_of(name))))
        return expected, name_span, range(len(expected) - len(nonce), len(expected))

    @staticmethod
    def _spoken(words: list[str]) -> list[str]:
        return [part for w in words for part in SPOKEN_FORMS.get(w, (w,))]


def _is_filler(word: str) -> bool:
    """pocketsphinx's sentence markers, silences, noise words and a grammar's null transitions."""
    return word in ("<s>", "</s>", "<sil>", "(NULL)") or word.startswith(("[", "+"))


def speech_outside(samples: np.ndarray, span_s: tuple[float, float] | None) -> float:
    """Seconds of voiced audio (webrtcvad) more than OUTSIDE_MARGIN_S before the phrase's first word
    or after its last, on whichever side holds more: a "No." added after the challenge words that
    both passes fold into the last word is still speech the phrase does not account for."""
    if span_s is None:
        return 0.0
    voiced = voiced_frames(samples)
    centres = (np.arange(len(voiced)) + 0.5) * VAD_FRAME / RECOGNISER_RATE
    before = np.sum(voiced & (centres < span_s[0] - OUTSIDE_MARGIN_S))
    after = np.sum(voiced & (centres > span_s[1] + OUTSIDE_MARGIN_S))
    return float(max(before, after)) * VAD_FRAME / RECOGNISER_RATE


def _log_acoustic(segments) -> float:
    """The decoded path's acoustic log-likelihood (pocketsphinx gives each word's as a probability)."""
    return float(sum(np.log(max(seg.ascore, 1e-320)) for seg in segments))


def _decode(decoder, samples: np.ndarray):
    pcm = (np.clip(samples, -1.0, 1.0) * 32767).astype("<i2").tobytes()
    decoder.start_utt()
    decoder.process_raw(pcm, full_utt=True)
    decoder.end_utt()
    return decoder


def _outside(words: list[str], phones: list[tuple[str, ...]], alignment: Alignment) -> tuple[str, ...]:
    """The words heard wholly before the phrase's first sound or after its last: an appended "No."
    heard as "know" is no phrase word and no negation word, but it is not part of the phrase either.
    No genuine reading in bench/consent.py's 240 had any."""
    owned = [k for k, owner in enumerate(alignment.heard_owners) if owner is not None]
    if not owned:
        return ()
    out, start = [], 0
    for word, word_phones in zip(words, phones):
        span = range(start, start + len(word_phones))
        start += len(word_phones)
        if span and (span.start > owned[-1] or span[-1] < owned[0]):
            out.append(word)
    return tuple(out)


def _inside(owners: tuple[int | None, ...], span: range) -> list[bool]:
    """Per heard phoneme: does it stand for a word in `span`? An inserted phoneme (no owner) does when
    the phonemes on both sides of it do ("Noone" heard as "no one")."""
    before, after, last = [], [None] * len(owners), None
    for owner in owners:
        last = owner if owner is not None else last
        before.append(last)
    last = None
    for k in range(len(owners) - 1, -1, -1):
        last = owners[k] if owners[k] is not None else last
        after[k] = last
    return [(o in span) if o is not None else (b in span and a in span) for o, b, a in zip(owners, before, after)]


def _negations(words: list[str], phones: list[tuple[str, ...]], alignment: Alignment,
               name_span: range) -> tuple[str, ...]:
    """The negation words heard, less those that only stand in for similar phrase sounds or for the
    name's sounds ("Knott" heard as "not", "Dunne" as "don't": names are the person's own, and a
    name holding a negation word is refused when the challenge is issued)."""
    in_name = _inside(alignment.heard_owners, name_span)
    found, start = [], 0
    for word, word_phones in zip(words, phones):
        own = alignment.heard_costs[start:start + len(word_phones)]
        named = in_name[start:start + len(word_phones)]
        start += len(word_phones)
        if word not in NEGATIONS:
            continue
        if sum(named) * 2 > len(named):
            continue
        substituted = [c for c in own if c is not None]
        excused = (len(own) - len(substituted)) * 3 < len(own) and bool(substituted) and \
            sum(substituted) / len(substituted) <= EXCUSED_NEGATION_COST
        if not excused:
            found.append(word)
    return tuple(found)
