"""Read any audio we write (and most others) into float32 mono samples, or say clearly why not.

soundfile (libsndfile) reads wav, flac, ogg (Vorbis, Opus), mp3 and more; what it cannot read
(AAC in ADTS or in MP4/M4A/M4B, WebM) is decoded by FFmpeg through PyAV, limited to the demuxers in
PYAV_DEMUXERS: these bytes may be an upload, and some of FFmpeg's demuxers (hls, concat) open
other files or URLs that an input names.
"""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import soundfile as sf

from detection.errors import UnreadableAudio


# FFmpeg demuxer names: ADTS AAC, MP4/M4A/M4B (FFmpeg's "mov"), Ogg, Matroska/WebM.
PYAV_DEMUXERS = "aac,mov,ogg,matroska"


def decode_bytes(data: bytes) -> tuple[np.ndarray, int]:
    """Encoded audio (wav, flac, ogg, opus, mp3, aac, m4a, m4b, ...) -> (float32 mono samples in
    [-1, 1], sample rate in Hz). The rate is the file's own; nothing is resampled.

    Multi-channel audio is averaged to mono. An empty or undecodable input raises UnreadableAudio.
    Encoder delay is removed where the file records it (MP4 edit lists, Opus pre-skip, MP3 LAME
    headers); a bare ADTS .aac stream cannot record it, so its audio starts 1024 samples late.
    """
    if not data:
        raise UnreadableAudio("the file is empty (0 bytes)")
    try:
        samples, rate = sf.read(io.BytesIO(data), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError) as soundfile_error:
        try:
            return _decode_with_pyav(data)
        except UnreadableAudio as e:
            soundfile_says = getattr(soundfile_error, "error_string", None) or soundfile_error
            raise UnreadableAudio(f"not a readable audio file (soundfile: {soundfile_says}; FFmpeg: {e})") from e
    return samples.mean(axis=1).astype(np.float32), int(rate)


def _decode_with_pyav(data: bytes) -> tuple[np.ndarray, int]:
    """The first audio stream of `data`, decoded by FFmpeg, as float32 mono at its own rate."""
    import av  # here, not at import time: FFmpeg loads only for what soundfile cannot read

    chunks: list[np.ndarray] = []
    rate = 0
    to_float = av.AudioResampler(format="fltp")  # sample format only: the layout and rate stay
    try:
        with av.open(io.BytesIO(data), "r", options={"format_whitelist": PYAV_DEMUXERS}) as container:
            if not container.streams.audio:
                raise UnreadableAudio(f"no audio stream in this {container.format.name} file")
            for frame in container.decode(container.streams.audio[0]):
                rate = rate or frame.sample_rate
                chunks.extend(f.to_ndarray().mean(axis=0) for f in to_float.resample(frame))
            chunks.extend(f.to_ndarray().mean(axis=0) for f in to_float.resample(None))
    except (av.FFmpegError, ValueError) as e:
        raise UnreadableAudio(getattr(e, "strerror", None) or str(e)) from e
    if not chunks:
        raise UnreadableAudio("the audio stream holds no samples")
    return np.concatenate(chunks).astype(np.float32), rate


def decode_file(path: Path | str) -> tuple[np.ndarray, int]:
    _, samples, rate = read_audio_file(path)
    return samples, rate


def read_audio_file(path: Path | str) -> tuple[bytes, np.ndarray, int]:
    """The file's bytes (for hashing) and its decoded samples and rate, from one read."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError as e:
        raise UnreadableAudio(f"{path}: no such file") from e
    except IsADirectoryError as e:
        raise UnreadableAudio(f"{path}: is a folder, not an audio file") from e
    except OSError as e:
        raise UnreadableAudio(f"{path}: cannot be read ({e.strerror})") from e
    try:
        return (data, *decode_bytes(data))
    except UnreadableAudio as e:
        raise UnreadableAudio(f"{path}: {e}") from e
