"""Read any audio we write (and most others) into float32 mono samples, or say clearly why not."""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import soundfile as sf

from detection.errors import UnreadableAudio


def decode_bytes(data: bytes) -> tuple[np.ndarray, int]:
    """Encoded audio (wav, flac, ogg, mp3, ...) -> (float32 mono samples in [-1, 1], sample rate in Hz).

    Multi-channel audio is averaged to mono. An empty or undecodable input raises UnreadableAudio.
    """
    if not data:
        raise UnreadableAudio("the file is empty (0 bytes)")
    try:
        samples, rate = sf.read(io.BytesIO(data), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError) as e:
        raise UnreadableAudio(f"not a readable audio file ({e})") from e
    return samples.mean(axis=1).astype(np.float32), int(rate)


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
