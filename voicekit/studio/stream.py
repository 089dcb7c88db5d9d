"""A speech request released a sentence at a time: each chunk checked again (consent, caller),
set to the loudness of the first, and released through the one release path under the stream's
mark."""
from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any, Iterator

from detection.errors import GateRefused
from voicekit import codecs, loudness
from voicekit.studio.release import release
from voicekit.studio.rendering import Segment, first_split, placed, segments
from voicekit.studio.request import Request
from voicekit.studio.results import StreamChunk

if TYPE_CHECKING:
    from voicekit.studio.facade import Studio


class SpeechStream:
    """Iterate for StreamChunks. `mark_id` and `provenance` (the output entry) are known once the
    first chunk is out; `closing` (the entry that ends the stream) after the last.

    Loudness: the first chunk is set to the request's target and the rest keep its gain (so a
    sentence SSML made softer stays softer); every chunk keeps the true-peak ceiling. A chunk the
    gate refuses under the stream's mark (a word or two of sound) is carried into the next."""

    def __init__(self, studio: "Studio", request: Request) -> None:
        self._studio = studio
        self._request = request
        self.format = request.options.format
        self.mark_id: int | None = None
        self.provenance: dict[str, Any] | None = None
        self.closing: dict[str, Any] | None = None

    def __iter__(self) -> Iterator[StreamChunk]:
        studio, request, rate = self._studio, self._request, self._request.options.sample_rate
        digest, start, index, complete = hashlib.sha256(), 0.0, 0, False
        gain: float | None = None
        carried: Segment | None = None
        lead_s = codecs.priming_seconds(self.format, rate)
        try:
            for segment in first_split(segments(request, studio.voices, lambda: studio.aligner,
                                                request.options.word_timings), rate):
                guards = studio.safeguards(request)  # a revocation or expiry stops the stream within one chunk
                if carried is not None:
                    segment, carried = carried.joined(segment, rate), None
                if gain is None:
                    gain = loudness.gain_for(segment.samples, rate, request.loudness, request.style.energy_db)
                level = loudness.normalized(segment.samples, rate, request.loudness, gain_db=gain)
                first = self.mark_id is None
                try:
                    out = release(guards, level, rate, self.format, mark_id=self.mark_id,
                                  leveled=lambda x: loudness.within_ceiling(x, rate, request.loudness.ceiling_dbtp),
                                  describe=(
                        lambda mark: request.provenance(mark, guards.watermarker.name, guards.key_id)
                        | {"stream": True}) if first else None)
                except GateRefused:
                    if first:
                        raise
                    carried = segment
                    continue
                if first:
                    self.mark_id, self.provenance = out.mark_id, out.entry
                words, marks = placed([segment], rate)
                chunk = StreamChunk(index, out.encoded, out.audio, out.sample_rate, round(start, 3), out.mark_id,
                                    out.gate.as_dict(), [w.shifted(start + lead_s) for w in words],
                                    {name: round(start + lead_s + at, 3) for name, at in marks.items()})
                digest.update(out.encoded)  # counted as released before it is handed out
                start += len(out.audio) / out.sample_rate  # as the joined chunks decode
                index += 1
                yield chunk
            if carried is not None:
                raise GateRefused("the stream's last piece is too short or quiet to carry its mark")
            complete = True
        finally:
            if self.provenance is not None:
                self.closing = studio.ledger.append("stream-end", {
                    "mark_id": self.mark_id, "chunks": index, "complete": complete,
                    "audio_sha256": digest.hexdigest(), "duration_s": round(start, 3),
                }, now=studio.clock()).as_dict()
