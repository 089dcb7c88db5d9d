"""Streaming: every chunk is marked and gated before it is handed out; the whole stream decodes to
the payload and its ledger record; refusals come before any audio."""
import numpy as np
import pytest

from consent.errors import UnknownVoice
from detection.audit import inspect_audio
from voicekit.errors import BadInput

TEXT = ("The quick brown fox jumped over the lazy dog while seven curious children watched from the old "
        "wooden bridge nearby. Then the rain began, and everyone ran home.")


def pcm_samples(chunk) -> np.ndarray:
    return np.frombuffer(chunk.encoded, "<i2").astype(np.float32) / 32767


def test_every_chunk_carries_the_mark_and_the_whole_stream_names_its_record(studio):
    stream = studio.stream(TEXT, word_timings=True)
    chunks = list(stream)
    assert len(chunks) >= 3  # the first sentence is cut after about a second, so playback starts sooner
    assert chunks[0].audio.shape[0] / chunks[0].sample_rate < 2.5
    for chunk in chunks:
        verdict = studio.watermarker.verify(pcm_samples(chunk), chunk.sample_rate, stream.mark_id)
        assert verdict.p_value < 1e-6 and verdict.payload_id == stream.mark_id
        assert chunk.gate["mark_id"] == stream.mark_id
    whole = np.concatenate([pcm_samples(c) for c in chunks])
    finding = inspect_audio(whole, chunks[0].sample_rate, studio.watermarker, studio.ledger, studio.keys)
    assert finding.mark_id == stream.mark_id and finding.provenance is not None
    assert stream.provenance["body"]["stream"] is True
    assert stream.closing["body"]["complete"] is True and stream.closing["body"]["chunks"] == len(chunks)
    import hashlib
    assert stream.closing["body"]["audio_sha256"] == hashlib.sha256(b"".join(c.encoded for c in chunks)).hexdigest()
    starts = [c.start_s for c in chunks]
    assert starts == sorted(starts) and starts[0] == 0
    words = [w for c in chunks for w in c.words]
    assert [w.word for w in words][:3] == ["The", "quick", "brown"] and words[-1].word == "home"
    assert all(a.start <= b.start for a, b in zip(words, words[1:]))


def test_a_stream_closed_early_is_recorded_as_incomplete(studio):
    stream = studio.stream(TEXT)
    iterator = iter(stream)
    first = next(iterator)
    iterator.close()
    assert stream.closing["body"]["complete"] is False and stream.closing["body"]["chunks"] == 1
    assert stream.closing["body"]["duration_s"] == pytest.approx(len(first.audio) / first.sample_rate, abs=1e-3)
    assert studio.ledger.verify().ok


def test_streamed_ssml_keeps_pauses_and_marks(studio):
    chunks = list(studio.stream('<speak><break time="500ms"/>Hello there. <mark name="m"/>'
                                '<break time="1s"/>General Kenobi.</speak>', voice="joe", ssml=True))
    assert len(chunks) == 2
    assert chunks[0].audio.shape[0] / chunks[0].sample_rate > 1.4  # leading pause + sentence + 1 s pause
    assert "m" in chunks[0].marks


def test_refusals_come_before_any_audio(studio):
    with pytest.raises(UnknownVoice):
        studio.stream(TEXT, voice="nobody")
    with pytest.raises(BadInput):
        studio.stream("<speak><blink/></speak>", ssml=True)


def test_a_revocation_mid_stream_stops_it_within_one_chunk(tmp_path):
    from consent.errors import VoiceRevoked
    from voicekit import Studio

    studio = Studio(home=tmp_path)
    stream = studio.stream(TEXT, voice="joe")
    chunks = iter(stream)
    first = next(chunks)
    studio.revoke("joe", reason="licence withdrawn")
    with pytest.raises(VoiceRevoked, match="licence withdrawn"):
        next(chunks)
    assert first.index == 0
    assert stream.closing["body"]["complete"] is False and stream.closing["body"]["chunks"] == 1
