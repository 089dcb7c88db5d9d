"""Words to phonemes, and how closely heard phonemes follow an expected phrase.

The consent statement is compared with what the recogniser heard at the phoneme level, so that
sound-alike recognition errors ("voice kit" heard as "voice kid", "version" as "for sinn") cost
little while a different word costs a lot. Pronunciations come from the CMU dictionary that
pocketsphinx ships (ARPAbet, stress removed); a word it lacks (a rare name) is phonemised by
espeak-ng (shipped inside piper-tts) and its IPA mapped to ARPAbet.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

VOWELS = frozenset("AA AE AH AO AW AY EH ER EY IH IY OW OY UH UW".split())
# Consonants that recognisers confuse with each other: a substitution inside a group costs half.
_CONSONANT_GROUPS = ("P B T D K G", "F V TH DH S Z SH ZH HH CH JH", "M N NG", "L R W Y")
_GROUP = {p: i for i, g in enumerate(_CONSONANT_GROUPS) for p in g.split()} | {v: -1 for v in VOWELS}
NEAR_SUBSTITUTION = 0.5

# espeak-ng's American English IPA to ARPAbet; longest match first. Marks not listed (stress,
# length, syllable breaks) are dropped.
_IPA_TO_ARPABET = {
    "aɪ": "AY", "aʊ": "AW", "ɔɪ": "OY", "oʊ": "OW", "eɪ": "EY", "dʒ": "JH", "tʃ": "CH", "ɜː": "ER",
    "ɑ": "AA", "æ": "AE", "ʌ": "AH", "ə": "AH", "ɐ": "AH", "ɔ": "AO", "ɛ": "EH", "ɜ": "ER", "ɚ": "ER",
    "ɪ": "IH", "ᵻ": "IH", "i": "IY", "ʊ": "UH", "u": "UW", "o": "OW", "e": "EY", "a": "AA",
    "b": "B", "d": "D", "ð": "DH", "f": "F", "ɡ": "G", "g": "G", "h": "HH", "j": "Y", "k": "K",
    "l": "L", "ɬ": "L", "m": "M", "n": "N", "ŋ": "NG", "p": "P", "ɹ": "R", "r": "R", "ɾ": "D",
    "s": "S", "ʃ": "SH", "t": "T", "θ": "TH", "v": "V", "w": "W", "z": "Z", "ʒ": "ZH", "x": "K",
}


def words_of(text: str) -> list[str]:
    """Lower-case words, apostrophes kept ("don't"), everything else a separator."""
    return re.findall(r"[a-z]+(?:'[a-z]+)?", text.lower())


class Lexicon:
    """ARPAbet pronunciations (stress removed) of English words."""

    def __init__(self, cmudict: Path) -> None:
        self.path = Path(cmudict)

    @classmethod
    def packaged(cls) -> "Lexicon":
        """The CMU dictionary inside the pocketsphinx wheel."""
        from pocketsphinx import get_model_path

        return cls(Path(get_model_path()) / "en-us" / "cmudict-en-us.dict")

    @property
    def _entries(self) -> dict[str, tuple[str, ...]]:
        return _load_cmudict(self.path)

    def __contains__(self, word: str) -> bool:
        return word.lower() in self._entries

    def phones(self, word: str) -> tuple[str, ...]:
        """The first dictionary pronunciation, else espeak-ng's."""
        word = word.lower()
        known = self._entries.get(word)
        return known[0] if known is not None else _espeak_phones(word)

    def pronunciations(self, word: str) -> tuple[tuple[str, ...], ...]:
        """Every pronunciation we can put to a word: the dictionary's alternatives and espeak-ng's
        reading, without repeats. People say their names in ways one dictionary entry does not
        hold ("Bono", "Nguyen"), so a name is looked for in all of them."""
        word = word.lower()
        found = self._entries.get(word, ()) + (_espeak_phones(word),)
        return tuple(dict.fromkeys(p for p in found if p))


@lru_cache(maxsize=4)
def _load_cmudict(path: Path) -> dict[str, tuple[tuple[str, ...], ...]]:
    """word -> its pronunciations, the first one first ("word(2)" lines are alternatives)."""
    entries: dict[str, tuple[tuple[str, ...], ...]] = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            word, _, pron = line.partition(" ")
            word = word.split("(")[0]
            entries[word] = entries.get(word, ()) + (tuple(re.sub(r"\d", "", p) for p in pron.split()),)
    return entries


@lru_cache(maxsize=1024)
def _espeak_phones(word: str) -> tuple[str, ...]:
    from piper.phonemize_espeak import EspeakPhonemizer

    ipa = "".join("".join(s) for s in EspeakPhonemizer().phonemize("en-us", word))
    ipa = unicodedata.normalize("NFC", ipa)
    phones: list[str] = []
    i = 0
    while i < len(ipa):
        for size in (2, 1):
            arpabet = _IPA_TO_ARPABET.get(ipa[i:i + size])
            if arpabet is not None:
                phones.append(arpabet)
                i += size
                break
        else:
            i += 1
    return tuple(phones)


def substitution_cost(a: str, b: str) -> float:
    if a == b:
        return 0.0
    return NEAR_SUBSTITUTION if _GROUP.get(a, -2) == _GROUP.get(b, -3) else 1.0


@dataclass(frozen=True)
class Alignment:
    """How well heard phonemes follow the expected words.

    score: 1 - (edit cost / expected phonemes), floored at 0; 1 is a perfect reading.
    word_scores: the same per expected word (its substitutions, deletions and the insertions
    inside it, over its length).
    heard_costs: per heard phoneme, its substitution cost (0 for a match), or None for an insertion
    (no expected phoneme under it).
    heard_owners: per heard phoneme, the index of the expected word it stands in for (None for an
    insertion).
    """

    score: float
    word_scores: tuple[float, ...]
    heard_costs: tuple[float | None, ...]
    heard_owners: tuple[int | None, ...] = ()


def align(expected: list[tuple[str, ...]], heard: tuple[str, ...]) -> Alignment:
    """Weighted edit distance between the expected words' phonemes and the heard phonemes.

    Insertions and deletions cost 1, a substitution 1 or NEAR_SUBSTITUTION for a confusable pair.
    """
    flat = [p for word in expected for p in word]
    owner = [i for i, word in enumerate(expected) for _ in word]
    n, m = len(flat), len(heard)
    cost = [[0.0] * (m + 1) for _ in range(n + 1)]
    for j in range(1, m + 1):
        cost[0][j] = float(j)
    for i in range(1, n + 1):
        row, above = cost[i], cost[i - 1]
        row[0] = float(i)
        for j in range(1, m + 1):
            row[j] = min(above[j - 1] + substitution_cost(flat[i - 1], heard[j - 1]), above[j] + 1, row[j - 1] + 1)
    per_word = [0.0] * len(expected)
    heard_costs: list[float | None] = [None] * m
    heard_owners: list[int | None] = [None] * m
    i, j = n, m
    while i > 0 or j > 0:
        here = cost[i][j]
        if i > 0 and j > 0 and here == cost[i - 1][j - 1] + substitution_cost(flat[i - 1], heard[j - 1]):
            per_word[owner[i - 1]] += here - cost[i - 1][j - 1]
            heard_costs[j - 1] = here - cost[i - 1][j - 1]
            heard_owners[j - 1] = owner[i - 1]
            i, j = i - 1, j - 1
        elif i > 0 and here == cost[i - 1][j] + 1:
            per_word[owner[i - 1]] += 1
            i -= 1
        else:  # an inserted phoneme: charged to the word it falls inside, if any
            if 0 < i < n and owner[i - 1] == owner[i]:
                per_word[owner[i]] += 1
            j -= 1
    word_scores = tuple(max(0.0, 1 - c / len(word)) if word else 0.0 for c, word in zip(per_word, expected))
    score = max(0.0, 1 - cost[n][m] / n) if n else 0.0
    return Alignment(score, word_scores, tuple(heard_costs), tuple(heard_owners))
