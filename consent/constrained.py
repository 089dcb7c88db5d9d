"""The second, constrained decoding pass of a consent reading: a grammar that holds the phrase and
its negated forms, so a negation is heard where it was said and nowhere else.

Free recognition (the first pass) hears "don't", "never" or "cannot" inside names and odd
pronunciations ("Nora Knott", "voicekit" read as "boys are kids"), and refused genuine speakers by
their names (issue 16). Here the name and the consent words are fixed, and negations may only stand
where they change what is agreed to: before or in place of "agree", around "may create", and
before or after the whole reading. A negated form enters the search with a tiny prior (NEGATION_PRIOR)
so that it wins only where its sounds were said. Measured on bench/consent_names.py's readings (120
genuine, 120 negated): from 1e-2 to 1e-10 sound-alikes won in 6 genuine readings, at 1e-20 in 3 with
every negated reading still caught, and at 1e-30 71 of the 120 negated readings went unheard.

The challenge words are decoded against the whole word list, not the four expected, so a replayed
reading of another challenge is heard as its own words.
"""
from __future__ import annotations

from dataclasses import dataclass

NEGATION_PRIOR = 1e-20
# The name slot holds either the name's pronunciations or any run of phonemes (a loop over
# single-phoneme words), never both: the reading is decoded once each way (consent.statement), and
# how much better the loop explains the name's frames says whether the name was said. The loop
# decode also lets a name's odd sounds go to the loop instead of lending themselves to a negation.
PHONES = tuple("AA AE AH AO AW AY B CH D DH EH ER EY F G HH IH IY JH K L M N NG OW OY P R S SH T TH UH UW V W Y Z "
               "ZH".split())
PHONE_WORD_PREFIX = "_"
# A name word's further pronunciations enter the grammar as their own words: "keenan~1".
VARIANT_MARK = "~"
# Negated forms of a part of the phrase: (the words of the phrase, their negated alternatives).
NEGATED_FORMS: dict[tuple[str, ...], tuple[str, ...]] = {
    ("i", "agree"): (
        "i do not agree", "i don't agree", "i never agree", "i disagree", "i refuse", "i cannot agree",
        "i can't agree", "i will not agree", "i won't agree", "i did not agree", "i didn't agree",
        "i do not", "i don't", "i agree not", "i refuse to agree", "i withdraw", "i object",
    ),
    ("may", "create"): (
        "may not create", "may never create", "cannot create", "can't create", "will not create",
        "won't create", "must not create", "shall not create", "should not create", "never create",
        "may create no", "may not", "must never create",
    ),
}
# Said before "my name is" or after the challenge words.
NEGATED_ASIDES = (
    "no", "not", "never", "i do not agree", "i don't agree", "i disagree", "i refuse", "i withdraw",
    "i withdraw my consent", "i do not consent", "i don't consent", "i object", "i take it back",
    "not really", "i do not", "i don't",
)


@dataclass(frozen=True)
class ConstrainedReading:
    """What the constrained pass heard with the name as any run of phonemes: the words (None when
    the reading does not follow the phrase at all), the negated forms chosen, the challenge words
    heard in their places, and where in the reading it lies; and, from the decode with the name's
    own pronunciations in its place, how much better per frame the phoneme run explained the name
    (name_lr: acoustic log-likelihood ratio, loop over name; low when the name was said)."""

    words: tuple[str, ...] | None
    negated: tuple[str, ...]
    nonce: tuple[str, ...]
    name_lr: float = float("inf")
    span_s: tuple[float, float] | None = None  # from the first word's start to the last word's end


@dataclass(frozen=True)
class _Path:
    words: tuple[str, ...]
    probability: float
    negated: bool = False
    nonce: bool = False
    name: bool = False
    loop: bool = False  # any run of one or more phoneme words


def consent_grammar(phrase_words: list[str], name_span: range, nonce_span: range,
                    vocabulary: tuple[str, ...], name_variants: tuple[tuple[str, ...], ...] = (),
                    name_as_loop: bool = False) -> list[list[_Path]]:
    """The reading as a sequence of slots, each a choice of word paths.

    phrase_words: the spoken words of the phrase; name_span and nonce_span index into them.
    name_variants: the name as words of other pronunciations (see VARIANT_MARK), each as likely as
    the name's own words. name_as_loop: the name slot is any run of phonemes instead."""
    asides = [_Path((), 1.0, False)] + [_Path(tuple(a.split()), NEGATION_PRIOR, True) for a in NEGATED_ASIDES]
    slots: list[list[_Path]] = [asides]
    i = 0
    while i < len(phrase_words):
        if i == name_span.start and name_span:
            names = dict.fromkeys((tuple(phrase_words[i:name_span.stop]),) + name_variants)
            slots.append([_Path((), 1.0, loop=True)] if name_as_loop
                         else [_Path(words, 1.0, name=True) for words in names])
            i = name_span.stop
            continue
        if i in nonce_span:
            slots.append([_Path((w,), 1.0 / len(vocabulary), nonce=True) for w in vocabulary])
            i += 1
            continue
        for part, negated in NEGATED_FORMS.items():
            if tuple(phrase_words[i:i + len(part)]) == part:
                slots.append([_Path(part, 1.0, False)]
                             + [_Path(tuple(n.split()), NEGATION_PRIOR, True) for n in negated])
                i += len(part)
                break
        else:
            slots.append([_Path((phrase_words[i],), 1.0, False)])
            i += 1
    slots.append(asides)
    return slots


def name_grammar(names: tuple[tuple[str, ...], ...], as_loop: bool) -> list[list[_Path]]:
    """The name alone, as one of its pronunciations or as any run of phonemes."""
    if as_loop:
        return [[_Path((), 1.0, loop=True)]]
    return [[_Path(words, 1.0, name=True) for words in dict.fromkeys(names)]]


def transitions(slots: list[list[_Path]]) -> tuple[int, list[tuple]]:
    """pocketsphinx FSG transitions for `slots`: (final state, [(from, to, probability[, word])])."""
    out: list[tuple] = []
    state, free = 0, 1
    for slot in slots:
        end, free = free, free + 1
        for path in slot:
            if path.loop:  # state -> first phoneme -> any more phonemes -> end
                first, more, free = free, free + 1, free + 2
                out.append((state, first, path.probability))
                words = [PHONE_WORD_PREFIX + p.lower() for p in PHONES]
                out.extend((first, more, 1.0 / len(words), w) for w in words)
                out.extend((more, more, 1.0 / (len(words) + 1), w) for w in words)
                out.append((more, end, 1.0 / (len(words) + 1)))
                continue
            if not path.words:
                out.append((state, end, path.probability))
                continue
            current = state
            for k, word in enumerate(path.words):
                last = k == len(path.words) - 1
                to = end if last else free
                free += 0 if last else 1
                out.append((current, to, path.probability if k == 0 else 1.0, word))
                current = to
        state = end
    return state, out


def parse(words: tuple[str, ...], slots: list[list[_Path]]) -> list[_Path] | None:
    """The paths, one per slot, that a decoded hypothesis took; None if it does not follow `slots`."""
    if not slots:
        return [] if not words else None
    for path in sorted(slots[0], key=lambda p: -len(p.words)):
        if path.loop:
            run = next((k for k, w in enumerate(words) if not w.startswith(PHONE_WORD_PREFIX)), len(words))
            rest = parse(words[run:], slots[1:]) if run else None
            if rest is not None:
                return [path] + rest
        elif tuple(words[:len(path.words)]) == path.words:
            rest = parse(words[len(path.words):], slots[1:])
            if rest is not None:
                return [path] + rest
    return None
