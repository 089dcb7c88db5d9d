"""Exceptions of the toolkit, under the project's root (consent.errors.VoicekitError); each says
its CLI exit code and HTTP status there."""
from consent.errors import EXIT_ENGINE, BadInput, TooLong, VoicekitError

__all__ = ["VoicekitError", "BadInput", "TooLong", "EmptyText", "UnsupportedFormat", "OutputPathError",
           "EngineUnavailable", "BookError", "IncompatibleChapters", "AssemblyFailed", "ScoreError", "OutOfRange", "SongError"]


class EmptyText(BadInput):
    problem = "empty-text"


class UnsupportedFormat(BadInput):
    problem = "unsupported-format"


class OutputPathError(BadInput):
    problem = "output-path"


class EngineUnavailable(VoicekitError):
    """An engine's model files are missing; the message names what to install or download."""

    exit_code, http_status, problem, cli_prefix = EXIT_ENGINE, 503, "engine-unavailable", "engine: "


class BookError(BadInput):
    """An uploaded book cannot be read into chapters (wrong encoding, not an EPUB, over a limit, no text)."""

    problem = "invalid-book"


class IncompatibleChapters(BadInput, ValueError):
    """Audiobook chapters that cannot be joined without re-encoding (not AAC in MP4, or differing
    codec, rate or channels); a ValueError too, since the caller passed bad values."""

    problem = "incompatible-chapters"


class AssemblyFailed(VoicekitError):
    """A finished book could not be put together from its checked chapters (a muxer fault)."""

    problem = "assembly-failed"


class ScoreError(BadInput):
    """A score that cannot be sung as written: unparseable, no lyrics, overlapping notes in one
    voice, a part or verse it does not have. The message names the part and measure."""

    problem = "invalid-score"


class OutOfRange(ScoreError):
    """Notes outside the voice's singable range after transposition; the message says which
    notes and by how many semitones."""

    problem = "score-out-of-range"


class SongError(BadInput):
    """A song that cannot be made as asked: a lyrics file without sections or words, an unknown
    section, style, key or chord, a line too long to sing. Raised before any rendering."""

    problem = "invalid-song"
