"""A lyrics sheet as sections of lines of syllables with their stress.

The sheet is plain UTF-8 text: `[verse]`, `[chorus]`, `[bridge]` (also `[pre-chorus]`, `[intro]`,
`[outro]`, each optionally numbered, `[verse 2]`) start sections; each other non-blank line is one
sung phrase; lines before the first header form a verse; `#` starts a comment line. Numbers are
written out as words, as they would be sung.

Stress comes from espeak-ng (shipped in piper-tts) reading each line as a sentence, so function
words ("the", "and") come out unstressed as a singer would leave them; its syllable nuclei give the
syllable count. The spelling is split to match, for the score's lyric text; the singer says the
whole word again, so the split only shows in the score.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from num2words import num2words

from voicekit.errors import SongError

SECTION_KINDS = ("verse", "pre-chorus", "chorus", "bridge", "intro", "outro")
MAX_LYRICS_BYTES = 64_000
MAX_LINES = 120
MAX_SYLLABLES_PER_LINE = 24
PRIMARY, SECONDARY, UNSTRESSED = 2, 1, 0
_HEADER = re.compile(r"^\[\s*([a-z][a-z -]*?)\s*(\d+)?\s*\]$", re.IGNORECASE)
_WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)*", re.UNICODE)
_NUMBER = re.compile(r"\d+")
# espeak-ng's English vowels; a diphthong is a first vowel with one of its glides.
_IPA_VOWELS = set("aɑæɐəɚɛɜeiɪᵻoɔuʊʌɒy")
_GLIDES = {"a": "ɪʊ", "e": "ɪ", "o": "ʊ", "ɔ": "ɪ"}
_SPELLED_VOWELS = set("aeiouy")


@dataclass(frozen=True)
class Syllable:
    """text: the part of the word's spelling sung on it; ends_word: the word's last syllable."""

    text: str
    stress: int
    ends_word: bool


@dataclass(frozen=True)
class Line:
    text: str
    syllables: tuple[Syllable, ...]

    @property
    def stresses(self) -> tuple[int, ...]:
        return tuple(s.stress for s in self.syllables)


@dataclass(frozen=True)
class Section:
    """kind: one of SECTION_KINDS; label: as the sheet wrote it ("verse 2")."""

    kind: str
    label: str
    lines: tuple[Line, ...]


def parse_lyrics(data: bytes | str) -> tuple[Section, ...]:
    """The sheet's sections, every line syllabified. Raises SongError for a sheet that is not
    text, has no words, names an unknown section, or has a line too long to sing as one phrase."""
    text = _decoded(data)
    sections: list[Section] = []
    kind, label, lines = "verse", "verse", []
    seen = 0

    def close() -> None:
        if lines:
            sections.append(Section(kind, label, tuple(lines)))

    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        header = _HEADER.match(line)
        if header is None and line.startswith("["):
            raise SongError(f"line {number}: {line[:40]!r} is not a section header; use one of "
                            + ", ".join(f"[{k}]" for k in SECTION_KINDS))
        if header is not None:
            name = header.group(1).lower().replace(" ", "-")
            if name not in SECTION_KINDS:
                raise SongError(f"line {number}: unknown section [{header.group(1)}]; use one of "
                                + ", ".join(f"[{k}]" for k in SECTION_KINDS))
            close()
            kind, label, lines = name, name + (f" {header.group(2)}" if header.group(2) else ""), []
            continue
        seen += 1
        if seen > MAX_LINES:
            raise SongError(f"the lyrics have more than {MAX_LINES} lines; a song here has at most {MAX_LINES}")
        lines.append(_line(line, number))
    close()
    if not sections:
        raise SongError("the lyrics have no words to sing")
    return tuple(sections)


def _decoded(data: bytes | str) -> str:
    if isinstance(data, str):
        data = data.encode("utf-8")
    if len(data) > MAX_LYRICS_BYTES:
        raise SongError(f"the lyrics file has {len(data)} bytes; at most {MAX_LYRICS_BYTES} are read")
    if b"\x00" in data:
        raise SongError("the lyrics file is not text (it holds NUL bytes)")
    try:
        return unicodedata.normalize("NFC", data.decode("utf-8-sig"))
    except UnicodeDecodeError as e:
        raise SongError(f"the lyrics file is not UTF-8 text (byte {e.start} cannot be read)") from None


def _line(text: str, number: int) -> Line:
    spelled = _NUMBER.sub(lambda m: " " + num2words(int(m.group())) + " ", text)
    words = [w.replace("’", "'") for w in _WORD.findall(spelled.replace("-", " "))]
    if not words:
        raise SongError(f"line {number}: {text[:40]!r} has no words to sing")
    stresses = _stresses(tuple(w.lower() for w in words))
    syllables = [s for word, stress in zip(words, stresses) for s in _syllables(word, stress)]
    if len(syllables) > MAX_SYLLABLES_PER_LINE:
        raise SongError(f"line {number} has {len(syllables)} syllables; a sung line may have at most "
                        f"{MAX_SYLLABLES_PER_LINE}: split it in two")
    return Line(text, tuple(syllables))


def _stresses(words: tuple[str, ...]) -> list[tuple[int, ...]]:
    """Each word's syllable stresses, from espeak-ng reading the line (so function words lose
    their stress), or word by word where its reading of the line does not split into the words."""
    read = _ipa(" ".join(words)).split()
    if len(read) != len(words):
        read = [_ipa(w).replace(" ", "") for w in words]
    out = []
    for word, ipa in zip(words, read):
        stresses = _nuclei_stresses(ipa)
        out.append(stresses or (PRIMARY,) * max(1, _spelled_groups(word)))
    return out


@lru_cache(maxsize=4096)
def _ipa(text: str) -> str:
    from piper.phonemize_espeak import EspeakPhonemizer

    return "".join("".join(s) for s in EspeakPhonemizer().phonemize("en-us", text))


def _nuclei_stresses(ipa: str) -> tuple[int, ...]:
    """One stress per vowel nucleus of espeak-ng's IPA; a stress mark applies to the next nucleus."""
    stresses: list[int] = []
    pending, previous = UNSTRESSED, ""
    for ch in ipa:
        if ch == "ˈ":
            pending = PRIMARY
        elif ch == "ˌ":
            pending = max(pending, SECONDARY)
        elif ch in _IPA_VOWELS:
            if ch in _GLIDES.get(previous, ""):
                previous = ""
                continue
            stresses.append(pending)
            pending, previous = UNSTRESSED, ch
            continue
        if ch != "ː":
            previous = ""
    if len(stresses) == 1 and ipa.count("ˈ") + ipa.count("ˌ") == 0:
        return (UNSTRESSED,)
    return tuple(stresses)


def _spelled_groups(word: str) -> int:
    return len(_vowel_groups(word.lower()))


def _vowel_groups(word: str) -> list[tuple[int, int]]:
    """(start, end) of each run of spelled vowels, a final silent "e" (after a consonant) left out."""
    groups, start = [], None
    for i, ch in enumerate(word + " "):
        if ch in _SPELLED_VOWELS and start is None:
            start = i
        elif ch not in _SPELLED_VOWELS and start is not None:
            groups.append((start, i))
            start = None
    if len(groups) > 1 and word.endswith("e") and groups[-1] == (len(word) - 1, len(word)) \
            and not word.endswith(("le", "ee")):
        groups.pop()
    return groups


def _syllables(word: str, stresses: tuple[int, ...]) -> list[Syllable]:
    """The word's spelling cut into len(stresses) pieces, between vowel groups where the counts
    agree (one consonant goes to the next syllable, a cluster is split after its first), else
    into even pieces."""
    n = len(stresses)
    cuts: list[int]
    groups = _vowel_groups(word.lower())
    if len(groups) == n:
        cuts = []
        for (_, end), (start, _) in zip(groups, groups[1:]):
            between = start - end
            cuts.append(end if between <= 1 else end + 1)
    else:
        n = min(n, len(word))
        cuts = [round(len(word) * k / n) for k in range(1, n)]
    edges = [0, *cuts, len(word)]
    pieces = [word[a:b] for a, b in zip(edges, edges[1:])]
    return [Syllable(piece, stress, k == len(pieces) - 1)
            for k, (piece, stress) in enumerate(zip(pieces, stresses))]
