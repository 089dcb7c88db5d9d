"""Reading uploaded files within a size limit, into a private temporary folder when the studio needs paths."""
from __future__ import annotations

from pathlib import Path

from fastapi import UploadFile

from api.problems import Problem


async def read_limited(upload: UploadFile, limit: int, what: str) -> bytes:
    """The upload's bytes; Problem 413 past `limit`, 400 when empty."""
    data = await upload.read(limit + 1)
    if len(data) > limit:
        raise Problem(413, "upload-too-large", f"the {what} is over the {limit}-byte limit")
    if not data:
        raise Problem(400, "empty-upload", f"the {what} is empty")
    return data


def saved(folder: Path, name: str, upload: UploadFile, data: bytes) -> Path:
    """Write `data` under `folder` with the upload's extension (the decoder reads the content; the
    name only appears in messages)."""
    path = folder / f"{name}{safe_suffix(upload.filename)}"
    path.write_bytes(data)
    return path


def safe_suffix(filename: str | None) -> str:
    """The upload name's extension, lower-cased, when it is short ASCII (else none): a stored copy
    keeps it, never anything else of a name the caller chose."""
    suffix = Path(filename or "").suffix.lower()
    return suffix if suffix.isascii() and len(suffix) <= 6 else ""
