"""The edits (attacks) a watermark must survive, shared by the tests and the benchmarks.

Why one module: the robustness tests and the bench must attack the mark with the same edits at
the same strengths, or their numbers cannot be compared with each other or with AudioSeal's.

`AUDIOSEAL_EDITS` are the edits of AudioSeal's evaluation table (San Roman et al., ICML 2024,
arXiv 2401.17264; see shared/ANCHORS.md "Watermark") at the strengths listed there. Its 15 rows
are, as we read them, the unedited clip ("identity" here), 13 edits and EnCodec 24 kHz. EnCodec
is NOT included: it needs EnCodec's weights, which this project does not ship or download. So
`AUDIOSEAL_EDITS` holds 14, identity first. `EXTRA_EDITS` adds MP3 at 128 kbps (the
bitrate people actually share) and cropping a 3 s excerpt (a gap AudioSeal names: it was not
trained for cropping). `INVARIANCE_EDITS` are the cheap, transparent edits someone stripping a mark
would try (issue 17): pitch shifts of 1 and 3 semitones and tempo changes of 15 % by SoX's own
effects (WSOLA, as audio editors do them), speed changes by resampling at factors between the
searched ones, reverb, and music mixed in at 0 dB. `ALL_EDITS` is all three. `mixed` makes a
mixing edit from any background (the benchmark mixes in babble of real voices).

Strengths are taken literally from the table, which makes some of ours harsher than AudioSeal's
code (facebookresearch/audioseal examples/attacks.py, audiocraft utils/audio_effects.py):
- boost x10 and duck x0.1 are multiplications by 10 and 0.1. AudioSeal's code takes an `amount`
  in percent (x(1 + amount/100)), so its "10" may have meant x1.1 and x0.9. Unsure; ours is harsher.
  Boosted samples are clipped to [-1, 1], as a file would clip them.
- pink noise sigma 0.1 and white noise sigma 0.05 are standard deviations in absolute float
  amplitude (full scale = 1). AudioSeal's training augmentations use 0.01 and 0.001, and its
  pink-noise generator scales a peak-normalised noise, so its real std is below its `noise_std`.
  Unsure which the evaluation table meant; ours is at least as strong. Noise is not clipped.
- echo: AudioSeal always renormalises the sum to the input's peak; we add the delayed copy and
  rescale (one uniform gain, peak -> 1.0) only when the sum would clip.

Every edit takes float32 mono samples in [-1, 1] at any rate from 8 kHz up, plus a
`np.random.Generator` (only the noises and the crop draw from it), and is deterministic given
that generator. Filters are causal (phase is not preserved), as in a real signal chain.
Codecs go through real encoders (FFmpeg's, via PyAV); see `_codec_round_trip`.
"""
from __future__ import annotations

import io
import shutil
import subprocess
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import soxr
from scipy.signal import butter, sosfilt

Transform = Callable[[np.ndarray, int, np.random.Generator], tuple[np.ndarray, int]]

FILTER_ORDER = 5  # Butterworth order per band edge (a bandpass is order 10 in all).
SMOOTH_WINDOW_AT_16K = 40  # samples at 16 kHz (2.5 ms); scaled to the audio's rate.
SPEED = 1.25
ECHO_DELAY_S, ECHO_VOLUME = 0.5, 0.5
PINK_SIGMA, WHITE_SIGMA = 0.1, 0.05
PINK_FLOOR_HZ = 20.0
CROP_S = 3.0
REVERB = ("reverb", "50", "50", "100")  # SoX: reverberance, HF damping, room scale (%)


@dataclass(frozen=True)
class Edit:
    """One named edit. `apply` takes float32 mono samples at `sample_rate` Hz and returns
    (float32 mono samples, their rate in Hz). Every edit keeps the rate; speed returns about
    1/1.25 of the samples, crop 3 s of them, all others exactly as many as they were given."""

    name: str
    description: str
    transform: Transform = field(repr=False, compare=False)

    def apply(
        self, samples: np.ndarray, sample_rate: int, rng: np.random.Generator
    ) -> tuple[np.ndarray, int]:
        samples = np.asarray(samples, dtype=np.float32)
        if samples.ndim != 1:
            raise ValueError(f"edits take mono samples (one dimension), got shape {samples.shape}")
        out, rate = self.transform(samples, int(sample_rate), rng)
        return np.asarray(out, dtype=np.float32), rate


def _fit(samples: np.ndarray, length: int) -> np.ndarray:
    """Trim the end or zero-pad the end to `length` samples (keeps the start aligned)."""
    if len(samples) >= length:
        return samples[:length]
    return np.concatenate([samples, np.zeros(length - len(samples), samples.dtype)])


def _butterworth(btype: str, cutoff_hz: float | tuple[float, float]) -> Transform:
    """A causal Butterworth filter (SOS, order FILTER_ORDER). A band edge at or above Nyquist is
    dropped: a 500-5000 Hz bandpass on 8 kHz audio is a 500 Hz highpass."""

    def transform(x: np.ndarray, rate: int, rng: np.random.Generator) -> tuple[np.ndarray, int]:
        kind, cut = btype, cutoff_hz
        if kind == "bandpass" and cut[1] >= rate / 2:
            kind, cut = "highpass", cut[0]
        sos = butter(FILTER_ORDER, cut, kind, fs=rate, output="sos")
        return sosfilt(sos, x), rate

    return transform


def _speed_by(factor: float) -> Transform:
    """Play `factor` times as fast by resampling to rate/factor and playing the result at `rate`:
    shorter by `factor`, every frequency times `factor` (no pitch correction). AudioSeal's speed
    edit is factor 1.25."""

    def transform(x: np.ndarray, rate: int, rng: np.random.Generator) -> tuple[np.ndarray, int]:
        return soxr.resample(x, rate, rate / factor, quality="HQ"), rate

    return transform


def _sox(*effect: str, keep_length: bool = True) -> Transform:
    """Run SoX's `effect` on the samples (raw 32-bit float through pipes). keep_length: trim or pad
    the result to the input's length (reverb adds a tail); a tempo change keeps its own length."""

    def transform(x: np.ndarray, rate: int, rng: np.random.Generator) -> tuple[np.ndarray, int]:
        sox = shutil.which("sox")
        if sox is None:
            raise RuntimeError("SoX is not installed (`make setup` installs it): the pitch, tempo and reverb edits run it")
        raw = ["-t", "f32", "-r", str(rate), "-c", "1"]
        done = subprocess.run([sox, "-q", *raw, "-", *raw, "-", *effect], input=np.asarray(x, np.float32).tobytes(),
                              capture_output=True, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"sox {' '.join(effect)} failed: {done.stderr.decode(errors='replace').strip()}")
        y = np.frombuffer(done.stdout, np.float32)
        return (_fit(y, len(x)) if keep_length else y.copy()), rate

    return transform


def _music(n: int, rate: int, rng: np.random.Generator) -> np.ndarray:
    """n samples of generated music with unit standard deviation: a I-V-vi-IV progression of
    plucked harmonic chords (random voicing and octave from rng), a bass line and a hi-hat of noise
    bursts, at 100 beats per minute. A stand-in for a music bed that needs no recording."""
    t = np.arange(n) / rate
    beat = 0.6
    out = np.zeros(n)
    roots = (0, 7, 9, 5)  # semitones above the key's root
    key_hz = 196.0 * 2 ** (rng.integers(0, 12) / 12)
    for bar, start in enumerate(np.arange(0.0, n / rate, 4 * beat)):
        root = key_hz * 2 ** (roots[bar % 4] / 12)
        chord = (1.0, 2 ** (4 / 12) if roots[bar % 4] != 9 else 2 ** (3 / 12), 2 ** (7 / 12), 2.0)
        for k in range(4):
            at = start + k * beat
            local = t - at
            on = (local >= 0) & (local < 4 * beat)
            envelope = np.exp(-3.0 * local[on])
            for ratio in chord:
                f = root * ratio * (1 + 0.002 * rng.standard_normal())
                for harmonic in range(1, 6):
                    out[on] += envelope * np.sin(2 * np.pi * f * harmonic * local[on]) / harmonic ** 1.5
            out[on] += 1.5 * envelope * np.sin(np.pi * root * local[on])  # bass an octave below
            hat = (local >= beat / 2) & (local < beat / 2 + 0.03)
            out[hat] += 0.5 * rng.standard_normal(int(hat.sum())) * np.exp(-80 * (local[hat] - beat / 2))
    std = out.std()
    return out / std if std > 0 else out


def _mix(background: Callable[[int, int, np.random.Generator], np.ndarray], snr_db: float) -> Transform:
    """Add `background` (n, rate, rng -> n samples) scaled to `snr_db` below the clip's own power."""

    def transform(x: np.ndarray, rate: int, rng: np.random.Generator) -> tuple[np.ndarray, int]:
        noise = background(len(x), rate, rng)
        power, noise_power = float(np.mean(np.square(x, dtype=np.float64))), float(np.mean(noise ** 2))
        if power == 0.0 or noise_power == 0.0:
            return x.copy(), rate
        return x + noise * np.sqrt(power / noise_power / 10 ** (snr_db / 10)), rate

    return transform


def mixed(name: str, background: np.ndarray, background_rate: int, snr_db: float = 0.0) -> Edit:
    """An edit that mixes in a stretch of `background` (float mono at background_rate, looped if
    short, its start drawn from the rng) at `snr_db` (0 dB: as loud as the clip)."""
    source = np.asarray(background, np.float64)
    if source.ndim != 1 or not np.any(source):
        raise ValueError("a background must be non-silent mono samples")

    def excerpt(n: int, rate: int, rng: np.random.Generator) -> np.ndarray:
        at_rate = source if rate == background_rate else soxr.resample(source, background_rate, rate, quality="HQ")
        start = int(rng.integers(0, len(at_rate)))
        return np.resize(np.roll(at_rate, -start), n)

    return Edit(name, f"{name} mixed in at {snr_db:g} dB SNR", _mix(excerpt, snr_db))


def _resample_via(intermediate_hz: int) -> Transform:
    """Resample to `intermediate_hz` and back (soxr HQ); identity at that very rate."""

    def transform(x: np.ndarray, rate: int, rng: np.random.Generator) -> tuple[np.ndarray, int]:
        there = soxr.resample(x, rate, intermediate_hz, quality="HQ")
        return _fit(soxr.resample(there, intermediate_hz, rate, quality="HQ"), len(x)), rate

    return transform


def _gain(factor: float) -> Transform:
    """Multiply by `factor`, then clip to [-1, 1] as a fixed-point file would."""

    def transform(x: np.ndarray, rate: int, rng: np.random.Generator) -> tuple[np.ndarray, int]:
        return np.clip(x * factor, -1.0, 1.0), rate

    return transform


def _echo(x: np.ndarray, rate: int, rng: np.random.Generator) -> tuple[np.ndarray, int]:
    """Add a copy delayed by 0.5 s at volume 0.5; same length (the echo's tail is cut). If the
    sum's peak exceeds 1 the whole output is scaled down to peak 1.0; otherwise it is left as is."""
    delay = round(ECHO_DELAY_S * rate)
    y = x.astype(np.float64)
    if delay < len(x):
        y[delay:] += ECHO_VOLUME * x[: len(x) - delay]
    peak = np.max(np.abs(y), initial=0.0)
    return (y / peak if peak > 1.0 else y), rate


def _pink(n: int, rate: int, rng: np.random.Generator) -> np.ndarray:
    """Zero-mean pink (1/f power) noise with unit standard deviation: white Gaussian noise whose
    spectrum is shaped by 1/sqrt(f). Below 20 Hz the shape is held flat, so a long clip does not
    spend the noise's power on inaudible drift."""
    spectrum = np.fft.rfft(rng.standard_normal(n))
    freqs = np.fft.rfftfreq(n, d=1.0 / rate)
    shape = 1.0 / np.sqrt(np.maximum(freqs, PINK_FLOOR_HZ))
    shape[0] = 0.0
    noise = np.fft.irfft(spectrum * shape, n)
    std = noise.std()
    return noise / std if std > 0 else noise


def _noise(colour: str, sigma: float) -> Transform:
    """Add pink noise of standard deviation `sigma` (exactly, over the clip) or Gaussian white noise
    of standard deviation `sigma` (drawn, not renormalised); not clipped."""

    def transform(x: np.ndarray, rate: int, rng: np.random.Generator) -> tuple[np.ndarray, int]:
        if colour == "pink":
            return x + sigma * _pink(len(x), rate, rng), rate
        return x + rng.normal(0.0, sigma, len(x)), rate

    return transform


def noise(colour: str, sigma: float) -> Edit:
    """A noise edit at another strength than the evaluation's (colour: "pink" or "white")."""
    if colour not in ("pink", "white"):
        raise ValueError(f"noise colour must be 'pink' or 'white', not {colour!r}")
    return Edit(f"{colour}_noise_{sigma:g}", f"{colour} noise, std {sigma:g}", _noise(colour, sigma))


def filtered(kind: str, cutoff_hz: float | tuple[float, float]) -> Edit:
    """A Butterworth edit at another cutoff than the evaluation's (kind: lowpass, highpass, bandpass)."""
    return Edit(f"{kind}_{cutoff_hz}", f"Butterworth {kind} {cutoff_hz} Hz", _butterworth(kind, cutoff_hz))


def _smooth(x: np.ndarray, rate: int, rng: np.random.Generator) -> tuple[np.ndarray, int]:
    """Causal moving average over 40 samples at 16 kHz (2.5 ms): round(40 * rate / 16000) samples
    at other rates (60 at 24 kHz), so the edit removes the same band whatever the rate."""
    window = max(1, round(SMOOTH_WINDOW_AT_16K * rate / 16000))
    return np.convolve(x, np.full(window, 1.0 / window))[: len(x)], rate


def _crop(x: np.ndarray, rate: int, rng: np.random.Generator) -> tuple[np.ndarray, int]:
    """A 3 s excerpt starting at a uniformly drawn sample; a clip of 3 s or less is returned whole."""
    length = round(CROP_S * rate)
    if len(x) <= length:
        return x.copy(), rate
    start = int(rng.integers(0, len(x) - length + 1))
    return x[start : start + length].copy(), rate


def _nearest_rate(supported: tuple[int, ...] | list[int] | None, rate: int) -> int:
    """`rate` if the encoder takes it (or lists nothing), else its nearest listed rate (ties up)."""
    if not supported or rate in supported:
        return rate
    return min(supported, key=lambda r: (abs(r - rate), -r))


def _codec_round_trip(encoder: str, container: str, bit_rate: int) -> Transform:
    """Encode with PyAV (FFmpeg) into an in-memory `container` at `bit_rate` bits/s (CBR target),
    decode, and return float32 mono at the input's rate and length.

    Rates: if the encoder does not take the input's rate, the audio is resampled (soxr HQ) to
    its nearest supported rate before encoding and back after decoding.

    Delay: we do not compensate codec delay ourselves; the output keeps whatever alignment a
    real decoder of that file would give, then its end is trimmed or zero-padded to the input's
    length. In practice (FFmpeg 8.1 in PyAV 18.1.0): AAC in ADTS cannot carry the encoder's priming,
    so the output lags the input by 1024 samples, as a real .aac stream does; MP3 files carry a
    LAME/Xing header with the encoder delay and padding, which FFmpeg's decoder honours, so the
    MP3 round trip comes back aligned (0 samples lag).
    """

    def transform(x: np.ndarray, rate: int, rng: np.random.Generator) -> tuple[np.ndarray, int]:
        import av  # here, not at import time: FFmpeg loads only when a codec edit runs

        if len(x) == 0:
            return x.copy(), rate
        codec_rate = _nearest_rate(av.codec.Codec(encoder, "w").audio_rates, rate)
        audio = x if codec_rate == rate else soxr.resample(x, rate, codec_rate, quality="HQ")

        buffer = io.BytesIO()
        with av.open(buffer, "w", format=container) as out:
            stream = out.add_stream(encoder, rate=codec_rate, layout="mono")
            stream.bit_rate = bit_rate
            frame = av.AudioFrame.from_ndarray(
                np.ascontiguousarray(audio, np.float32)[None, :], format="flt", layout="mono"
            )
            frame.sample_rate = codec_rate
            for packet in stream.encode(frame):
                out.mux(packet)
            for packet in stream.encode(None):
                out.mux(packet)

        chunks, decoded_rate = [], codec_rate
        to_float_mono = av.AudioResampler(format="flt", layout="mono")
        with av.open(io.BytesIO(buffer.getvalue()), "r") as inp:
            for decoded in inp.decode(audio=0):
                decoded_rate = decoded.sample_rate
                chunks.extend(f.to_ndarray().reshape(-1) for f in to_float_mono.resample(decoded))
        chunks.extend(f.to_ndarray().reshape(-1) for f in to_float_mono.resample(None))
        y = np.concatenate(chunks) if chunks else np.zeros(0, np.float32)
        if decoded_rate != rate:
            y = soxr.resample(y, decoded_rate, rate, quality="HQ")
        return _fit(y.astype(np.float32), len(x)), rate

    return transform


def _identity(x: np.ndarray, rate: int, rng: np.random.Generator) -> tuple[np.ndarray, int]:
    """No edit: the baseline row of AudioSeal's table."""
    return x.copy(), rate


AUDIOSEAL_EDITS: tuple[Edit, ...] = (
    Edit("identity", "no edit", _identity),
    Edit("bandpass", "Butterworth bandpass 500-5000 Hz", _butterworth("bandpass", (500.0, 5000.0))),
    Edit("highpass", "Butterworth highpass 1500 Hz", _butterworth("highpass", 1500.0)),
    Edit("lowpass", "Butterworth lowpass 500 Hz", _butterworth("lowpass", 500.0)),
    Edit("speed", "speed x1.25 by resampling (pitch rises, duration / 1.25)", _speed_by(SPEED)),
    Edit("resample", "resample to 32 kHz and back", _resample_via(32000)),
    Edit("boost", "gain x10, clipped to [-1, 1]", _gain(10.0)),
    Edit("duck", "gain x0.1", _gain(0.1)),
    Edit("echo", "copy 0.5 s later at volume 0.5 added", _echo),
    Edit("pink_noise", "pink noise, std 0.1", _noise("pink", PINK_SIGMA)),
    Edit("white_noise", "white Gaussian noise, std 0.05", _noise("white", WHITE_SIGMA)),
    Edit("smooth", "moving average, 40 samples at 16 kHz", _smooth),
    Edit("aac_64k", "AAC 64 kbps (FFmpeg aac, ADTS)", _codec_round_trip("aac", "adts", 64_000)),
    Edit("mp3_32k", "MP3 32 kbps (LAME)", _codec_round_trip("libmp3lame", "mp3", 32_000)),
)
EXTRA_EDITS: tuple[Edit, ...] = (
    Edit("mp3_128k", "MP3 128 kbps (LAME)", _codec_round_trip("libmp3lame", "mp3", 128_000)),
    Edit("crop_3s", "random 3 s excerpt", _crop),
)
INVARIANCE_EDITS: tuple[Edit, ...] = (
    Edit("pitch_up_1", "pitch +1 semitone, tempo kept (SoX pitch 100)", _sox("pitch", "100")),
    Edit("pitch_down_1", "pitch -1 semitone, tempo kept (SoX pitch -100)", _sox("pitch", "-100")),
    Edit("pitch_up_3", "pitch +3 semitones, tempo kept (SoX pitch 300)", _sox("pitch", "300")),
    Edit("pitch_down_3", "pitch -3 semitones, tempo kept (SoX pitch -300)", _sox("pitch", "-300")),
    Edit("tempo_0.85", "tempo x0.85, pitch kept (SoX tempo, WSOLA)", _sox("tempo", "0.85", keep_length=False)),
    Edit("tempo_1.15", "tempo x1.15, pitch kept (SoX tempo, WSOLA)", _sox("tempo", "1.15", keep_length=False)),
    Edit("speed_0.9", "speed x0.9 by resampling (pitch falls, duration / 0.9)", _speed_by(0.9)),
    Edit("speed_1.15", "speed x1.15 by resampling (pitch rises, duration / 1.15)", _speed_by(1.15)),
    Edit("reverb", "SoX reverb 50 % in a 100 % room", _sox(*REVERB)),
    Edit("music_0db", "generated music mixed in at 0 dB SNR", _mix(_music, 0.0)),
)
ALL_EDITS: tuple[Edit, ...] = AUDIOSEAL_EDITS + EXTRA_EDITS + INVARIANCE_EDITS


def by_name(name: str) -> Edit:
    """The edit called `name`; raises KeyError listing the known names."""
    for edit in ALL_EDITS:
        if edit.name == name:
            return edit
    raise KeyError(f"unknown edit {name!r}; known: {', '.join(e.name for e in ALL_EDITS)}")
