"""Exceptions of the toolkit; the CLI and HTTP layers map them to exit and status codes."""


class VoicekitError(Exception):
    """Base class for refusals of bad input by the toolkit."""


class BadInput(VoicekitError):
    """The request itself is wrong (empty text, bad format, bad path, bad rate)."""


class EmptyText(BadInput):
    pass


class UnsupportedFormat(BadInput):
    pass


class OutputPathError(BadInput):
    pass


class EngineUnavailable(VoicekitError):
    """An engine's model files are missing; the message names what to install or download."""


class BookError(BadInput):
    """An uploaded book cannot be read into chapters (wrong encoding, not an EPUB, over a limit, no text)."""


class IncompatibleChapters(BadInput, ValueError):
    """Audiobook chapters that cannot be joined without re-encoding (not AAC in MP4, or differing
    codec, rate or channels); a ValueError too, since the caller passed bad values."""
