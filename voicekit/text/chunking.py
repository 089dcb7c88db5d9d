"""Split long text into sentences an engine renders whole, so nothing is truncated.

pysbd finds sentence boundaries (abbreviations, decimals, initials); a sentence longer than
`max_chars` is cut at clause punctuation, then at spaces, never mid-word.
"""
from __future__ import annotations

import re
import threading

MAX_CHARS = 300
_CLAUSE = re.compile(r"(?<=[,;:\u2014])\s+")


_per_thread = threading.local()


def _segmenter():
    """This thread's segmenter: a pysbd Segmenter keeps the text it works on in itself, so two
    threads sharing one got each other's sentences, or none (an audiobook chapter refused as
    having nothing to say, found by the load benchmark)."""
    if not hasattr(_per_thread, "segmenter"):
        import pysbd

        _per_thread.segmenter = pysbd.Segmenter(language="en", clean=False)
    return _per_thread.segmenter


def sentences(text: str, max_chars: int = MAX_CHARS) -> list[str]:
    """Non-empty chunks of at most max_chars characters (a single longer word stays whole)."""
    out: list[str] = []
    for paragraph in re.split(r"\n\s*\n", text):
        paragraph = " ".join(paragraph.split())
        if not paragraph:
            continue
        for sentence in _segmenter().segment(paragraph):
            sentence = sentence.strip()
            if sentence:
                out.extend(_fit(sentence, max_chars))
    return out


def _fit(sentence: str, max_chars: int) -> list[str]:
    if len(sentence) <= max_chars:
        return [sentence]
    pieces = _CLAUSE.split(sentence)
    if len(pieces) == 1:
        pieces = sentence.split(" ")
    chunks, current = [], ""
    for piece in pieces:
        candidate = f"{current} {piece}" if current else piece
        if current and len(candidate) > max_chars:
            chunks.extend(_fit(current, max_chars) if len(current) > max_chars and " " in current else [current])
            current = piece
        else:
            current = candidate
    if current:
        chunks.extend(_fit(current, max_chars) if len(current) > max_chars and " " in current else [current])
    return chunks
