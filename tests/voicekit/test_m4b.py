"""Audiobooks: gated .m4a chapters remuxed (never re-encoded) into one M4B with chapter marks."""
import io

import av
import numpy as np
import pytest

from detection.decoding import decode_bytes
from detection.errors import GateRefused
from voicekit.audiobook import _checked_m4b
from voicekit.errors import AssemblyFailed, IncompatibleChapters
from voicekit.m4b import decode_excerpts, mux_m4b, read_chapters

TEXTS = ["The first chapter opens on a quiet morning.",
         "In the second chapter the travellers cross a river.",
         "The third chapter brings everyone home again."]


@pytest.fixture(scope="module")
def chapters(studio):
    return [studio.speak(text, format="m4a") for text in TEXTS]


@pytest.fixture(scope="module")
def book(chapters):
    titled = [(f"Chapter {i}", r.encoded) for i, r in enumerate(chapters, 1)]
    return mux_m4b(titled, title="Three Rivers", author="A. Writer")


def _packets(data):
    with av.open(io.BytesIO(data)) as container:
        return [bytes(p) for p in container.demux(container.streams.audio[0]) if p.size]


def test_chapter_marks_are_titled_contiguous_and_as_long_as_the_chapters(chapters, book):
    marks = read_chapters(book)
    assert [m["title"] for m in marks] == ["Chapter 1", "Chapter 2", "Chapter 3"]
    assert marks[0]["start_s"] == 0
    for before, after in zip(marks, marks[1:]):
        assert before["end_s"] == after["start_s"]
    for mark, result in zip(marks, chapters):
        assert mark["end_s"] > mark["start_s"]
        assert abs((mark["end_s"] - mark["start_s"]) - len(result.audio) / result.sample_rate) < 0.1


def test_each_chapter_range_carries_that_chapters_mark(studio, chapters, book):
    """Asked which of the book's marks each range holds (an auditor's question), the detector names
    that chapter's, and the gate's own test passes on it. (Blind decoding of a 3 s clip's payload
    misses about 1 time in 100, in a chapter's own file as in the book, so it is not asserted.)"""
    samples, rate = decode_bytes(book)
    marks = [r.mark_id for r in chapters]
    for mark, result in zip(read_chapters(book), chapters):
        chapter = samples[round(mark["start_s"] * rate): round(mark["end_s"] * rate)]
        found = studio.watermarker.match(chapter, rate, marks)
        assert found.mark_id == result.mark_id and found.p_value <= 1e-6
        verdict = studio.watermarker.verify(chapter, rate, result.mark_id)
        assert verdict.p_value <= 1e-6 and verdict.payload_id == result.mark_id


def test_the_book_holds_the_gated_packets_unchanged_and_its_tags(chapters, book):
    assert _packets(book) == [p for r in chapters for p in _packets(r.encoded)]
    with av.open(io.BytesIO(book)) as container:
        assert container.metadata["major_brand"] == "M4B "
        assert container.metadata["title"] == "Three Rivers" and container.metadata["artist"] == "A. Writer"
        assert len(container.streams.audio) == 1


def test_chapters_that_cannot_share_one_stream_are_refused(studio, chapters):
    other_rate = studio.speak(TEXTS[0], sample_rate=16000, format="m4a")
    with pytest.raises(ValueError, match=r"chapter 2 .* 16000 Hz.* 24000 Hz"):
        mux_m4b([("One", chapters[0].encoded), ("Two", other_rate.encoded)])
    with pytest.raises(IncompatibleChapters, match="chapter 2 .* not an MP4"):
        mux_m4b([("One", chapters[0].encoded), ("Two", studio.speak("Hi.", format="wav").encoded)])
    with pytest.raises(IncompatibleChapters, match="at least one chapter"):
        mux_m4b([])


def test_an_excerpt_decodes_as_the_whole_book_does_there(book):
    """Spans at each chapter's start (where the decoder runs on from the chapter before), one inside
    a chapter and one past the end: each as the same span of the whole book's decode."""
    samples, rate = decode_bytes(book)
    marks = read_chapters(book)
    spans = [(m["start_s"], m["start_s"] + 1.5) for m in marks] + [(1.234, 2.0), (marks[-1]["end_s"] - 0.5, 999.0)]
    excerpts, excerpt_rate = decode_excerpts(book, spans)
    assert excerpt_rate == rate
    for (start_s, end_s), piece in zip(spans, excerpts):
        whole = samples[round(start_s * rate):round(end_s * rate)]
        assert len(piece) == len(whole) > 0.4 * rate
        assert np.abs(piece - whole).max() < 0.01


def test_the_books_check_passes_each_chapter_with_its_own_mark_and_no_other(studio, chapters, book):
    marks = [r.mark_id for r in chapters]
    placed = _checked_m4b(studio, book, marks)
    assert [p["start_s"] for p in placed] == [m["start_s"] for m in read_chapters(book)]
    with pytest.raises(GateRefused):
        _checked_m4b(studio, book, [marks[0], marks[2], marks[1]])
    with pytest.raises(AssemblyFailed, match="3 chapter markers for 2 chapters"):
        _checked_m4b(studio, book, marks[:2])
