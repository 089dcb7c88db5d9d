"""Exceptions of the detection package; the CLI and HTTP layers map them to exit and status codes."""


class DetectionError(Exception):
    """Base class for everything the detection package refuses."""


class UnreadableAudio(DetectionError):
    """The bytes or file could not be decoded as audio (missing, corrupt, not audio)."""


class PayloadTooLarge(DetectionError):
    """A payload does not fit the watermark's capacity."""


class WindowTooWide(DetectionError):
    """An auditor's time window holds more outputs than one detection matches against."""


class GateRefused(DetectionError):
    """The release gate did not find the expected mark in the final encoded audio."""


class WatermarkModelMissing(DetectionError):
    """A watermark model's checkpoint file is not where it was said to be (or nowhere was said)."""


class WatermarkModelInvalid(DetectionError):
    """A watermark model's checkpoint file exists but is not the model it should be (corrupt, wrong model)."""
