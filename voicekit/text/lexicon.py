"""Pronunciation lexicons: how to say names and terms the engines get wrong.

Two forms are read: W3C PLS 1.0 (`<lexicon alphabet="ipa">` with `<lexeme>`s of `<grapheme>`s and a
`<phoneme>` or an `<alias>`), parsed by defusedxml with DTDs forbidden; and a plain table, one
`word<TAB>pronunciation` per line (IPA; `#` starts a comment). Entries are applied to the text
before the engine phonemises it, matching whole words, case-insensitively: an alias is spoken
instead of the word by every engine; an IPA pronunciation is handed to the engines that take
phonemes (heart as hibari's inline [word](/phonemes/), Piper voices as [[ phonemes ]]), and other
engines (coqui) read the word as written.
"""
from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from voicekit.errors import BadInput

PLS_NAMESPACE = "http://www.w3.org/2005/01/pronunciation-lexicon"
MAX_LEXICON_BYTES = 2_000_000
MAX_ENTRY_CHARS = 200


# IPA (as SSML's <phoneme> and lexicons write it) -> hibari's misaki alphabet.
_IPA_TO_MISAKI = (("d͡ʒ", "ʤ"), ("t͡ʃ", "ʧ"), ("dʒ", "ʤ"), ("tʃ", "ʧ"), ("oʊ", "O"), ("əʊ", "Q"), ("eɪ", "A"),
                  ("aɪ", "I"), ("aʊ", "W"), ("ɔɪ", "Y"), ("ɝ", "ɜɹ"), ("r", "ɹ"), ("g", "ɡ"), ("ɾ", "T"), ("͡", ""))


def ipa_to_misaki(ipa: str) -> str:
    for a, b in _IPA_TO_MISAKI:
        ipa = ipa.replace(a, b)
    return ipa


class LexiconError(BadInput):
    """The lexicon file is malformed or uses something we do not support."""

    problem = "invalid-lexicon"


@dataclass(frozen=True)
class Pronunciation:
    """ipa: the pronunciation in IPA; alias: words to say instead. Exactly one is set."""

    ipa: str | None = None
    alias: str | None = None


class Lexicon:
    """grapheme -> Pronunciation; later entries (and lexicons merged later) win."""

    def __init__(self, entries: dict[str, Pronunciation] | None = None) -> None:
        self.entries = {k.lower(): v for k, v in (entries or {}).items()}

    def __len__(self) -> int:
        return len(self.entries)

    @classmethod
    def load(cls, path: Path | str) -> "Lexicon":
        """A .pls or .xml file as PLS, anything else as the tab-separated table."""
        path = Path(path)
        try:
            data = path.read_bytes()
        except OSError as e:
            raise LexiconError(f"cannot read lexicon {path}: {e.strerror or e}") from e
        if len(data) > MAX_LEXICON_BYTES:
            raise LexiconError(f"lexicon {path} is {len(data)} bytes; the limit is {MAX_LEXICON_BYTES}")
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as e:
            raise LexiconError(f"lexicon {path} is not UTF-8 text") from e
        return cls.from_pls(text) if path.suffix.lower() in (".pls", ".xml") else cls.from_table(text)

    @classmethod
    def from_table(cls, text: str) -> "Lexicon":
        entries = {}
        for number, line in enumerate(text.splitlines(), 1):
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            word, tab, ipa = line.partition("\t")
            if not tab or not word.strip() or not ipa.strip():
                raise LexiconError(f"lexicon line {number}: expected 'word<TAB>pronunciation', got {line!r}")
            entries[_checked(word.strip(), number)] = Pronunciation(ipa=_checked(ipa.strip().strip("/[]"), number))
        return cls(entries)

    @classmethod
    def from_pls(cls, text: str) -> "Lexicon":
        from xml.etree.ElementTree import ParseError
        from xml.parsers.expat import ErrorString

        from defusedxml import DefusedXmlException
        from defusedxml.ElementTree import fromstring

        try:
            root = fromstring(text, forbid_dtd=True)
        except ParseError as e:
            line, column = e.position
            raise LexiconError(f"PLS line {line}, column {column + 1}: {ErrorString(e.code)}") from e
        except DefusedXmlException as e:
            raise LexiconError(f"PLS refused: {type(e).__name__} (no DTDs or entities)") from e
        ns = f"{{{PLS_NAMESPACE}}}"
        if root.tag != f"{ns}lexicon":
            raise LexiconError(f"not a PLS lexicon: the root must be <lexicon xmlns=\"{PLS_NAMESPACE}\">")
        if root.get("alphabet", "").lower() != "ipa":
            raise LexiconError(f"PLS alphabet {root.get('alphabet')!r} is not supported; use alphabet=\"ipa\"")
        entries = {}
        for number, lexeme in enumerate(root.iter(f"{ns}lexeme"), 1):
            graphemes = [(g.text or "").strip() for g in lexeme.findall(f"{ns}grapheme")]
            phonemes = [(p.text or "").strip() for p in lexeme.findall(f"{ns}phoneme")]
            aliases = [(a.text or "").strip() for a in lexeme.findall(f"{ns}alias")]
            if not graphemes or not all(graphemes):
                raise LexiconError(f"PLS lexeme {number} has no grapheme")
            if not (phonemes or aliases) or not all(phonemes + aliases):
                raise LexiconError(f"PLS lexeme {number} ({graphemes[0]!r}) has no phoneme or alias")
            if any(p.get("alphabet", "ipa").lower() != "ipa" for p in lexeme.findall(f"{ns}phoneme")):
                raise LexiconError(f"PLS lexeme {number} ({graphemes[0]!r}): only IPA phonemes are supported")
            # PLS: the first pronunciation is the preferred one
            first = next(child for child in lexeme if child.tag in (f"{ns}phoneme", f"{ns}alias"))
            value = _checked((first.text or "").strip(), number)
            pronunciation = Pronunciation(ipa=value) if first.tag == f"{ns}phoneme" else Pronunciation(alias=value)
            for grapheme in graphemes:
                entries[_checked(grapheme, number)] = pronunciation
        return cls(entries)

    def to_json(self) -> str:
        return json.dumps({k: {"ipa": v.ipa, "alias": v.alias} for k, v in sorted(self.entries.items())},
                          ensure_ascii=False, indent=1)

    @classmethod
    def from_json(cls, text: str) -> "Lexicon":
        return cls({k: Pronunciation(v.get("ipa"), v.get("alias")) for k, v in json.loads(text).items()})

    def merged(self, other: "Lexicon | None") -> "Lexicon":
        """This lexicon with `other`'s entries added over it."""
        if other is None or not other.entries:
            return self
        return Lexicon({**self.entries, **other.entries})

    @property
    def sha256(self) -> str:
        canonical = "\n".join(f"{k}\t{v.ipa or ''}\t{v.alias or ''}" for k, v in sorted(self.entries.items()))
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()

    @cached_property
    def _pattern(self) -> re.Pattern | None:
        if not self.entries:
            return None
        words = sorted(self.entries, key=len, reverse=True)
        return re.compile(r"(?<!\w)(?:" + "|".join(re.escape(w) for w in words) + r")(?!\w)", re.IGNORECASE)

    def apply(self, text: str, phonemes: str | None) -> str:
        """`text` with entries applied. phonemes: how the engine takes inline pronunciations:
        "misaki" (heart), "espeak" (Piper voices) or None (cannot: IPA entries are left as written)."""
        if self._pattern is None:
            return text

        def replace(match: re.Match) -> str:
            word = match.group(0)
            entry = self.entries[word.lower()]
            if entry.alias is not None:
                return entry.alias
            if phonemes == "misaki":
                return f"[{word}](/{ipa_to_misaki(entry.ipa).replace('.', '')}/)"
            if phonemes == "espeak":
                return f"[[ {entry.ipa.replace('.', '')} ]]"
            return word

        return self._pattern.sub(replace, text)


def _checked(value: str, number: int) -> str:
    if len(value) > MAX_ENTRY_CHARS or any(c in value for c in "[]()/\n"):
        raise LexiconError(f"lexicon entry {number}: {value[:40]!r} is too long or has one of [ ] ( ) /")
    return value
