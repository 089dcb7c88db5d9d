"""SSML 1.1 -> an utterance plan: what to say, in which voice, under which prosody, with which pauses.

Parsing is defusedxml's SAX reader, which refuses document type declarations, entity expansion and
external references (billion laughs, XXE) before any of it happens. Every refusal of the markup
(malformed XML, an element or attribute we do not support, a bad value) is an SsmlError naming the
line and column; nothing unsupported is dropped silently.

Supported: speak, p, s, break (time, strength), prosody (rate, pitch, volume), emphasis, say-as
(cardinal, ordinal, digits, characters/spell-out, date, time, telephone), sub, phoneme (IPA), voice
(name), mark. Prosody nests: rates multiply, semitones and decibels add.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace
from xml.sax import SAXParseException
from xml.sax.handler import ContentHandler

from voicekit.errors import BadInput
from voicekit.text.say_as import SAY_AS, expand

MAX_BREAK_S = 10.0
BREAK_STRENGTH_S = {"none": 0.0, "x-weak": 0.1, "weak": 0.2, "medium": 0.4, "strong": 0.7, "x-strong": 1.2}
RATE_WORDS = {"x-slow": 0.6, "slow": 0.8, "medium": 1.0, "default": 1.0, "fast": 1.25, "x-fast": 1.6}
PITCH_WORDS_ST = {"x-low": -6.0, "low": -3.0, "medium": 0.0, "default": 0.0, "high": 3.0, "x-high": 6.0}
VOLUME_WORDS_DB = {"silent": -math.inf, "x-soft": -12.0, "soft": -6.0, "medium": 0.0, "default": 0.0,
                   "loud": 6.0, "x-loud": 12.0}
# emphasis level -> (rate factor, semitones, dB): slower, higher and louder for more emphasis.
EMPHASIS = {"strong": (0.85, 2.0, 4.0), "moderate": (0.92, 1.0, 2.0), "none": (1.0, 0.0, 0.0),
            "reduced": (1.08, -1.0, -3.0)}
MIN_RATE, MAX_RATE = 0.5, 2.0
PROSODY_FORMS = {"rate": "x-slow..x-fast, 80%, +20% or 1.2", "pitch": "x-low..x-high, +4st, -10% or +20Hz",
                 "volume": "silent, x-soft..x-loud or -40dB..+40dB"}
MAX_VOLUME_DB = 40.0
MAX_PITCH_ST = 12.0


class SsmlError(BadInput):
    """The SSML is malformed, unsafe or uses something we do not support; the message names line and column."""

    problem = "invalid-ssml"


@dataclass(frozen=True)
class Prosody:
    """rate: speed factor (1 = the voice's own pace, within 0.5..2); pitch_st: semitones added to the
    voice's f0; pitch_hz: Hz added to the voice's median f0 (converted to semitones per sentence);
    volume_db: gain in dB (-inf = silent)."""

    rate: float = 1.0
    pitch_st: float = 0.0
    pitch_hz: float = 0.0
    volume_db: float = 0.0

    def combined(self, rate: float = 1.0, pitch_st: float = 0.0, pitch_hz: float = 0.0,
                 volume_db: float = 0.0) -> "Prosody":
        return Prosody(self.rate * rate, self.pitch_st + pitch_st, self.pitch_hz + pitch_hz, self.volume_db + volume_db)

    @property
    def neutral(self) -> bool:
        return self == Prosody()


@dataclass(frozen=True)
class Speech:
    """Text to speak; voice None means the request's voice; ipa: the pronunciation, when the
    document gave one (<phoneme>), which replaces the engine's own for `text`."""

    text: str
    voice: str | None
    prosody: Prosody
    ipa: str | None = None


@dataclass(frozen=True)
class Pause:
    seconds: float


@dataclass(frozen=True)
class Mark:
    name: str


PlanItem = Speech | Pause | Mark


def plain_plan(text: str) -> list[PlanItem]:
    """The plan of plain text: one piece of speech in the request's voice."""
    return [Speech(text, None, Prosody())]


def parse(document: str) -> list[PlanItem]:
    """SSML text -> plan items in reading order. Raises SsmlError."""
    from defusedxml import DefusedXmlException
    from defusedxml.sax import parseString

    builder = _PlanBuilder()
    try:
        parseString(document.encode("utf-8"), builder, forbid_dtd=True)
    except SAXParseException as e:
        raise SsmlError(f"SSML line {e.getLineNumber()}, column {e.getColumnNumber() + 1}: {e.getMessage()}") from e
    except DefusedXmlException as e:
        raise SsmlError(f"SSML refused: {_refusal(e)}") from e
    return _merged(builder.items)


def _merged(items: list[PlanItem]) -> list[PlanItem]:
    """Neighbouring speech in the same voice and prosody becomes one piece, so a sentence broken up
    by say-as or sub is still rendered (and intoned) as one; punctuation alone is not spoken."""
    out: list[PlanItem] = []
    for item in items:
        if isinstance(item, Speech) and not any(c.isalnum() for c in item.text):
            if out and isinstance(out[-1], Speech) and out[-1].ipa is None:
                out[-1] = replace(out[-1], text=out[-1].text + item.text)
            continue
        previous = out[-1] if out else None
        if (isinstance(item, Speech) and isinstance(previous, Speech) and item.ipa is None and previous.ipa is None
                and (item.voice, item.prosody) == (previous.voice, previous.prosody)):
            joiner = "" if item.text[:1] in ",.;:!?" else " "
            out[-1] = replace(previous, text=previous.text + joiner + item.text)
        else:
            out.append(item)
    return out


def _refusal(e: Exception) -> str:
    name = type(e).__name__
    if name == "DTDForbidden":
        return "document type declarations are not allowed (they enable entity expansion and external entities)"
    if name == "EntitiesForbidden":
        return "entity declarations are not allowed"
    if name == "ExternalReferenceForbidden":
        return "external references are not allowed"
    return str(e)


@dataclass(frozen=True)
class _Scope:
    element: str
    voice: str | None
    prosody: Prosody
    collect: str | None = None  # "sub", "say-as", "phoneme": text inside is replaced, not read as is
    attrs: tuple[tuple[str, str], ...] = ()


ALLOWED_ATTRIBUTES = {
    "speak": {"version", "xmlns", "xml:lang", "xmlns:xsi", "xsi:schemaLocation"},
    "p": {"xml:lang"}, "s": {"xml:lang"},
    "break": {"time", "strength"},
    "prosody": {"rate", "pitch", "volume"},
    "emphasis": {"level"},
    "say-as": {"interpret-as", "format", "detail"},
    "sub": {"alias"},
    "phoneme": {"alphabet", "ph"},
    "voice": {"name"},
    "mark": {"name"},
}


class _PlanBuilder(ContentHandler):
    def __init__(self) -> None:
        super().__init__()
        self.items: list[PlanItem] = []
        self._scopes: list[_Scope] = []
        self._text: list[str] = []
        self._collected: list[str] = []
        self._locator = None

    def setDocumentLocator(self, locator) -> None:
        self._locator = locator

    def _error(self, message: str) -> SsmlError:
        if self._locator is None:
            return SsmlError(f"SSML: {message}")
        return SsmlError(f"SSML line {self._locator.getLineNumber()}, column "
                         f"{self._locator.getColumnNumber() + 1}: {message}")

    def startElement(self, name: str, attrs) -> None:
        attributes = dict(attrs.items())
        if not self._scopes and name != "speak":
            raise self._error(f"the root element must be <speak>, not <{name}>")
        if self._scopes and name == "speak":
            raise self._error("<speak> cannot be nested")
        if name not in ALLOWED_ATTRIBUTES:
            raise self._error(f"unsupported element <{name}> (supported: {', '.join(sorted(ALLOWED_ATTRIBUTES))})")
        unknown = set(attributes) - ALLOWED_ATTRIBUTES[name]
        if unknown:
            raise self._error(f"<{name}> does not support the attribute {sorted(unknown)[0]!r}")
        if self._scopes and self._scopes[-1].collect:
            raise self._error(f"<{name}> cannot appear inside <{self._scopes[-1].element}>")
        outer = self._scopes[-1] if self._scopes else _Scope("", None, Prosody())
        self._flush()  # the text so far belongs to the enclosing element
        scope = replace(outer, element=name, collect=None, attrs=tuple(attributes.items()))
        if name == "break":
            self.items.append(Pause(self._break_seconds(attributes)))
        elif name == "mark":
            if not attributes.get("name"):
                raise self._error("<mark> needs a name")
            self.items.append(Mark(attributes["name"]))
        elif name == "voice":
            if not attributes.get("name"):
                raise self._error("<voice> needs a name")
            scope = replace(scope, voice=attributes["name"])
        elif name == "prosody":
            scope = replace(scope, prosody=self._prosody(outer.prosody, attributes))
        elif name == "emphasis":
            level = attributes.get("level", "moderate")
            if level not in EMPHASIS:
                raise self._error(f"emphasis level {level!r} is not one of {', '.join(EMPHASIS)}")
            rate, st, db = EMPHASIS[level]
            scope = replace(scope, prosody=outer.prosody.combined(rate, st, 0.0, db))
        elif name in ("sub", "say-as", "phoneme"):
            self._check_collecting(name, attributes)
            scope = replace(scope, collect=name)
        self._scopes.append(scope)

    def endElement(self, name: str) -> None:
        scope = self._scopes.pop()
        if scope.collect:
            self._close_collected(scope)
        else:
            self._flush(scope)

    def characters(self, content: str) -> None:
        if self._scopes and self._scopes[-1].collect:
            self._collected.append(content)
        elif self._scopes:
            self._text.append(content)

    def _flush(self, scope: _Scope | None = None) -> None:
        """Turn the text gathered so far into a Speech item under the scope it was read in."""
        scope = scope or (self._scopes[-1] if self._scopes else None)
        text = " ".join("".join(self._text).split())
        self._text = []
        if text and scope is not None:
            self.items.append(Speech(text, scope.voice, scope.prosody))

    def _close_collected(self, scope: _Scope) -> None:
        inner = " ".join("".join(self._collected).split())
        self._collected = []
        attrs = dict(scope.attrs)
        if scope.collect == "sub":
            self.items.append(Speech(attrs["alias"], scope.voice, scope.prosody))
        elif scope.collect == "phoneme":
            self.items.append(Speech(inner, scope.voice, scope.prosody, ipa=attrs["ph"]))
        else:
            try:
                spoken = expand(inner, attrs["interpret-as"], attrs.get("format"))
            except ValueError as e:
                raise self._error(str(e)) from e
            self.items.append(Speech(spoken, scope.voice, scope.prosody))

    def _check_collecting(self, name: str, attrs: dict[str, str]) -> None:
        if name == "sub" and not attrs.get("alias"):
            raise self._error("<sub> needs an alias")
        if name == "phoneme":
            if attrs.get("alphabet", "ipa") != "ipa":
                raise self._error(f"phoneme alphabet {attrs['alphabet']!r} is not supported (use ipa)")
            if not attrs.get("ph"):
                raise self._error("<phoneme> needs ph")
        if name == "say-as" and attrs.get("interpret-as") not in SAY_AS:
            raise self._error(f"say-as interpret-as {attrs.get('interpret-as')!r} is not one of {', '.join(SAY_AS)}")

    def _break_seconds(self, attrs: dict[str, str]) -> float:
        if "time" in attrs:
            match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(ms|s)\s*", attrs["time"])
            if not match:
                raise self._error(f"break time {attrs['time']!r} is not like 500ms or 1.5s")
            seconds = float(match[1]) / (1000 if match[2] == "ms" else 1)
            if seconds > MAX_BREAK_S:
                raise self._error(f"break time {attrs['time']} is over {MAX_BREAK_S:g} s")
            return seconds
        strength = attrs.get("strength", "medium")
        if strength not in BREAK_STRENGTH_S:
            raise self._error(f"break strength {strength!r} is not one of {', '.join(BREAK_STRENGTH_S)}")
        return BREAK_STRENGTH_S[strength]

    def _prosody(self, outer: Prosody, attrs: dict[str, str]) -> Prosody:
        read = {"rate": _rate, "pitch": _pitch, "volume": _volume}
        values = {name: read[name](attrs[name]) for name in read if name in attrs}
        for name, value in values.items():
            if value is None:
                raise self._error(f"prosody {name} {attrs[name]!r} is not supported; use {PROSODY_FORMS[name]}")
        pitch_st, pitch_hz = values.get("pitch", (0.0, 0.0))
        rate, volume_db = values.get("rate", 1.0), values.get("volume", 0.0)
        combined = outer.combined(rate, pitch_st, pitch_hz, volume_db)
        if not MIN_RATE <= combined.rate <= MAX_RATE:
            raise self._error(f"prosody rate {combined.rate:.2f} is outside {MIN_RATE}..{MAX_RATE}")
        if abs(combined.pitch_st) > MAX_PITCH_ST:
            raise self._error(f"prosody pitch {combined.pitch_st:+.1f} st is beyond +/-{MAX_PITCH_ST:g} st")
        return combined


def _rate(value: str) -> float | None:
    value = value.strip()
    if value in RATE_WORDS:
        return RATE_WORDS[value]
    if m := re.fullmatch(r"([+-]?\d+(?:\.\d+)?)%", value):
        number = float(m[1])
        return 1 + number / 100 if value[0] in "+-" else number / 100
    if re.fullmatch(r"\d+(?:\.\d+)?", value):
        return float(value)
    return None


def _pitch(value: str) -> tuple[float, float] | None:
    """(semitones, Hz offset), or None for a value we cannot read."""
    value = value.strip()
    if value in PITCH_WORDS_ST:
        return PITCH_WORDS_ST[value], 0.0
    if m := re.fullmatch(r"([+-]\d+(?:\.\d+)?)st", value):
        return float(m[1]), 0.0
    if m := re.fullmatch(r"([+-]\d+(?:\.\d+)?)%", value):
        return 12 * math.log2(max(1e-3, 1 + float(m[1]) / 100)), 0.0
    if m := re.fullmatch(r"([+-]\d+(?:\.\d+)?)Hz", value):
        return 0.0, float(m[1])
    return None


def _volume(value: str) -> float | None:
    value = value.strip()
    if value in VOLUME_WORDS_DB:
        return VOLUME_WORDS_DB[value]
    if m := re.fullmatch(r"([+-]?\d+(?:\.\d+)?)dB", value):
        return float(m[1]) if abs(float(m[1])) <= MAX_VOLUME_DB else None
    return None
