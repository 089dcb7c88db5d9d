"""SSML say-as: numbers, dates, times, telephone numbers and spelled-out characters as English words.

Numbers are read by num2words; each reading raises ValueError, with what was expected, for text it
cannot interpret (the SSML parser adds line and column).
"""
from __future__ import annotations

import re

from voicekit.errors import BadInput

LETTERS = {
    "a": "ay", "b": "bee", "c": "see", "d": "dee", "e": "ee", "f": "eff", "g": "jee", "h": "aitch", "i": "eye",
    "j": "jay", "k": "kay", "l": "el", "m": "em", "n": "en", "o": "oh", "p": "pee", "q": "cue", "r": "ar",
    "s": "ess", "t": "tee", "u": "you", "v": "vee", "w": "double you", "x": "ex", "y": "why", "z": "zee",
}
ASCII_DIGITS = "0123456789"  # str.isdigit() also accepts "²", which int() refuses
DIGITS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December")
DATE_FORMATS = ("mdy", "dmy", "ymd", "md", "dm", "ym", "my", "y", "m", "d")


MAX_CARDINAL_DIGITS = 30  # num2words reads up to nonillions; beyond, read the digits


def _number(text: str) -> float | int:
    cleaned = text.replace(",", "").strip()
    if not re.fullmatch(r"[+-]?\d+(\.\d+)?", cleaned):
        raise ValueError(f"say-as expected a number, got {text!r}")
    whole, _, fraction = cleaned.lstrip("+-").partition(".")
    if len(whole.lstrip("0")) > MAX_CARDINAL_DIGITS or len(fraction) > MAX_CARDINAL_DIGITS:
        raise ValueError(f"say-as reads numbers of up to {MAX_CARDINAL_DIGITS} digits before and after the point; "
                         "use interpret-as=\"digits\" for longer ones")
    return float(cleaned) if "." in cleaned else int(cleaned)


def cardinal(text: str) -> str:
    from num2words import num2words

    return num2words(_number(text)).replace(",", "")


def ordinal(text: str) -> str:
    from num2words import num2words

    number = _number(re.sub(r"(?<=\d)(st|nd|rd|th)$", "", text.strip()))
    if not isinstance(number, int) or number < 0:
        raise ValueError(f"say-as ordinal expected a whole number, got {text!r}")
    return num2words(number, to="ordinal").replace(",", "")


def digits(text: str) -> str:
    found = [DIGITS[int(c)] for c in text if c in ASCII_DIGITS]
    if not found:
        raise ValueError(f"say-as digits expected digits, got {text!r}")
    return " ".join(found)


LONG_NUMBER = re.compile(r"(?<![0-9])[0-9]{16,}(?![0-9])")
MAX_NUMBER_DIGITS = 64


def long_numbers(text: str) -> str:
    """Runs of 16 to MAX_NUMBER_DIGITS ASCII digits read digit by digit: as a cardinal they mean
    nothing to a listener (and hibari's number reader fails from 37 digits on). Longer runs raise
    BadInput: read aloud they make one sentence of many minutes, rendered in one piece."""
    def read(match: re.Match) -> str:
        if len(match[0]) > MAX_NUMBER_DIGITS:
            raise BadInput(f"a number of {len(match[0])} digits is too long to read aloud; the limit is "
                           f"{MAX_NUMBER_DIGITS} digits (split it, or send it as separate groups)")
        return digits(match[0])

    return LONG_NUMBER.sub(read, text)


def characters(text: str) -> str:
    spoken = [LETTERS[c] if c in LETTERS else DIGITS[int(c)] for c in text.lower() if c in LETTERS or c in ASCII_DIGITS]
    if not spoken:
        raise ValueError(f"say-as characters expected letters or digits, got {text!r}")
    return " ".join(spoken)


def date(text: str, fmt: str | None) -> str:
    """fmt: the order of the parts (mdy, dmy, ymd, md, dm, ym, my, y, m, d); default ymd for a
    4-digit first part, otherwise mdy."""
    from num2words import num2words

    parts = [p for p in re.split(r"[-/. ]+", text.strip()) if p]
    if not parts or not all(p.isdigit() for p in parts):
        raise ValueError(f"say-as date expected numbers separated by - / or ., got {text!r}")
    fmt = fmt or ("ymd" if len(parts[0]) == 4 else "mdy"[:len(parts)])
    if fmt not in DATE_FORMATS or len(fmt) != len(parts):
        raise ValueError(f"say-as date {text!r} does not match the format {fmt!r}")
    value = dict(zip(fmt, (int(p) for p in parts)))
    if "m" in value and not 1 <= value["m"] <= 12 or "d" in value and not 1 <= value["d"] <= 31:
        raise ValueError(f"say-as date {text!r} has no such month or day")
    words = []
    if "m" in value:
        words.append(MONTHS[value["m"] - 1])
    if "d" in value:
        words.append(("the " if "m" not in value else "") + num2words(value["d"], to="ordinal"))
    if "y" in value:
        words.append(num2words(value["y"], to="year"))
    return " ".join(words).replace(",", "")


def time_of_day(text: str) -> str:
    from num2words import num2words

    m = re.fullmatch(r"\s*(\d{1,2})(?::(\d{2}))?(?::(\d{2}))?\s*([ap])?\.?\s*m?\.?\s*", text.lower())
    if not m or int(m[1]) > 23 or (m[2] and int(m[2]) > 59):
        raise ValueError(f"say-as time expected a time like 7:30, 19:05 or 7pm, got {text!r}")
    hour, minute = int(m[1]), int(m[2] or 0)
    words = [num2words(hour)]
    if minute == 0:
        words.append("o'clock" if not m[4] else "")
    else:
        words.append(("oh " if minute < 10 else "") + num2words(minute))
    if m[4]:
        words.append(f"{m[4]} m")
    return " ".join(w for w in words if w)


def telephone(text: str) -> str:
    groups = [g for g in re.split(r"[\s\-.()/]+", text.strip()) if g]
    spoken = []
    for group in groups:
        plus = group.startswith("+")
        numbers = group.lstrip("+")
        if not numbers.isdigit():
            raise ValueError(f"say-as telephone expected digits, spaces, dashes and +, got {text!r}")
        spoken.append(("plus " if plus else "") + " ".join(DIGITS[int(c)] for c in numbers))
    return ", ".join(spoken)


SAY_AS = ("cardinal", "number", "ordinal", "digits", "characters", "spell-out", "date", "time", "telephone")


def expand(text: str, interpret_as: str, fmt: str | None = None) -> str:
    """The words to speak for `text` read as `interpret_as`; raises ValueError."""
    if interpret_as in ("cardinal", "number"):
        return cardinal(text)
    if interpret_as == "ordinal":
        return ordinal(text)
    if interpret_as == "digits":
        return digits(text)
    if interpret_as in ("characters", "spell-out"):
        return characters(text)
    if interpret_as == "date":
        return date(text, fmt)
    if interpret_as == "time":
        return time_of_day(text)
    if interpret_as == "telephone":
        return telephone(text)
    raise ValueError(f"say-as interpret-as {interpret_as!r} is not one of {', '.join(SAY_AS)}")
