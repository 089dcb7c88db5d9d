"""Exceptions of the detection package, under the project's root (consent.errors.VoicekitError);
each says its CLI exit code and HTTP status there."""
from consent.errors import EXIT_BAD_INPUT, EXIT_ERROR, EXIT_GATE, EXIT_LEDGER, BadInput, TooLong, VoicekitError


class DetectionError(VoicekitError):
    """Base class for everything the detection package refuses."""


class UnreadableAudio(DetectionError, BadInput):
    """The bytes or file could not be decoded as audio (missing, corrupt, not audio)."""

    problem = "unreadable-audio"


class AudioTooLong(DetectionError, TooLong):
    """An uploaded recording decodes to more audio than the operation takes (detect, enrollment)."""

    problem = "audio-too-long"


class PayloadTooLarge(DetectionError, BadInput):
    """A payload does not fit the watermark's capacity."""

    problem = "payload-too-large"


class WindowTooWide(DetectionError, BadInput):
    """An auditor's time window holds more outputs than one detection matches against."""

    problem = "window-too-wide"


class GateRefused(DetectionError):
    """The release gate did not find the expected mark in the final encoded audio. What it refuses
    in practice is audio too short or quiet to carry a verifiable mark (a lone symbol or syllable)
    after every retry: the request's content, so 422."""

    exit_code, http_status, problem, cli_prefix = EXIT_GATE, 422, "gate-refused", "release gate refused the audio: "


class WatermarkModelMissing(DetectionError):
    """A watermark model's checkpoint file is not where it was said to be (or nowhere was said)."""

    exit_code, problem = EXIT_BAD_INPUT, "watermark-model-missing"


class WatermarkModelInvalid(DetectionError):
    """A watermark model's checkpoint file exists but is not the model it should be (corrupt, wrong model)."""

    exit_code, problem = EXIT_BAD_INPUT, "watermark-model-invalid"


class ReportInvalid(DetectionError, BadInput):
    """A file given as an audit report is not one (not JSON, or its fields are missing)."""

    problem = "report-invalid"


class ReportTampered(DetectionError):
    """An audit report's signature does not verify: a byte of it changed after signing, or it was
    not signed by the key the reader demanded. The same exit code as a broken ledger: the record
    an auditor relies on is not what was signed."""

    exit_code, http_status, problem, cli_prefix = EXIT_LEDGER, 422, "report-tampered", "report does not verify: "


class PassiveModelMissing(DetectionError):
    """The passive detector's model file is missing or unreadable (it ships with the package;
    `python bench/train_passive.py` makes it again)."""

    exit_code, problem = EXIT_BAD_INPUT, "passive-model-missing"


class CredentialsError(DetectionError):
    """The installation's C2PA signing chain cannot be opened (wrong passphrase, damaged key) or
    c2pa refused to sign a manifest: nothing is released without its Content Credentials."""

    exit_code, http_status, problem, cli_prefix = EXIT_ERROR, 500, "c2pa-credentials", "C2PA: "
