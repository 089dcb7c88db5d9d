"""Read any audio we write (and most others) into float32 mono samples, or say clearly why not.

soundfile (libsndfile) reads wav, flac, ogg (Vorbis, Opus) and more; MP3 and what libsndfile cannot
read (AAC in ADTS or in MP4/M4A/M4B, WebM) is decoded by FFmpeg through PyAV, limited to the
demuxers in PYAV_DEMUXERS: these bytes may be an upload, and some of FFmpeg's demuxers (hls,
concat) open other files or URLs that an input names. MP3 goes to FFmpeg first because libsndfile's
mpg123 prints "part2_3_length too large" on stderr for frames LAME writes in loud passages (and
decodes them to the same samples FFmpeg does, which prints nothing).
"""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import soundfile as sf

from detection.errors import AudioTooLong, UnreadableAudio


# FFmpeg demuxer names: ADTS AAC, MP4/M4A/M4B (FFmpeg's "mov"), Ogg, Matroska/WebM.
PYAV_DEMUXERS = "aac,mov,ogg,matroska,mp3"
MAX_DECODED_S = 900.0  # seconds of audio an uploaded file (detect, audit) may decode to
_BLOCK = 65536  # frames soundfile reads at a time, so a lying header cannot make one huge read


def decode_bytes(data: bytes, max_seconds: float | None = None) -> tuple[np.ndarray, int]:
    """Encoded audio (wav, flac, ogg, opus, mp3, aac, m4a, m4b, ...) -> (float32 mono samples in
    [-1, 1], sample rate in Hz). The rate is the file's own; nothing is resampled.

    Multi-channel audio is averaged to mono. An empty or undecodable input raises UnreadableAudio.
    Encoder delay is removed where the file records it (MP4 edit lists, Opus pre-skip, MP3 LAME
    headers); a bare ADTS .aac stream cannot record it, so its audio starts 1024 samples late.

    max_seconds: refuse (AudioTooLong) audio longer than this, from the header where it says so
    and otherwise as soon as decoding passes it, so a small file of hours of silence never
    becomes gigabytes of samples.
    """
    if not data:
        raise UnreadableAudio("the file is empty (0 bytes)")
    if _looks_like_mp3(data):
        try:
            return _decode_with_pyav(data, max_seconds)
        except UnreadableAudio:
            pass  # not MP3 after all: the general path says why
    try:
        return _decode_with_soundfile(data, max_seconds)
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError) as soundfile_error:
        try:
            return _decode_with_pyav(data, max_seconds)
        except UnreadableAudio as e:
            soundfile_says = getattr(soundfile_error, "error_string", None) or soundfile_error
            raise UnreadableAudio(f"not a readable audio file (soundfile: {soundfile_says}; FFmpeg: {e})") from e


def _looks_like_mp3(data: bytes) -> bool:
    """An ID3 tag, or an MPEG audio layer III frame header (sync, layer bits 01)."""
    return data[:3] == b"ID3" or (len(data) > 1 and data[0] == 0xFF and data[1] & 0xE6 == 0xE2)


def _decode_with_soundfile(data: bytes, max_seconds: float | None) -> tuple[np.ndarray, int]:
    with sf.SoundFile(io.BytesIO(data)) as f:
        rate = int(f.samplerate)
        limit = None if max_seconds is None else round(max_seconds * rate)
        if limit is not None and 0 < f.frames < 2**62 and f.frames > limit:
            _too_long(f.frames / rate, max_seconds)
        blocks, total = [], 0
        for block in f.blocks(blocksize=_BLOCK, dtype="float32", always_2d=True):
            blocks.append(block.mean(axis=1).astype(np.float32))
            total += len(block)
            if limit is not None and total > limit:
                _too_long(total / rate, max_seconds)
    if not blocks:
        return np.zeros(0, np.float32), rate
    return np.concatenate(blocks), rate


def _too_long(seconds: float, max_seconds: float | None) -> None:
    raise AudioTooLong(f"the audio lasts over {seconds:.0f} s; at most {max_seconds:.0f} s is decoded here")


def _decode_with_pyav(data: bytes, max_seconds: float | None = None) -> tuple[np.ndarray, int]:
    """The first audio stream of `data`, decoded by FFmpeg, as float32 mono at its own rate."""
    import av  # here, not at import time: FFmpeg loads only for what soundfile cannot read

    chunks: list[np.ndarray] = []
    rate, total = 0, 0
    to_float = av.AudioResampler(format="fltp")  # sample format only: the layout and rate stay
    try:
        with av.open(io.BytesIO(data), "r", options={"format_whitelist": PYAV_DEMUXERS}) as container:
            if not container.streams.audio:
                raise UnreadableAudio(f"no audio stream in this {container.format.name} file")
            if max_seconds is not None and container.duration is not None \
                    and container.duration / av.time_base > max_seconds:
                _too_long(container.duration / av.time_base, max_seconds)
            for frame in container.decode(container.streams.audio[0]):
                rate = rate or frame.sample_rate
                if frame.format.name == "fltp":  # most decoders' own format: no conversion needed
                    planes = frame.to_ndarray()
                    chunks.append(planes[0] if len(planes) == 1 else planes.mean(axis=0))
                else:
                    chunks.extend(f.to_ndarray().mean(axis=0) for f in to_float.resample(frame))
                total += frame.samples
                if max_seconds is not None and total > max_seconds * rate:
                    _too_long(total / rate, max_seconds)
            chunks.extend(f.to_ndarray().mean(axis=0) for f in to_float.resample(None))
    except (av.FFmpegError, ValueError) as e:
        raise UnreadableAudio(getattr(e, "strerror", None) or str(e)) from e
    if not chunks:
        raise UnreadableAudio("the audio stream holds no samples")
    return np.concatenate(chunks).astype(np.float32), rate


def decode_file(path: Path | str, max_seconds: float | None = None) -> tuple[np.ndarray, int]:
    _, samples, rate = read_audio_file(path, max_seconds)
    return samples, rate


def read_audio_file(path: Path | str, max_seconds: float | None = None) -> tuple[bytes, np.ndarray, int]:
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
        return (data, *decode_bytes(data, max_seconds))
    except AudioTooLong as e:
        raise AudioTooLong(f"{path.name}: {e}") from e
    except UnreadableAudio as e:
        raise UnreadableAudio(f"{path}: {e}") from e
