"""What leaves the studio: a whole result, or one chunk of a stream."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from voicekit import audio
from voicekit.errors import UnsupportedFormat
from voicekit.timing import WordTiming


@dataclass(frozen=True)
class SpeechResult:
    """What left the studio: `encoded` are the released bytes; `audio` is those bytes decoded
    (float32 mono at `sample_rate`); `provenance` is the signed ledger entry."""

    audio: np.ndarray
    sample_rate: int
    format: str
    encoded: bytes
    mark_id: int
    provenance: dict[str, Any]
    timings: dict[str, float] = field(default_factory=dict)
    marks: dict[str, float] = field(default_factory=dict)  # SSML <mark> name -> seconds into the audio
    words: list[WordTiming] = field(default_factory=list)  # with word_timings=True

    def save(self, path: Path | str) -> Path:
        """Write the released bytes atomically; the extension must match the rendered format."""
        fmt = audio.format_for(path)
        if fmt != self.format:
            raise UnsupportedFormat(
                f"this result was rendered and checked as {self.format}; ask speak(..., format={fmt!r}) for .{fmt}"
            )
        audio.write_file(path, self.encoded)
        return Path(path)


@dataclass(frozen=True)
class StreamChunk:
    """One released piece of a stream: `encoded` are the bytes the gate passed, in the stream's
    format (for "pcm", 16-bit little-endian mono at `sample_rate`); `audio` is them decoded as
    float32. Words and marks are in seconds from the start of the stream as it decodes when the
    chunks are joined (for AAC, each chunk's encoder priming and padding included)."""

    index: int
    encoded: bytes
    audio: np.ndarray
    sample_rate: int
    start_s: float
    mark_id: int
    gate: dict[str, Any]
    words: list[WordTiming]
    marks: dict[str, float]
