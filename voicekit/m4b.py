"""M4B audiobooks: gated .m4a chapters joined, without re-encoding, into one MP4 with chapter marks.

Each chapter was rendered, watermarked and passed by the release gate as its own .m4a (AAC in
MP4, `Studio.speak(..., format="m4a")`). A re-encode here would release audio the gate never saw,
so `mux_m4b` only remuxes: the book's AAC packets are byte for byte the chapters' packets, with
their timestamps moved so that the chapters follow one another.

Timeline: every AAC packet decodes to 1024 samples, and the book places each packet 1024 samples
after the one before, so a chapter's span in the book is its packet count x 1024 samples and a
decoder's output stays in step with the chapter marks. MP4 can skip the encoder's priming (one
packet, 1024 samples) only at the start of a track, so the book's first chapter starts clean while
every later chapter keeps its priming packet (near silence) and the padding of its last packet:
a chapter can be up to 2047 samples (85 ms at 24 kHz) longer in the book than in its own file.

So a book decodes to its chapters' gated audio everywhere but at the start of each chapter, where
the decoder's overlap runs on from the chapter before: `mux_m4b` reads back what it wrote and
refuses any change to the packets, and `decode_excerpts` decodes just those starts for the gate.
"""
from __future__ import annotations

import io
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np

from voicekit.errors import AssemblyFailed, IncompatibleChapters

@dataclass(frozen=True)
class _Chapter:
    """One chapter's demuxed AAC packets (payload, keyframe flag), in decoding order.

    first_pts: the first packet's timestamp in samples (-1024 when the file skips the encoder's
    priming with an edit list); last_duration: the samples the last packet holds before padding.
    params: what every chapter of a book must share (codec, rate, layout, profile, frame size,
    AudioSpecificConfig)."""

    title: str
    rate: int
    frame_size: int
    params: tuple[Any, ...]
    first_pts: int
    packets: list[tuple[bytes, bool]]
    last_duration: int


def mux_m4b(chapters: list[tuple[str, bytes]], title: str | None = None, author: str | None = None) -> bytes:
    """(chapter title, .m4a bytes) in reading order -> the bytes of an M4B audiobook.

    The book has one AAC stream (the chapters' packets, unchanged), a chapter mark per chapter
    (its title and its span; read them back with `read_chapters`), and `title` / `author` stored
    as the MP4 title and album (©nam, ©alb) and artist and album artist (©ART, aART), the tags
    audiobook players show. Raises IncompatibleChapters (a ValueError) when there are no chapters,
    when a chapter is not AAC in MP4, or when chapters differ in codec, rate, channels or profile;
    AssemblyFailed when the written book does not hold the chapters' packets, byte for byte.
    """
    import av  # here, not at import time: FFmpeg loads only when a book is made

    if not chapters:
        raise IncompatibleChapters("an audiobook needs at least one chapter")
    parts = [_demux(number, name, data) for number, (name, data) in enumerate(chapters, 1)]
    first = parts[0]
    for number, part in enumerate(parts[1:], 2):
        if part.params != first.params:
            raise IncompatibleChapters(
                f"chapter {number} ({part.title!r}) is {_describe(part)}, but chapter 1 ({first.title!r}) "
                f"is {_describe(first)}; all chapters must share codec, rate and channels"
            )

    time_base, frame = Fraction(1, first.rate), first.frame_size
    marks, placed, cursor = [], [], 0
    for number, part in enumerate(parts):
        # The first chapter keeps its own timestamps (priming before 0, which the MP4 muxer turns
        # into an edit list); each later one starts where the one before ends.
        base = part.first_pts if number == 0 else cursor
        placed.extend((base + i * frame, payload, key) for i, (payload, key) in enumerate(part.packets))
        cursor = base + len(part.packets) * frame
        end = cursor if number < len(parts) - 1 else cursor - frame + part.last_duration
        marks.append({"id": number + 1, "start": max(base, 0), "end": end, "time_base": time_base,
                      "metadata": {"title": part.title}})

    buffer = io.BytesIO()
    with av.open(buffer, "w", format="ipod", options={"brand": "M4B "}) as out:
        out.metadata.update(_tags(title, author))
        with av.open(io.BytesIO(chapters[0][1]), "r") as template:
            stream = out.add_stream_from_template(template.streams.audio[0])
        out.set_chapters(marks)
        for i, (pts, payload, keyframe) in enumerate(placed):
            packet = av.Packet(payload)
            packet.pts = packet.dts = pts
            packet.duration = parts[-1].last_duration if i == len(placed) - 1 else frame
            packet.time_base = time_base
            packet.is_keyframe = keyframe
            packet.stream = stream
            out.mux(packet)
    book = buffer.getvalue()
    if audio_packets(book) != [(payload, key) for _, payload, key in placed]:
        raise AssemblyFailed("the MP4 muxer wrote other audio packets than the chapters' own")
    return book


def read_chapters(data: bytes) -> list[dict[str, Any]]:
    """The chapter marks of an MP4/M4B file, in order: [{"title": str, "start_s": float, "end_s": float}].

    Times are seconds from the start of the book, to the millisecond (the MP4 muxer stores chapter
    times at a 1/1000 s timescale); a chapter without a title gets "".
    Raises IncompatibleChapters when `data` is not a file FFmpeg can open as MP4.
    """
    import av

    try:
        with av.open(io.BytesIO(data), "r", options={"format_whitelist": "mov"}) as book:
            marks = book.chapters()
    except (av.FFmpegError, ValueError) as e:
        raise IncompatibleChapters(f"not an MP4/M4B file: {getattr(e, 'strerror', None) or e}") from e
    return [
        {"title": m["metadata"].get("title", ""),
         "start_s": float(m["start"] * m["time_base"]),
         "end_s": float(m["end"] * m["time_base"])}
        for m in sorted(marks, key=lambda m: m["start"] * m["time_base"])
    ]


def audio_packets(data: bytes) -> list[tuple[bytes, bool]]:
    """The AAC packets of a one-track MP4/M4B, in order (what a decoder plays, whatever else the
    container holds). Raises IncompatibleChapters as the chapters' demuxer does."""
    return _demux(1, "book", data).packets


def decode_excerpts(data: bytes, spans: list[tuple[float, float]]) -> tuple[list[np.ndarray], int]:
    """The one-track MP4/M4B `data` decoded over each (start_s, end_s) span, as float32 mono, and
    the rate: a seek and a short decode per span instead of the whole file. Each span is decoded
    from a packet a little before its start, so the decoder's overlap is in place when it starts."""
    import av

    excerpts, rate = [], 0
    with av.open(io.BytesIO(data), "r", options={"format_whitelist": "mov"}) as book:
        stream = book.streams.audio[0]
        rate = stream.codec_context.sample_rate
        for start_s, end_s in spans:
            start, end = round(start_s * rate), round(end_s * rate)
            book.seek(max(0, round((start_s - _PREROLL_S) / stream.time_base)), stream=stream)
            pieces = []
            for frame in book.decode(stream):
                at = round(frame.pts * frame.time_base * rate)
                if at >= end:
                    break
                pieces.append((at, frame.to_ndarray().mean(axis=0)))  # FFmpeg's AAC decoder: planar float
            excerpts.append(_span_of(pieces, start, end))
    return excerpts, rate


_PREROLL_S = 0.2  # decoded before a span's start and dropped: a few AAC packets


def _span_of(pieces: list[tuple[int, np.ndarray]], start: int, end: int) -> np.ndarray:
    """Samples start..end (in the book's timeline) of decoded frames (first sample's position, samples)."""
    kept = [samples[max(0, start - at):max(0, end - at)] for at, samples in pieces]
    return np.concatenate(kept).astype(np.float32) if kept else np.zeros(0, np.float32)


class _NotAac(Exception):
    """Raised inside _demux's FFmpeg block and turned into IncompatibleChapters outside it."""


def _demux(number: int, title: str, data: bytes) -> _Chapter:
    """Chapter `number`'s AAC packets, their first timestamp, and what every chapter must share."""
    import av

    name = f"chapter {number} ({title!r})"
    try:
        with av.open(io.BytesIO(data), "r", options={"format_whitelist": "mov"}) as chapter:
            streams = chapter.streams.audio
            codec = streams[0].codec_context if len(streams) == 1 else None
            if codec is None or codec.name != "aac":
                found = f"{len(streams)} audio streams" if codec is None else codec.name
                raise _NotAac(f"{name} holds {found}")
            params = (codec.name, codec.sample_rate, codec.layout.name, codec.profile, codec.frame_size,
                      bytes(codec.extradata or b""))
            rate, frame_size = codec.sample_rate, codec.frame_size or 1024
            first_pts, packets, last_duration = None, [], frame_size
            for packet in chapter.demux(streams[0]):
                if packet.pts is None or packet.size == 0:  # the demuxer's end-of-stream marker
                    continue
                if first_pts is None:
                    first_pts = round(packet.pts * packet.time_base * rate)
                packets.append((bytes(packet), packet.is_keyframe))
                last_duration = round(packet.duration * packet.time_base * rate)
    except _NotAac as e:
        raise IncompatibleChapters(f"{e}; a chapter must be one AAC stream in MP4/M4A") from None
    except (av.FFmpegError, ValueError) as e:
        raise IncompatibleChapters(f"{name} is not an MP4/M4A file: {getattr(e, 'strerror', None) or e}") from e
    if first_pts is None:
        raise IncompatibleChapters(f"{name} holds no audio")
    return _Chapter(title, rate, frame_size, params, first_pts, packets, last_duration)


def _describe(part: _Chapter) -> str:
    codec, rate, layout, profile, *_ = part.params
    return f"{codec} ({profile}, {layout}) at {rate} Hz"


def _tags(title: str | None, author: str | None) -> dict[str, str]:
    """MP4 tags for the book: title and album = title, artist and album artist = author."""
    tags: dict[str, str] = {}
    if title:
        tags |= {"title": title, "album": title}
    if author:
        tags |= {"artist": author, "album_artist": author}
    return tags
