"""Lossy formats that FFmpeg encodes for us through PyAV: MP3 (LAME), Opus in Ogg, AAC in ADTS, AAC
in MP4 (.m4a).

Everything is encoded in memory (PyAV writes to a BytesIO; the MP4 muxer seeks back into it to
write its index). PyAV is imported inside `encode`, so FFmpeg loads only when one of these formats
is asked for, never at import time.

Bit rates were chosen so that the keyed watermark passes the release gate: see `CODECS`.
"""
from __future__ import annotations

import io
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
import soxr

from voicekit.errors import UnsupportedFormat


@dataclass(frozen=True)
class Codec:
    """How one output format is made: FFmpeg's encoder and muxer names, a target bit rate in bits/s,
    and the sample rates the encoder takes (input at another rate is resampled, see `codec_rate`)."""

    encoder: str
    muxer: str
    bit_rate: int
    rates: tuple[int, ...]
    options: tuple[tuple[str, str], ...] = ()


# FFmpeg's "fast" AAC coder: 242x real time against 78x for the default two-loop search (one core,
# 2 min of heart at 128 kbps), and the mark still verifies with p < 1e-300. AAC encoding had been a
# third of an audiobook chapter's time.
AAC_OPTIONS = (("aac_coder", "fast"),)
AAC_PRIMING = 1024  # samples FFmpeg's AAC encoder puts before the audio
AAC_RATES = (7350, 8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000, 64000, 88200, 96000)

# Bit rates, measured with the keyed watermark on 10 sentences x 2 marks of the heart voice at 24 kHz
# (one gate check each, no retries): at 96 kbps Opus and 128 kbps AAC (fast coder) all 20 pass with
# p < 1e-40. Opus still passes 20/20 at 64 kbps, refuses 2/20 at 48 and 19/20 at 24 kbps; the fast
# AAC coder refuses 2/20 M4A clips at 64 kbps (the two-loop coder passed all at 64 and refused 8/20
# ADTS clips at 48). So the rates below sit at least twice above the first refusals.
MP3_RATES = (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000)
CODECS: dict[str, Codec] = {
    # MP3 by LAME at a constant 128 kbps and its standard quality (-q 5): 12 % faster than
    # libsndfile's LAME at its highest VBR setting (which averaged 96 kbps on 24 kHz speech, the
    # bit rate being capped at 160 kbps by MPEG-2); on 10 sentences in each house voice at 24 kHz
    # the gate's largest p was 1e-58.
    "mp3": Codec("libmp3lame", "mp3", 128_000, MP3_RATES, (("compression_level", "5"),)),
    "opus": Codec("libopus", "ogg", 96_000, (8000, 12000, 16000, 24000, 48000)),
    # AAC in ADTS: a bare stream of frames, what OpenAI's API returns for response_format=aac.
    "aac": Codec("aac", "adts", 128_000, AAC_RATES, AAC_OPTIONS),
    # AAC in an MP4 (.m4a) container, the form voicekit.m4b remuxes into audiobooks.
    "m4a": Codec("aac", "ipod", 128_000, AAC_RATES, AAC_OPTIONS),
}


def codec_rate(codec: Codec, sample_rate: int) -> int:
    """The rate `codec` encodes `sample_rate` audio at: the same rate if the encoder takes it, else
    the lowest rate it takes above it (so no band is lost: 22050 Hz -> 24 kHz, 44100 Hz -> 48 kHz for
    Opus), else its highest. Opus decoders give 48 kHz or the rate recorded in the file."""
    if sample_rate in codec.rates:
        return sample_rate
    above = [r for r in codec.rates if r > sample_rate]
    return min(above) if above else max(codec.rates)


def priming_seconds(fmt: str, sample_rate: int) -> float:
    """Seconds of encoder priming a decoder returns before the audio of one `fmt` file at
    `sample_rate`: 1024 samples at the codec's rate for bare ADTS AAC (which has no field to say
    so), none where the container records it (MP4, Ogg) or for uncompressed formats."""
    if fmt != "aac":
        return 0.0
    return AAC_PRIMING / codec_rate(CODECS["aac"], sample_rate)


def encode(samples: np.ndarray, sample_rate: int, fmt: str, bit_rate: int | None = None) -> bytes:
    """float32 samples in [-1, 1] at `sample_rate` Hz, mono (n,) or stereo (n, 2) -> the bytes of an
    `fmt` file (a CODECS key). Stereo at 32 kHz and above gets twice the mono bit rate (256 kbps
    MP3 and AAC; MPEG-2 MP3 below 32 kHz stops at 160 kbps). bit_rate: another rate in bits/s
    (a benchmark's re-encoding at a user's setting).

    Encoder delay: the first frame is given pts 0, so FFmpeg marks the encoder's priming samples
    in the container where it can: MP4 gets an edit list and Ogg Opus its pre-skip, and decoders
    drop them (the decoded audio lines up with the input). ADTS has no field for it, so decoded
    .aac audio starts 1024 samples late, as any .aac stream does; the watermark detector searches
    alignments, so the gate is unaffected. The encoder pads the last frame; decoders may return up
    to one frame (1024 AAC samples) more than went in.
    """
    import av  # here, not at import time: FFmpeg loads only when a codec format is asked for

    if fmt not in CODECS:
        raise UnsupportedFormat(f"no PyAV codec for format {fmt!r}; use one of: {', '.join(CODECS)}")
    codec = CODECS[fmt]
    rate = codec_rate(codec, sample_rate)
    audio = np.asarray(samples, np.float32)
    if rate != sample_rate:
        audio = soxr.resample(audio, sample_rate, rate, quality="HQ").astype(np.float32)
    layout = "mono" if audio.ndim == 1 else "stereo"

    buffer = io.BytesIO()
    with av.open(buffer, "w", format=codec.muxer) as out:
        stream = out.add_stream(codec.encoder, rate=rate, layout=layout)
        stream.bit_rate = bit_rate or codec.bit_rate * (2 if layout == "stereo" and rate >= 32000 else 1)
        stream.codec_context.options = dict(codec.options)
        if len(audio):
            # packed samples: mono (1, n); stereo interleaved (1, 2n)
            frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(audio).reshape(1, -1), format="flt", layout=layout)
            frame.sample_rate = rate
            frame.pts = 0
            frame.time_base = Fraction(1, rate)
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return buffer.getvalue()
