"""Opus, AAC and M4A output: real encoders (FFmpeg through PyAV), the real gate, the real detector."""
import io

import av
import numpy as np
import pytest

from detection.decoding import decode_bytes
from voicekit import audio
from voicekit.codecs import CODECS
from voicekit.errors import UnsupportedFormat

SENTENCE = "Every chapter leaves the studio marked and checked."
# what each file must look like: FFmpeg's demuxer and decoder, and its first bytes
CONTAINERS = {"opus": ("ogg", "opus", b"OggS"), "aac": ("aac", "aac", b"\xff\xf1"),
              "m4a": ("mov", "aac", b"\x00\x00\x00")}
# decoded minus rendered length, in samples: Ogg Opus records its pre-skip and end, MP4 its priming
# (edit list) but not the last frame's padding, ADTS neither (1024 samples of priming, then padding)
EXTRA_SAMPLES = {"opus": range(0, 1), "m4a": range(0, 1024), "aac": range(1024, 2048)}


@pytest.mark.parametrize("fmt", ["opus", "aac", "m4a"])
def test_speech_in_a_codec_format_passes_the_gate_and_is_detected(studio, tmp_path, fmt):
    result = studio.speak(SENTENCE, format=fmt)
    body = result.provenance["body"]
    assert body["format"] == fmt and body["gate"]["p_value"] <= 1e-6 and body["gate"]["mark_id"] == result.mark_id

    demuxer, decoder, magic = CONTAINERS[fmt]
    assert result.encoded.startswith(magic)
    with av.open(io.BytesIO(result.encoded)) as container:
        assert demuxer in container.format.name.split(",")
        assert container.streams.audio[0].codec_context.name == decoder

    samples, rate = decode_bytes(result.encoded)
    assert rate == 24000 and samples.dtype == np.float32
    assert len(samples) - round(body["duration_s"] * rate) in EXTRA_SAMPLES[fmt]

    finding = studio.detect(result.save(tmp_path / f"out.{fmt}"))
    assert finding.watermarked and finding.mark_id == result.mark_id


@pytest.mark.parametrize("rate, file_rate", [(22050, 24000), (44100, 48000), (16000, 16000)])
def test_opus_takes_only_its_own_rates_so_others_are_resampled_up(rate, file_rate):
    tone = (0.3 * np.sin(2 * np.pi * 440 * np.arange(rate) / rate)).astype(np.float32)
    samples, decoded_rate = decode_bytes(audio.encode(tone, rate, "opus"))
    assert decoded_rate == file_rate and len(samples) == file_rate


def test_bit_rates_are_the_ones_the_gate_was_measured_at():
    assert {fmt: codec.bit_rate for fmt, codec in CODECS.items()} == {"mp3": 128_000, "opus": 96_000, "aac": 128_000,
                                                                     "m4a": 128_000}


def test_codec_formats_are_named_by_extension_and_unknown_ones_refused(studio):
    assert [audio.format_for(f"book.{ext}") for ext in ("opus", "AAC", "m4a")] == ["opus", "aac", "m4a"]
    with pytest.raises(UnsupportedFormat, match=r"\.opus, \.aac, \.m4a"):
        audio.format_for("book.wma")
    with pytest.raises(UnsupportedFormat, match="'wma'"):
        studio.speak("Hi.", format="wma")
