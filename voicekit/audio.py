"""Audio values and their files: float32 samples (mono (n,); a song's stereo (n, 2)) plus a rate; encoding by soundfile (wav, flac,
ogg) or PyAV (mp3, opus, aac, m4a: voicekit.codecs); resampling by soxr."""
from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from consent.atomic import atomic_write
from voicekit import codecs
from voicekit.errors import OutputPathError, UnsupportedFormat

# extension -> (soundfile format, subtype, extra write options); PyAV's formats are codecs.CODECS
FORMATS: dict[str, tuple[str, str, dict]] = {
    "wav": ("WAV", "PCM_16", {}),
    "flac": ("FLAC", "PCM_16", {}),
    "ogg": ("OGG", "VORBIS", {"compression_level": 0.2}),
}
OUTPUT_FORMATS: tuple[str, ...] = (*FORMATS, *codecs.CODECS)
MIN_RATE, MAX_RATE = 8000, 48000


def format_for(path: Path | str) -> str:
    """The output format named by a path's extension; raises UnsupportedFormat."""
    ext = Path(path).suffix.lower().lstrip(".")
    if ext not in OUTPUT_FORMATS:
        raise UnsupportedFormat(
            f"unsupported output extension {Path(path).suffix or '(none)'!r}; use one of: "
            + ", ".join("." + f for f in OUTPUT_FORMATS)
        )
    return ext


def check_format(fmt: str) -> str:
    """`fmt` itself if it is an output format we write; raises UnsupportedFormat."""
    if fmt not in OUTPUT_FORMATS:
        raise UnsupportedFormat(f"unsupported format {fmt!r}; use one of: {', '.join(OUTPUT_FORMATS)}")
    return fmt


def encode(samples: np.ndarray, sample_rate: int, fmt: str) -> bytes:
    """float32 samples in [-1, 1], mono (n,) or stereo (n, 2) -> the bytes of a file in `fmt` (one of
    OUTPUT_FORMATS).

    Opus and AAC files hold `sample_rate` audio only where the codec takes that rate (Opus: 8, 12,
    16, 24 or 48 kHz); otherwise they are resampled first (codecs.codec_rate), and decode at the new
    rate. Encoder delay and padding: see codecs.encode."""
    if check_format(fmt) in codecs.CODECS:
        return codecs.encode(samples, sample_rate, fmt)
    major, subtype, options = FORMATS[fmt]
    buf = io.BytesIO()
    sf.write(buf, np.asarray(samples, np.float32), sample_rate, format=major, subtype=subtype, **options)
    return buf.getvalue()


def resample(samples: np.ndarray, from_rate: int, to_rate: int) -> np.ndarray:
    if from_rate == to_rate:
        return np.asarray(samples, np.float32)
    return soxr.resample(np.asarray(samples, np.float32), from_rate, to_rate, quality="HQ").astype(np.float32)


def frame_levels_db(samples: np.ndarray, sample_rate: int, frame_s: float = 0.01) -> np.ndarray:
    """RMS level in dBFS of each whole `frame_s` frame (a trailing partial frame is left out)."""
    frame = max(1, int(frame_s * sample_rate))
    count = len(samples) // frame
    frames = np.asarray(samples[: count * frame], np.float64).reshape(count, frame)
    return 20 * np.log10(np.sqrt(np.mean(frames**2, axis=1)) + 1e-9)


def check_output_path(path: Path | str) -> Path:
    """Fail before any work if `path` cannot be written: its folder must exist and be writable."""
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise OutputPathError(f"cannot write {path}: folder {folder} does not exist")
    if path.is_dir():
        raise OutputPathError(f"cannot write {path}: it is a folder")
    if not os.access(folder, os.W_OK):
        raise OutputPathError(f"cannot write {path}: folder {folder} is not writable")
    return path


def write_file(path: Path | str, data: bytes) -> None:
    """Atomically write encoded audio; raises OutputPathError with the reason."""
    path = check_output_path(path)
    try:
        atomic_write(path, data, mode=0o644)
    except OSError as e:
        raise OutputPathError(f"cannot write {path}: {e.strerror or e}") from e


def wav_samples(wav: bytes) -> bytes:
    """The 16-bit samples of a 16-bit WAV file, exactly as stored (raw PCM, little-endian): what the
    gate checked as WAV, released without its header."""
    samples, _ = sf.read(io.BytesIO(wav), dtype="int16", always_2d=False)
    return np.ascontiguousarray(samples, "<i2").tobytes()
